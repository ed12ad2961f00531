package web

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/pathparam"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/workers"
)

// Bounds on what a servlet request may hold in memory besides the document.
const (
	// memoryThreshold is the size up to which a multipart document stays in
	// memory; larger ones are spooled to a temporary file (SignServer's
	// FILE_SIZE_THRESHOLD default).
	memoryThreshold = 1 << 20
	// maxFieldSize bounds a multipart text field other than the document.
	maxFieldSize = 64 << 10
	// maxParts bounds the number of multipart parts.
	maxParts = 128
)

// Form field names of SignServer's GenericProcessServlet.
const (
	fieldWorkerName  = "workerName"
	fieldWorkerID    = "workerId"
	fieldData        = "data"
	fieldEncoding    = "encoding"
	fieldProcessType = "processType"
)

// document is the document of a servlet request.
type document struct {
	r        io.Reader
	size     int64  // -1 when unknown
	filename string // the uploaded file's name, without a path
	cleanup  func() // removes a spool file
	decode   *decodeReader
	ctype    string // the media type of a whole HTTP body; "" for a form's
}

func (d *document) close() {
	if d != nil && d.cleanup != nil {
		d.cleanup()
	}
}

// processServlet serves /signserver/process (GET and POST), SignServer's
// GenericProcessServlet: form fields from an x-www-form-urlencoded body or
// the query string, a multipart/form-data upload, or, for any other content
// type, the body as the document with the fields in the query string.
func (s *Server) processServlet(c echo.Context) error {
	return s.servlet(c, "")
}

// workerServlet serves /signserver/worker/{name}: the same servlet with the
// worker named by the path. A multipart/form-data body is read as a form;
// any other body, x-www-form-urlencoded included (what curl --data-binary
// sends by default), is the document itself, streamed to the worker
// without buffering, with request metadata in REQUEST_METADATA.<KEY> query
// parameters. A GET takes the document from the data query parameter.
func (s *Server) workerServlet(c echo.Context) error {
	name := workerParam(c, "name")
	if name == "" {
		return badRequest("Name the worker in the path: /signserver/worker/NAME.")
	}
	return s.servlet(c, name)
}

// workerParam is the worker name or ID in the path parameter param, read
// as every surface reads a name in the path (internal/pathparam).
func workerParam(c echo.Context, param string) string {
	return pathparam.Decode(c.Request(), c.Param(param))
}

func (s *Server) servlet(c echo.Context, worker string) error {
	r := c.Request()
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("The query string is malformed: percent-encode field names and values.")
	}
	if r.Method == http.MethodGet {
		return s.serveForm(c, worker, query, nil)
	}
	header := r.Header.Get(echo.HeaderContentType)
	ct, _, err := mime.ParseMediaType(header)
	if err != nil {
		ct = ""
	}
	switch {
	case ct == "multipart/form-data":
		values, doc, err := s.readMultipart(r)
		if err != nil {
			return err
		}
		defer doc.close()
		for k, v := range query { // fields in the body win
			if _, ok := values[k]; !ok {
				values[k] = v
			}
		}
		return s.serveForm(c, worker, values, doc)
	case ct == "application/x-www-form-urlencoded" && worker == "":
		if err := r.ParseForm(); err != nil {
			return formError(err)
		}
		return s.serveForm(c, worker, r.Form, nil)
	}
	if worker == "" && query.Get(fieldWorkerName) == "" && query.Get(fieldWorkerID) == "" {
		return unsupportedMedia("The process servlet reads application/x-www-form-urlencoded or multipart/form-data forms, not %s; to send the body itself as the document, name the worker with workerName or workerId in the query string.", bodyType(header, ct))
	}
	return s.serveForm(c, worker, query, &document{r: r.Body, size: r.ContentLength, ctype: bodyType(header, ct)})
}

// bodyType is the media type of a request body sent as the document, from
// its Content-Type header and the media type ct parsed from it ("" when it
// does not parse), so that the header is parsed once a request: ct, or
// application/octet-stream when no type is named (RFC 9110 section 8.3).
// A header that does not parse is kept as sent, so that a worker whose
// protocol names a type refuses it.
func bodyType(header, ct string) string {
	switch {
	case header == "":
		return echo.MIMEOctetStream
	case ct != "":
		return ct
	}
	return header
}

