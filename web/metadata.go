package web

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/signet-project/signet/formats/properties"
	"github.com/signet-project/signet/internal/clienttext"
)

// Limits on request metadata, so that a request cannot make the server hold
// an unbounded map. SignServer bounds the number of form fields
// (HTTP_MAX_UPLOAD_FIELD_COUNT) for the same reason.
const (
	maxMetadataEntries = 64
	maxMetadataKey     = 128
	maxMetadataValue   = 64 << 10
)

// metadataPrefix starts the form fields and query parameters that carry
// request metadata: REQUEST_METADATA.<KEY>=value.
const metadataPrefix = "REQUEST_METADATA"

// metadata collects request metadata with SignServer's precedence: the
// entries of the REQUEST_METADATA field (Java properties syntax) first, then
// REQUEST_METADATA.<KEY> fields, which override them. Keys are upper case.
type metadata struct {
	props  map[string]string // from REQUEST_METADATA
	fields map[string]string // from REQUEST_METADATA.<KEY>
}

// isMetadataField reports whether a form field or query parameter name
// carries request metadata.
func isMetadataField(name string) bool {
	return name == metadataPrefix || strings.HasPrefix(name, metadataPrefix+".")
}

// add records one metadata form field or query parameter. The first value
// of a repeated field wins, as in a servlet's getParameter.
func (m *metadata) add(name, value string) error {
	if name == metadataPrefix {
		if m.props != nil {
			return nil
		}
		props, err := parseProperties(value)
		if err != nil {
			return err
		}
		m.props = make(map[string]string, len(props))
		for _, kv := range props {
			key, err := metadataKey(kv[0])
			if err != nil {
				return err
			}
			m.props[key] = kv[1]
		}
		return m.check()
	}
	key, err := metadataKey(strings.TrimPrefix(name, metadataPrefix+"."))
	if err != nil {
		return err
	}
	// As the REQUEST_METADATA field and the REST API's JSON: a value that
	// is no text would otherwise be signed (a PDF's reason) with U+FFFD in
	// place of its bytes.
	if !utf8.ValidString(value) {
		return badRequest("Request metadata value %s is not valid UTF-8: send it in UTF-8 (percent-encoded in a query string).", key)
	}
	if m.fields == nil {
		m.fields = map[string]string{}
	}
	if _, dup := m.fields[key]; !dup {
		m.fields[key] = value
	}
	return m.check()
}

func (m *metadata) check() error {
	if len(m.props)+len(m.fields) > maxMetadataEntries {
		return badRequest("The request has more than %d request metadata entries: send fewer.", maxMetadataEntries)
	}
	for _, v := range m.fields {
		if len(v) > maxMetadataValue {
			return badRequest("A request metadata value is longer than %d bytes: send a shorter value.", maxMetadataValue)
		}
	}
	return nil
}

// result merges the two sources; REQUEST_METADATA.<KEY> overrides. With
// one source (the usual REQUEST_METADATA.<KEY> query parameters) it is that
// source's map, not a copy: the request owns both.
func (m *metadata) result() map[string]string {
	switch {
	case m.props == nil && m.fields != nil:
		return m.fields
	case m.fields == nil && m.props != nil:
		return m.props
	}
	out := make(map[string]string, len(m.props)+len(m.fields))
	for k, v := range m.props {
		out[k] = v
	}
	for k, v := range m.fields {
		out[k] = v
	}
	return out
}

// metadataKey checks a metadata key and returns it upper case. Keys are
// names such as USING_BATCHSIGNING or CLIENTSIDE_HASHDIGESTALGORITHM.
func metadataKey(k string) (string, error) {
	if k == "" {
		return "", badRequest("A request metadata key is empty: name it, as in REQUEST_METADATA.KEY=value.")
	}
	if len(k) > maxMetadataKey {
		return "", badRequest("A request metadata key is longer than %d characters: use a shorter key.", maxMetadataKey)
	}
	for _, r := range k {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "", badRequest("Request metadata key %s has a character other than letters, digits, '_', '-' and '.': rename it.", clienttext.Quote(k))
		}
	}
	return strings.ToUpper(k), nil
}

// parseProperties reads the REQUEST_METADATA field, which SignServer
// specifies in Java properties syntax (formats/properties), and says what
// to fix in the client's terms.
func parseProperties(s string) ([][2]string, error) {
	entries, err := properties.Parse(s, maxMetadataEntries)
	var se *properties.SyntaxError
	switch {
	case errors.Is(err, properties.ErrTooMany):
		return nil, badRequest("The REQUEST_METADATA field has more than %d entries: send fewer.", maxMetadataEntries)
	case errors.As(err, &se) && se.Line == 0:
		return nil, badRequest("The REQUEST_METADATA field is not valid UTF-8: send KEY=VALUE lines in UTF-8.")
	case err != nil:
		return nil, badRequest("The REQUEST_METADATA field has a malformed \\u escape: write \\u followed by four hex digits, or send the value in a REQUEST_METADATA.<KEY> field.")
	}
	out := make([][2]string, len(entries))
	for i, e := range entries {
		out[i] = [2]string{e.Key, e.Value}
	}
	return out, nil
}

// restMetadata checks the metaData object of a REST request and returns it
// with upper-case keys.
func restMetadata(in map[string]string) (map[string]string, error) {
	if len(in) > maxMetadataEntries {
		return nil, badRequest("metaData has more than %d entries: send fewer.", maxMetadataEntries)
	}
	out := make(map[string]string, len(in))
	orig := make(map[string]string, len(in))
	for k, v := range in {
		key, err := metadataKey(k)
		if err != nil {
			return nil, err
		}
		if len(v) > maxMetadataValue {
			return nil, badRequest("metaData value %s is longer than %d bytes: send a shorter value.", clienttext.Quote(k), maxMetadataValue)
		}
		if prev, dup := orig[key]; dup {
			return nil, badRequest("metaData has both %s and %s, which name the same key: keep one.", clienttext.Quote(prev), clienttext.Quote(k))
		}
		orig[key] = k
		out[key] = v
	}
	return out, nil
}
