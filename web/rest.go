package web

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/workers"
)

// RESTRequest is the body of SignServer's REST process request,
// POST /signserver/rest/v1/workers/{idOrName}/process.
type RESTRequest struct {
	// Data is the document, as text (encoding NONE) or base64 (BASE64).
	Data *string `json:"data"`
	// Encoding is NONE (the default) or BASE64.
	Encoding string `json:"encoding,omitempty"`
	// MetaData is the request metadata.
	MetaData map[string]string `json:"metaData,omitempty"`
}

// RESTResponse is the body of SignServer's REST process response.
type RESTResponse struct {
	// Data is the result (the signature), base64.
	Data string `json:"data"`
	// RequestID identifies the request in Signet's logs.
	RequestID string `json:"requestId"`
	// ArchiveID identifies the archived result, when the worker archives.
	ArchiveID string `json:"archiveId,omitempty"`
	// SignerCertificate is the signer's certificate, base64 DER.
	SignerCertificate string `json:"signerCertificate,omitempty"`
	// MetaData is the worker's response metadata.
	MetaData map[string]string `json:"metaData"`
}

const restShape = `{"data": "...", "encoding": "NONE" or "BASE64", "metaData": {"KEY": "value"}}`

// rest serves POST /signserver/rest/v1/workers/{idOrName}/process. Its JSON
// body is held in memory, so it is bounded by the request memory bound
// (Limits.MaxRequestMemory), not only by the upload limit; larger documents
// go to the worker servlet, which streams them.
func (s *Server) rest(c echo.Context) error {
	r := c.Request()
	ct, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || ct != echo.MIMEApplicationJSON {
		return unsupportedMedia("The REST API takes application/json, not %q: send a JSON body with Content-Type application/json.", r.Header.Get(echo.HeaderContentType))
	}
	limit := s.limits.MaxRequestMemory
	if r.ContentLength > limit {
		return restTooLarge(limit)
	}
	body := &cappedReader{r: r.Body, left: limit}
	req, err := decodeREST(body)
	if body.over {
		return restTooLarge(limit)
	}
	if err != nil {
		return err
	}
	var raw []byte
	switch strings.ToUpper(req.Encoding) {
	case "", "NONE":
		if !req.exact {
			return badRequest("Field data is not valid UTF-8 text (encoding NONE) and would not be signed as sent: send binary data base64-encoded with encoding BASE64.")
		}
		raw = []byte(*req.Data)
	case "BASE64":
		if raw, err = base64.StdEncoding.DecodeString(*req.Data); err != nil {
			return badRequest("Field data is not valid base64 (encoding BASE64): send standard base64 with padding.")
		}
	default:
		return badRequest("encoding %q is not supported: use NONE or BASE64.", req.Encoding)
	}
	req.Data = nil // let the text go before the worker runs
	meta, err := restMetadata(req.MetaData)
	if err != nil {
		return err
	}
	resp, err := s.process(c, c.Param("idOrName"), bytes.NewReader(raw), int64(len(raw)), "", meta)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, s.restResponse(infoOf(c).id, resp))
}

// restTooLarge is the 413 of a REST body over the request memory bound.
func restTooLarge(limit int64) error {
	return &httpError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("The REST request exceeds the request memory bound of %d bytes (server.maxRequestMemory): send large documents as the body of POST /signserver/worker/NAME, which streams them.", limit)}
}

// cappedReader reads at most left bytes and notes a body that has more.
type cappedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
			return 0, errOverMemory
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

var errOverMemory = errors.New("the request exceeds the request memory bound")

