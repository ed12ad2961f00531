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
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/mediatype"
	"github.com/signet-project/signet/internal/plainjson"
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
	// ArchiveID is the ID the archive keeps the request under (its request
	// ID, for GET /admin/api/archive/{requestId}), when the worker archives.
	ArchiveID string `json:"archiveId,omitempty"`
	// SignerCertificate is the signer's certificate, base64 DER.
	SignerCertificate string `json:"signerCertificate,omitempty"`
	// MetaData is the worker's response metadata.
	MetaData map[string]string `json:"metaData"`
}

const restShape = `{"data": "...", "encoding": "NONE" or "BASE64", "metaData": {"KEY": "value"}}`

// rest serves POST /signserver/rest/v1/workers/{idOrName}/process. Its JSON
// body is held in memory once: read into one buffer bounded by the request
// memory bound (Limits.MaxRequestMemory), not only by the upload limit, and
// the data member is unescaped and base64-decoded in place in that buffer,
// so that a body of the bound costs the bound, not the body, its text and
// its decoded bytes. Larger documents go to the worker servlet, which
// streams them.
func (s *Server) rest(c echo.Context) error {
	r := c.Request()
	if !mediatype.Is(r.Header.Get(echo.HeaderContentType), mediatype.JSON) {
		return unsupportedMedia("The REST API takes application/json, not %s: send a JSON body with Content-Type application/json.", clienttext.Quote(r.Header.Get(echo.HeaderContentType)))
	}
	limit := s.limits.MaxRequestMemory
	if r.ContentLength > limit {
		return restTooLarge(limit)
	}
	body, err := readBody(r.Body, r.ContentLength, limit)
	if errors.Is(err, errOverMemory) {
		return restTooLarge(limit)
	}
	if err != nil {
		return err
	}
	req, err := decodeREST(body)
	if err != nil {
		return err
	}
	raw, err := req.document()
	if err != nil {
		return err
	}
	meta, err := restMetadata(req.MetaData)
	if err != nil {
		return err
	}
	resp, err := s.process(c, workerParam(c, "idOrName"), bytes.NewReader(raw), int64(len(raw)), "", meta)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, s.restResponse(infoOf(c).id, resp))
}

