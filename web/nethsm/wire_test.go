package nethsm

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSimpleSignRequest checks that the one-pass reader of sign requests
// reads only what decodeSignRequest accepts, and reads it the same.
func FuzzSimpleSignRequest(f *testing.F) {
	for _, s := range []string{
		`{"mode":"ECDSA","message":"AAAA"}`, `{"message":"AAAA","mode":"PKCS1"}`, `{"mode":"ECDSA","message":"AAA"}`,
		`{"mode":"ECDSA","message":""}`, `{"mode":"E\u0043","message":"AA=="}`, `{"mode":"ECDSA","message":"AA==","x":1}`,
		`{"mode":"ECDSA","mode":"ECDSA"}`, `{"Mode":"ECDSA","message":"AA=="}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		mode, msg, ok := simpleSignRequest(b)
		if !ok || mode == "" || len(msg) == 0 {
			return
		}
		wantMode, wantMsg, err := decodeSignRequest(bytes.NewReader(b))
		if err != nil {
			return // bad base64: readSignRequest falls back to decodeSignRequest
		}
		if wantMode != mode || len(wantMsg) == 0 {
			t.Fatalf("%q: simple %q %q, encoding/json %q %x", b, mode, msg, wantMode, wantMsg)
		}
		var want struct{ Message string }
		if json.Unmarshal(b, &want) != nil || want.Message != string(msg) {
			t.Fatalf("%q: simple message %q, encoding/json %q", b, msg, want.Message)
		}
	})
}
