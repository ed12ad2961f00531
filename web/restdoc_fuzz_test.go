package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/plainjson"
)

// FuzzRESTDocument: the data member decoded in place in the body's buffer
// is what encoding/json and encoding/base64 make of it, for every body
// either accepts; text they would alter is refused.
func FuzzRESTDocument(f *testing.F) {
	for _, s := range []string{
		`{"data":"x"}`, `{"data":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00"}`, `{"data":"a\ud800"}`, "{\"data\":\"a\xffb\"}",
		`{"data":"YQ==","encoding":"BASE64"}`, `{"data":"YWJj\nZGVm","encoding":"base64"}`, `{"data":"YQ==YQ==","encoding":"BASE64"}`,
		`{"data":"\u0059\u0051\u003d\u003d","encoding":"BASE64"}`, `{"data":"YQ","encoding":"BASE64"}`, `{"encoding":"BASE64","data":"` + strings.Repeat("QUJD", 2000) + `"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var ref struct {
			Data     *string `json:"data"`
			Encoding string  `json:"encoding"`
		}
		refErr := json.Unmarshal([]byte(body), &ref)
		req, err := decodeREST([]byte(body))
		if err != nil {
			return
		}
		if refErr != nil || ref.Data == nil {
			t.Fatalf("decodeREST took %q, encoding/json did not (%v)", body, refErr)
		}
		lit := req.data
		exact := plainjson.Exact(lit)
		doc, err := req.document()
		switch strings.ToUpper(ref.Encoding) {
		case "", "NONE":
			if exact != (err == nil) {
				t.Fatalf("%q: exact %v, error %v", body, exact, err)
			}
			if err == nil && !bytes.Equal(doc, []byte(*ref.Data)) {
				t.Fatalf("%q: document %q, encoding/json %q", body, doc, *ref.Data)
			}
		case "BASE64":
			want, werr := base64.StdEncoding.DecodeString(*ref.Data)
			if (err == nil) != (werr == nil && exact) {
				t.Fatalf("%q: error %v, encoding/base64 %v (exact %v)", body, err, werr, exact)
			}
			if err == nil && !bytes.Equal(doc, want) {
				t.Fatalf("%q: document %x, encoding/base64 %x", body, doc, want)
			}
		}
	})
}