// serveForm runs a servlet request whose fields are in values and whose
// document is doc, or the data field when doc is nil. A non-empty worker
// (from the path) overrides workerName and workerId.
func (s *Server) serveForm(c echo.Context, worker string, values url.Values, doc *document) error {
	get := func(k string) string {
		if v := values[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch pt := get(fieldProcessType); pt {
	case "", "signDocument":
	case "validateDocument", "validateCertificate":
		return badRequest("processType %s is not supported: Signet signs; use signDocument.", clienttext.Quote(pt))
	default:
		return badRequest("processType %s is unknown: use signDocument.", clienttext.Quote(pt))
	}

	var md metadata
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if isMetadataField(k) && len(values[k]) > 0 {
			if err := md.add(k, values[k][0]); err != nil {
				return err
			}
		}
	}

	if worker == "" {
		if id := get(fieldWorkerID); id != "" {
			// A number too large for an int is a number all the same: no
			// worker has it (404), rather than "not a number".
			if _, err := strconv.Atoi(id); err != nil && strings.Trim(id, "0123456789") != "" {
				return badRequest("workerId %s is not a number: give the worker's numeric ID, or its name in workerName.", clienttext.Quote(id))
			}
			worker = id
		} else {
			worker = get(fieldWorkerName)
		}
		if worker == "" {
			return badRequest("Name the worker with the workerName or workerId field.")
		}
	}

	enc := get(fieldEncoding)
	b64 := false
	switch strings.ToLower(enc) {
	case "", "none":
	case "base64":
		b64 = true
	default:
		return badRequest("encoding %s is not supported: use base64 or leave it out.", clienttext.Quote(enc))
	}

	if doc == nil {
		d, ok := values[fieldData]
		if !ok || len(d) == 0 {
			return badRequest("Send the document in the data field or as a file.")
		}
		raw := []byte(d[0])
		if b64 {
			var err error
			if raw, err = decodeBase64Field(d[0]); err != nil {
				return badRequest("The data field is not valid base64 (encoding=base64): send standard base64, percent-encoded in a form.")
			}
		}
		doc = &document{r: bytes.NewReader(raw), size: int64(len(raw))}
	} else if b64 {
		src := &sourceReader{r: doc.r}
		doc.decode = &decodeReader{r: base64.NewDecoder(base64.StdEncoding, src), src: src}
		doc.r, doc.size = doc.decode, -1
		doc.ctype = "" // base64 text: the type of what it encodes is not named
	}

	resp, err := s.process(c, worker, doc.r, doc.size, doc.ctype, md.result())
	if err != nil {
		if doc.decode != nil && doc.decode.err != nil {
			return badRequest("The document is not valid base64 (encoding=base64): send standard base64, or leave encoding out.")
		}
		return err
	}
	h := c.Response().Header()
	if doc.filename != "" {
		// As SignServer: the response is offered under the upload's name.
		if cd := mime.FormatMediaType("attachment", map[string]string{"filename": doc.filename}); cd != "" {
			h.Set(echo.HeaderContentDisposition, cd)
		}
	}
	ct := resp.ContentType
	if ct == "" {
		ct = echo.MIMEOctetStream
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(resp.Data)))
	return c.Blob(http.StatusOK, ct, resp.Data)
}

// process runs one request through a worker of the current set and records
// the worker and item count for the log line and metrics.
func (s *Server) process(c echo.Context, idOrName string, data io.Reader, size int64, ctype string, meta map[string]string) (*workers.Response, error) {
	info := infoOf(c)
	w, err := s.setOf(c).Lookup(idOrName) // one Set for the whole request
	if err != nil {
		return nil, err
	}
	info.worker = w.Name()
	queue, ok := s.queues.enter(w.Name(), s.limits.MaxWorkerQueue)
	if !ok {
		return nil, s.busy("Worker %s is serving its limit of %d requests at once: retry after %s.", w.Name(), s.limits.MaxWorkerQueue, s.limits.RetryAfter)
	}
	p := s.placesOf(c)
	p.hold(placeQueue, queue)
	defer p.leave(placeQueue)
	ctx := c.Request().Context()
	caller := tokens.Caller{Client: c.RealIP(), RequestID: info.id}
	if s.authz != nil {
		// A worker that does not say how its clients are authorized is
		// refused (the zero Access is no AUTHTYPE), not served to
		// everyone: validators said nothing and were open whatever
		// their AUTHTYPE.
		var acc config.Access
		if aw, ok := w.(workers.Authorized); ok {
			acc = aw.Access()
		}
		who, err := s.authz.Authorize(c.Request(), caller.Client, w.Name(), acc)
		if err != nil {
			if s.onRefusal != nil {
				s.onRefusal(c, "worker/"+w.Name(), err)
			}
			return nil, err
		}
		caller.User = who
		info.user = who
	}
	resp, err := w.Process(tokens.WithCaller(ctx, caller), &workers.Request{Data: data, Size: size, Metadata: meta, ID: info.id, MemoryLimit: s.limits.MaxRequestMemory, ContentType: ctype})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, fmt.Errorf("worker %s returned neither a response nor an error", w.Name())
	}
	info.items = resp.Items
	return resp, nil
}

