package dsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/mediatype"
	"github.com/signet-project/signet/internal/plainjson"
)

// The batch API's own reader and writer. Generic encoding/json decoding of
// a batch (every item scanned twice, by reflection) and encoding of the
// answer cost about a tenth of the CPU of a batch of P-256 signatures;
// parseBatch reads the shape clients send, with the key by name or kid and
// the digest in "hash" or "data", in one pass, and hands every other body
// to encoding/json, so that what is accepted and refused does not change
// (FuzzParseBatch compares the two).

// readBody reads the request body, at most MaxBatchBody bytes. It returns
// false after writing the 413 or 400 answer; what names the JSON expected,
// split how to make a body smaller.
func readBody(c echo.Context, what, split string) ([]byte, bool, error) {
	r := c.Request()
	if !mediatype.Body(r, mediatype.JSON) {
		return nil, false, fail(c, http.StatusUnsupportedMediaType, "The DSM API takes request bodies as application/json: set the Content-Type header.")
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0)+1, MaxBatchBody+1)))
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Response(), r.Body, MaxBatchBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, false, fail(c, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes: %s.", MaxBatchBody, split))
		}
		return nil, false, fail(c, http.StatusBadRequest, "The body must be "+what+".")
	}
	return buf.Bytes(), true, nil
}

// decodeJSON decodes body, one JSON value, into v, as decodeBody does.
func decodeJSON(c echo.Context, body []byte, v any, what string) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return false, fail(c, http.StatusBadRequest, "The body must be "+what+".")
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, fail(c, http.StatusBadRequest, "The body must hold "+what+" and nothing after it.")
	}
	return true, nil
}

// item is one sign request of a batch, or why it is not one.
type item struct {
	req signRequest
	bad bool // not a SignRequest object
}

// parseBatch reads a JSON array of sign requests of the common shape, or
// returns false for encoding/json to read it.
func parseBatch(b []byte) ([]item, bool) {
	p := scanner{plainjson.NewScanner(b)}
	if !p.Byte('[') {
		return nil, false
	}
	items := make([]item, 0, bytes.Count(b, []byte(`"hash_alg"`)))
	if p.Byte(']') {
		return items, p.End()
	}
	var name, alg *string // shared by items that repeat them
	for {
		var it item
		if !p.object(&it.req, &name, &alg) {
			return nil, false
		}
		items = append(items, it)
		if p.Byte(']') {
			return items, p.End()
		}
		if !p.Byte(',') {
			return nil, false
		}
	}
}

// scanner reads JSON of a fixed shape: plain strings (plainjson), fields
// named exactly, no field twice.
type scanner struct{ plainjson.Scanner }

// shared returns a *string of s, reusing *prev when it holds s.
func shared(prev **string, s []byte) *string {
	if *prev != nil && **prev == string(s) {
		return *prev
	}
	v := string(s)
	*prev = &v
	return &v
}

// object reads {"key":{"name"|"kid":…},"hash_alg":…,"hash"|"data":…} with
// the fields in any order, each at most once.
func (p *scanner) object(r *signRequest, name, alg **string) bool {
	if !p.Byte('{') {
		return false
	}
	if p.Byte('}') {
		return true
	}
	for {
		k, ok := p.Str()
		if !ok || !p.Byte(':') {
			return false
		}
		switch string(k) {
		case "key":
			if r.Key != nil || !p.key(r, name) {
				return false
			}
		case "hash_alg", "hash", "data":
			v, ok := p.Str()
			if !ok {
				return false
			}
			f := &r.Hash
			switch string(k) {
			case "hash_alg":
				f = &r.HashAlg
			case "data":
				f = &r.Data
			}
			if *f != nil {
				return false
			}
			if f == &r.HashAlg {
				*f = shared(alg, v)
			} else {
				s := string(v)
				*f = &s
			}
		default:
			return false
		}
		if p.Byte('}') {
			return true
		}
		if !p.Byte(',') {
			return false
		}
	}
}

// key reads {"name":…} or {"kid":…}.
func (p *scanner) key(r *signRequest, name **string) bool {
	if !p.Byte('{') {
		return false
	}
	k, ok := p.Str()
	if !ok || !p.Byte(':') {
		return false
	}
	v, ok := p.Str()
	if !ok || !p.Byte('}') {
		return false
	}
	switch string(k) {
	case "name":
		r.Key = &keyDescriptor{Name: shared(name, v)}
	case "kid":
		s := string(v)
		r.Key = &keyDescriptor{Kid: &s}
	default:
		return false
	}
	return true
}

// appendResults appends the JSON array of out as encoding/json writes it,
// newline included.
func appendResults(w []byte, out []itemResult) []byte {
	w = append(w, '[')
	for i, r := range out {
		if i > 0 {
			w = append(w, ',')
		}
		w = append(w, `{"status":`...)
		w = strconv.AppendInt(w, int64(r.Status), 10)
		if r.Body != nil {
			w = append(w, `,"body":`...)
			w = appendSignResponse(w, r.Body)
		}
		if r.Error != "" {
			w = append(w, `,"error":`...)
			w = plainjson.AppendString(w, r.Error)
		}
		w = append(w, '}')
	}
	return append(w, "]\n"...)
}

func appendSignResponse(w []byte, r *signResponse) []byte {
	w = append(w, `{"kid":`...)
	w = plainjson.AppendString(w, r.Kid)
	w = append(w, `,"signature":`...)
	w = plainjson.AppendString(w, r.Signature)
	return append(w, '}')
}

// resultsSize is about the size of the answer of n items.
func resultsSize(n int) int { return 2 + n*160 }

// rawItems turns the items encoding/json split off into sign requests.
func rawItems(raw []json.RawMessage) []item {
	items := make([]item, len(raw))
	for i, r := range raw {
		items[i].bad = json.Unmarshal(r, &items[i].req) != nil
	}
	return items
}

// writeJSON answers 200 with w, JSON, as c.JSON would (also ?pretty).
func writeJSON(c echo.Context, w []byte, v any) error {
	if _, pretty := c.QueryParams()["pretty"]; pretty {
		return c.JSON(http.StatusOK, v)
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, w)
}