// readBody reads a body of size bytes (-1: unknown) into one buffer of at
// most limit bytes, sized once when the length is known. A body of unknown
// length is read in chunks and joined once (twice its size at the peak,
// where growing one buffer would copy it again at every doubling). A
// longer body is errOverMemory.
func readBody(r io.Reader, size, limit int64) ([]byte, error) {
	c := &cappedReader{r: r, left: limit}
	if size >= 0 {
		b := make([]byte, size) // net/http holds the body to its Content-Length
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	var chunks [][]byte
	for {
		chunk := make([]byte, 256<<10)
		n, err := io.ReadFull(c, chunk)
		if n > 0 {
			chunks = append(chunks, chunk[:n])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return bytes.Join(chunks, nil), nil
		}
		if err != nil {
			return nil, err
		}
	}
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
	b := make([]byte, 0, 64+enc.EncodedLen(len(resp.Data))+plainjson.StringLen(id)+plainjson.StringLen(resp.ArchiveID)+len(cert)+len(meta))
	b = append(b, `{"data":"`...)
	b = enc.AppendEncode(b, resp.Data)
	b = append(b, `","requestId":`...)
	b = plainjson.AppendString(b, id)
	if resp.ArchiveID != "" {
		b = append(b, `,"archiveId":`...)
		b = plainjson.AppendString(b, resp.ArchiveID)
	}
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

// restRequest is a decoded RESTRequest whose data is still the JSON string
// literal in the body's buffer.
type restRequest struct {
	data     []byte // the literal, quotes included
	Encoding string
	MetaData map[string]string
}

// restFields are the members of a REST request, matched as encoding/json
// matches struct fields (case-insensitively).
var restFields = [...]string{"data", "encoding", "metaData"}

// restMember is one member of the request object, as written.
type restMember struct {
	key   []byte // the key's literal, quotes included
	val   []byte // the value's text
	plain bool   // val is a plain string (plainjson.Scanner.Str)
}

// decodeREST reads one JSON object with only the known fields, each of its
// type, and nothing after it, from the body's buffer. It reads the body
// once: the members are delimited by plainjson's Scanner, which checks a
// plain string (the data member, as clients write it) as it reads it and
// leaves any other key or value to json.Valid, and then decoded one by one,
// as encoding/json decodes them into RESTRequest. It answers exactly as
// json.Unmarshal into the wire struct followed by a second json.Unmarshal
// into a map of the members did (decodeRESTTwoPass in the tests, which
// FuzzDecodeRESTAgrees holds it to): syntax errors first; then a data of
// the wrong type (encoding/json stops there); else the first other member
// of the wrong type; then the unknown member that sorts first; then the
// first known member given twice. Keys are matched case-insensitively, as
// encoding/json matches them. A member given twice ("data" and "Data"
// too) is refused with workers.Twice, as in a batch request: encoding/json
// would keep the last data silently, a document other than the one the
// client meant to send first.
func decodeREST(body []byte) (*restRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("The request body is empty: send %s.", restShape)
	}
	var buf [4]restMember
	members, err := restMembers(body, buf[:0])
	if err != nil {
		return nil, err
	}
	var (
		data  []byte // nil: absent or null
		enc   string
		meta  map[string]json.RawMessage
		saved error // the first member of the wrong type but data
		seen  [len(restFields)]bool
		dup   string // the first member of restFields given twice
	)
	for _, m := range members {
		var err error
		name := restField(m.key)
		if i := slices.Index(restFields[:], name); i >= 0 {
			if seen[i] && dup == "" {
				dup = name
			}
			seen[i] = true
		}
		switch name {
		case "data":
			switch m.val[0] {
			case 'n':
				data = nil
			case '"':
				data = m.val
			default:
				var v string
				return nil, restWrongType(name, json.Unmarshal(m.val, &v))
			}
		case "encoding":
			if m.plain {
				enc = string(m.val[1 : len(m.val)-1])
			} else {
				err = json.Unmarshal(m.val, &enc)
			}
		case "metaData":
			err = json.Unmarshal(m.val, &meta) // merged into meta, as encoding/json does
		}
		if err != nil && saved == nil {
			saved = restWrongType(name, err)
		}
	}
	if saved != nil {
		return nil, saved
	}
	unknown, found := "", false // the unknown key that sorts first
	for _, m := range members {
		if restField(m.key) == "" {
			if k := restKey(m.key); !found || k < unknown {
				unknown, found = k, true
			}
		}
	}
	if found {
		return nil, badRequest("The request has an unknown field %s: use data, encoding and metaData.", clienttext.Quote(unknown))
	}
	if dup != "" {
		return nil, workers.Twice("The request", dup)
	}
	if data == nil {
		return nil, badRequest("The request has no data field: send the document in data.")
	}
	out := &restRequest{data: data, Encoding: enc}
	if meta != nil {
		out.MetaData = make(map[string]string, len(meta))
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		var v string
		raw := meta[k]
		if err := json.Unmarshal(raw, &v); err != nil || string(raw) == "null" {
			return nil, badRequest("metaData value of %s has the wrong type: send every metadata value as a JSON string.", clienttext.Quote(k))
		}
		out.MetaData[k] = v
	}
	return out, nil
}

// restMembers delimits the members of the request object, appending them
// to ms, and checks that the body is valid JSON. A body that is not an
// object is refused here, as encoding/json refused it (null is an object
// without members).
func restMembers(body []byte, ms []restMember) ([]restMember, error) {
	p := plainjson.NewScanner(body)
	if !p.Byte('{') {
		if !json.Valid(body) {
			return nil, restSyntaxError(body)
		}
		switch bytes.TrimLeft(body, " \t\r\n")[0] {
		case 'n':
			return nil, nil
		case '[':
			return nil, restNotObject("array")
		case '"':
			return nil, restNotObject("string")
		case 't', 'f':
			return nil, restNotObject("bool")
		}
		return nil, restNotObject("number")
	}
	if p.Byte('}') {
		if !p.End() {
			return nil, restSyntaxError(body)
		}
		return ms, nil
	}
	for {
		k, kValid, ok := p.Value()
		if !ok || k[0] != '"' || !kValid && !json.Valid(k) || !p.Byte(':') {
			return nil, restSyntaxError(body)
		}
		v, vValid, ok := p.Value()
		if !ok || !vValid && !json.Valid(v) {
			return nil, restSyntaxError(body)
		}
		if (v[0] == '{' || v[0] == '[') && len(v) >= 2*maxJSONDepth && !json.Valid(body) {
			// A value valid alone may nest as deep as encoding/json
			// allows, which the object around it then exceeds.
			return nil, restSyntaxError(body)
		}
		ms = append(ms, restMember{key: k, val: v, plain: vValid})
		if p.Byte('}') {
			if !p.End() {
				return nil, restSyntaxError(body)
			}
			return ms, nil
		}
		if !p.Byte(',') {
			return nil, restSyntaxError(body)
		}
	}
}

// maxJSONDepth is how deep encoding/json lets arrays and objects nest (its
// scanner's maxNestingDepth): a value of fewer than twice as many bytes
// cannot reach it.
const maxJSONDepth = 10000

// restSyntaxError words the syntax error of a body that is not valid JSON,
// found by encoding/json, which checks the syntax before it decodes.
func restSyntaxError(body []byte) error {
	var se *json.SyntaxError
	if err := json.Unmarshal(body, new(struct{})); errors.As(err, &se) && strings.Contains(se.Error(), "after top-level value") {
		// encoding/json has no error type for data after the value.
		return badRequest("The request body has more after the JSON object: send one object.")
	}
	return badRequest("The request body is not valid JSON: send %s.", restShape)
}

// restNotObject is the error of a body that is a JSON value of another
// kind (as encoding/json names them).
func restNotObject(kind string) error {
	return badRequest("The request body is a JSON %s, not an object: send %s.", kind, restShape)
}

// restWrongType words err, encoding/json's error decoding member field
// alone.
func restWrongType(field string, err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return badRequest("The request body is not valid JSON: send %s.", restShape)
	}
	return badRequest("Field %q has the wrong type (%s): data and encoding are strings, metaData maps names to strings.", field, te.Value)
}