// readMultipart reads a multipart/form-data body part by part. Text fields
// are kept in memory (bounded); the document, a file part or the data
// field, is kept in memory up to memoryThreshold and otherwise spooled to a
// temporary file, so that fields may come in any order and memory stays
// bounded whatever the upload size.
func (s *Server) readMultipart(r *http.Request) (values url.Values, doc *document, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, badRequest("The multipart/form-data body has no boundary parameter: send a valid multipart form.")
	}
	defer func() {
		if err != nil {
			doc.close()
			doc = nil
		}
	}()
	values = url.Values{}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, doc, formError(err)
		}
		if parts >= maxParts {
			return nil, doc, badRequest("The form has more than %d parts: send fewer fields.", maxParts)
		}
		name := p.FormName()
		if p.FileName() != "" || name == fieldData {
			if doc != nil {
				return nil, doc, badRequest("The form has more than one document (file or data field): send one per request.")
			}
			if doc, err = s.spool(p); err != nil {
				return nil, nil, err
			}
			doc.filename = stripPath(p.FileName())
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldSize+1))
		if err != nil {
			return nil, doc, formError(err)
		}
		if len(v) > maxFieldSize {
			return nil, doc, badRequest("Form field %s is longer than %d bytes: send the document as a file and keep fields short.", clienttext.Quote(name), maxFieldSize)
		}
		if name != "" {
			values.Add(name, string(v))
		}
	}
	return values, doc, nil
}

// spool reads a document part into memory or, past memoryThreshold, into a
// temporary file removed by the document's cleanup.
func (s *Server) spool(p io.Reader) (*document, error) {
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, p, memoryThreshold+1)
	if err != nil && err != io.EOF {
		return nil, formError(err)
	}
	if n <= memoryThreshold {
		return &document{r: bytes.NewReader(buf.Bytes()), size: n}, nil
	}
	f, err := os.CreateTemp(s.tempDir, "signet-upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	cleanup := func() {
		f.Close()
		os.Remove(f.Name())
	}
	m, err := io.Copy(f, io.MultiReader(&buf, p))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		var mbe *http.MaxBytesError
		var pe *os.PathError
		if errors.As(err, &mbe) || !errors.As(err, &pe) {
			return nil, formError(err) // the client's side
		}
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	return &document{r: f, size: m, cleanup: cleanup}, nil
}

// formError maps an error reading a form: over the limit stays a 413, the
// rest is the client's malformed body. A multipart body that ends before
// its closing boundary (empty, cut, or without any boundary line) is told
// so, where it read "(NextPart: EOF)" or "(unexpected EOF)", Go's words.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("The multipart/form-data body ends before its closing boundary: start each part with --BOUNDARY and end the form with --BOUNDARY--, BOUNDARY being the boundary parameter of its Content-Type.")
	}
	return badRequest("The form could not be read (%s): send a valid form.", strings.TrimPrefix(err.Error(), "multipart: "))
}

// stripPath keeps the file name of an upload, without a Windows or Unix
// path, as SignServer does.
func stripPath(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// decodeBase64Field decodes a base64 form field. Line breaks are ignored,
// as by SignServer's decoder. A form turns an unescaped '+' into a space,
// and a space is never base64, so spaces are read back as '+'. Padding is
// optional.
func decodeBase64Field(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ':
			return '+'
		case '\r', '\n', '\t':
			return -1
		}
		return r
	}, s)
	if strings.HasSuffix(s, "=") || len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// decodeReader remembers a base64 decoding error (corrupt input, or a
// truncated last quantum), which a worker may report in its own words.
type decodeReader struct {
	r   io.Reader
	src *sourceReader
	err error
}

func (d *decodeReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && err != d.src.err {
		d.err = err
	}
	return n, err
}

// sourceReader remembers the last error of the reader under a decoder, to
// tell a decoding error from a read error.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil {
		s.err = err
	}
	return n, err
}
