package nethsm

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzSimpleSignRequest holds the reader of sign request bodies, whose
// one-pass reader takes the shape clients send, to decodeSignRequest
// (encoding/json) alone: the same mode and message, or the same error.
func FuzzSimpleSignRequest(f *testing.F) {
	for _, s := range []string{
		`{"mode":"ECDSA","message":"AAAA"}`, `{"message":"AAAA","mode":"PKCS1"}`, `{"mode":"ECDSA","message":"AAA"}`,
		`{"mode":"ECDSA","message":""}`, `{"mode":"E\u0043","message":"AA=="}`, `{"mode":"ECDSA","message":"AA==","x":1}`,
		`{"mode":"ECDSA","mode":"ECDSA"}`, `{"Mode":"ECDSA","message":"AA=="}`, `{"mode":"ECDSA","message":"A"}`,
		`{"mode":"ECDSA","message":"AA=A"}`, `{"mode":"","message":"AA=="}`, `{"mode":"ECDSA","message":"AA\nAA"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		mode, msg, err := signRequestBody(b)
		wantMode, wantMsg, werr := decodeSignRequest(bytes.NewReader(b))
		if fmt.Sprint(err) != fmt.Sprint(werr) || mode != wantMode || !bytes.Equal(msg, wantMsg) {
			t.Fatalf("%q: read %q %x, %v; decodeSignRequest %q %x, %v", b, mode, msg, err, wantMode, wantMsg, werr)
		}
	})
}