// restKey is the text of a key literal, as encoding/json reads it.
func restKey(lit []byte) string {
	if in := lit[1 : len(lit)-1]; plainjson.Plain(in) {
		return string(in)
	}
	var k string
	json.Unmarshal(lit, &k) // valid: restMembers checked it
	return k
}

// restField is the field of RESTRequest a key literal names, matched as
// encoding/json matches them (case-insensitively, after unescaping), or "".
func restField(lit []byte) string {
	in := lit[1 : len(lit)-1]
	if !plainjson.Plain(in) {
		in = []byte(restKey(lit))
	}
	for _, f := range restFields {
		if bytes.EqualFold(in, []byte(f)) {
			return f
		}
	}
	return ""
}

// document decodes the data member in place, in the body's buffer: the
// JSON text unescaped, then, with encoding BASE64, base64-decoded. Text
// that encoding/json would alter (invalid UTF-8, an unpaired surrogate
// escape, both replaced by U+FFFD) is refused: it would not be signed as
// sent.
func (req *restRequest) document() ([]byte, error) {
	exact := plainjson.Exact(req.data)
	switch strings.ToUpper(req.Encoding) {
	case "", "NONE":
		if !exact {
			return nil, badRequest("Field data is not valid UTF-8 text (encoding NONE) and would not be signed as sent: send binary data base64-encoded with encoding BASE64.")
		}
		return plainjson.UnescapeInPlace(req.data), nil
	case "BASE64":
		if exact { // else it holds a character outside base64's alphabet
			if raw, ok := decodeBase64InPlace(plainjson.UnescapeInPlace(req.data)); ok {
				return raw, nil
			}
		}
		return nil, badRequest("Field data is not valid base64 (encoding BASE64): send standard base64 with padding.")
	}
	return nil, badRequest("encoding %s is not supported: use NONE or BASE64.", clienttext.Quote(req.Encoding))
}

// decodeBase64InPlace decodes standard base64 (padded; CR and LF ignored,
// as base64.StdEncoding.DecodeString does) over its own text. Each chunk
// is copied out before its bytes are written, and the output never passes
// the input read so far.
func decodeBase64InPlace(b []byte) ([]byte, bool) {
	n := 0 // drop line breaks first, so that chunks hold whole quanta
	for _, c := range b {
		if c != '\r' && c != '\n' {
			b[n] = c
			n++
		}
	}
	b = b[:n]
	var chunk [4096]byte
	w := 0
	for r := 0; r < len(b); {
		c := copy(chunk[:], b[r:])
		r += c
		if r < len(b) && bytes.IndexByte(chunk[:c], '=') >= 0 {
			return nil, false // padding before the end
		}
		m, err := base64.StdEncoding.Decode(b[w:], chunk[:c])
		if err != nil {
			return nil, false
		}
		w += m
	}
	return b[:w], true
}
