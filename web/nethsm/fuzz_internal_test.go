package nethsm

import (
	"strings"
	"testing"
)

// FuzzDecodeSignRequest: any NetHSM sign request body decodes or is
// refused with an error, never a panic.
func FuzzDecodeSignRequest(f *testing.F) {
	for _, s := range []string{`{"mode":"ECDSA","message":"AAEC"}`, `{"mode":"PSS_SHA256","message":"=="}`, `{"mode":1}`, `{}`, `[`, `{"mode":"ECDSA","message":"AA","x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		mode, msg, err := decodeSignRequest(strings.NewReader(body))
		if err == nil && mode == "" && msg == nil {
			t.Fatal("an empty request was accepted")
		}
	})
}
