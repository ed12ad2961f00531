package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeREST: any REST body decodes or is refused with a sentence
// (a 4xx httpError), never a panic.
func FuzzDecodeREST(f *testing.F) {
	for _, s := range []string{`{"data":"x"}`, `{"data":"YQ==","encoding":"BASE64","metaData":{"K":"v"}}`, `{"data":"a\ud800"}`, `{"data":5}`, `[]`, ``, `{"data":"x"} {}`, `{"metaData":{"K":null},"data":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := decodeREST([]byte(body))
		var he *httpError
		switch {
		case err == nil && (req == nil || req.data == nil):
			t.Fatal("decodeREST accepted a body without data")
		case err != nil && !(errors.As(err, &he) && he.code == http.StatusBadRequest && strings.HasSuffix(he.msg, ".")):
			t.Fatalf("error %v is not a 400 with a sentence", err)
		}
	})
}
