package web

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeREST: any REST body decodes or is refused with a sentence
// (a 400, as Server.status answers it), never a panic.
func FuzzDecodeREST(f *testing.F) {
	for _, s := range []string{`{"data":"x"}`, `{"data":"YQ==","encoding":"BASE64","metaData":{"K":"v"}}`, `{"data":"a\ud800"}`, `{"data":5}`, `[]`, ``, `{"data":"x"} {}`, `{"metaData":{"K":null},"data":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := decodeREST([]byte(body))
		if err == nil {
			if req == nil || req.data == nil {
				t.Fatal("decodeREST accepted a body without data")
			}
			return
		}
		// As the client gets it: a workers error (a key given twice) too.
		if code, msg, _ := (&Server{}).status(err); code != http.StatusBadRequest || !strings.HasSuffix(msg, ".") {
			t.Fatalf("error %v is not a 400 with a sentence", err)
		}
	})
}