// restResponse encodes a RESTResponse by hand: the signature is
// base64-encoded straight into the response rather than into a string that
// encoding/json would copy again, and the signer certificate's base64 is
// cached, not encoded again for every request.
func (s *Server) restResponse(id string, resp *workers.Response) []byte {
	enc := base64.StdEncoding
	var cert string
	if resp.SignerCertificate != nil {
		cert = s.certs.text(resp.SignerCertificate)
	}
	meta := []byte("{}")
	if len(resp.Metadata) > 0 {
		meta, _ = json.Marshal(resp.Metadata) // a map of strings always marshals
	}
	idJSON, _ := json.Marshal(id)
	b := make([]byte, 0, 64+enc.EncodedLen(len(resp.Data))+len(idJSON)+len(cert)+len(meta))
	b = append(b, `{"data":"`...)
	b = enc.AppendEncode(b, resp.Data)
	b = append(b, `","requestId":`...)
	b = append(b, idJSON...)
	if cert != "" {
		b = append(b, `,"signerCertificate":"`...)
		b = append(b, cert...)
		b = append(b, '"')
	}
	b = append(b, `,"metaData":`...)
	b = append(b, meta...)
	return append(b, "}\n"...)
}

// certText caches the base64 DER of signer certificates. It is bounded:
// after a reload that replaced certificates the old entries go.
type certText struct {
	mu sync.Mutex
	m  map[*x509.Certificate]string
}

func (c *certText) text(cert *x509.Certificate) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[cert]; ok {
		return t
	}
	if c.m == nil || len(c.m) >= 64 {
		c.m = map[*x509.Certificate]string{}
	}
	t := base64.StdEncoding.EncodeToString(cert.Raw)
	c.m[cert] = t
	return t
}

// restWire is RESTRequest as read: metaData values are checked one by one,
// so that an error can name the key whose value is not a string.
type restWire struct {
	Data     *restData                  `json:"data"`
	Encoding string                     `json:"encoding"`
	MetaData map[string]json.RawMessage `json:"metaData"`
}

// restRequest is a decoded RESTRequest and whether its data decoded to
// exactly the text the client wrote.
type restRequest struct {
	RESTRequest
	exact bool
}

// restData is the data field: a JSON string, and whether encoding/json
// kept its text exactly (it replaces invalid UTF-8 and unpaired surrogate
// escapes with U+FFFD, which would change the bytes signed).
type restData struct {
	s     *string
	exact bool
}

func (d *restData) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.s, d.exact = &v, workers.ExactJSONString(b)
	return nil
}

// decodeREST reads one JSON object with only the known fields, each of its
// type, and nothing after it.
func decodeREST(body io.Reader) (*restRequest, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	var req restWire
	if err := dec.Decode(&req); err != nil {
		var (
			mbe *http.MaxBytesError
			te  *json.UnmarshalTypeError
			se  *json.SyntaxError
		)
		switch {
		case errors.As(err, &mbe):
			return nil, err
		case errors.As(err, &te) && te.Field == "":
			return nil, badRequest("The request body is a JSON %s, not an object: send %s.", te.Value, restShape)
		case errors.As(err, &te):
			return nil, badRequest("Field %q has the wrong type (%s): data and encoding are strings, metaData maps names to strings.", te.Field, te.Value)
		case errors.Is(err, io.EOF):
			return nil, badRequest("The request body is empty: send %s.", restShape)
		case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, badRequest("The request body is not valid JSON: send %s.", restShape)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			// encoding/json has no error type for unknown fields.
			return nil, badRequest("The request has an unknown field %s: use data, encoding and metaData.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return nil, badRequest("The request body is not valid JSON: send %s.", restShape)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("The request body has more after the JSON object: send one object.")
	}
	if req.Data == nil || req.Data.s == nil {
		return nil, badRequest("The request has no data field: send the document in data.")
	}
	out := &restRequest{RESTRequest: RESTRequest{Data: req.Data.s, Encoding: req.Encoding}, exact: req.Data.exact}
	if req.MetaData != nil {
		out.MetaData = make(map[string]string, len(req.MetaData))
	}
	for _, k := range slices.Sorted(maps.Keys(req.MetaData)) {
		var v string
		raw := req.MetaData[k]
		if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
			return nil, badRequest("metaData value of %q has the wrong type: send every metadata value as a JSON string.", k)
		}
		out.MetaData[k] = v
	}
	return out, nil
}
