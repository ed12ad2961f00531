package remote

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCerts: certificate chains come from HSMs (DSM, NetHSM) and
// uploads; any bytes give certificates or an error, never a panic.
func FuzzParseCerts(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n-----BEGIN"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCerts(data)
		if err == nil && len(certs) > 0 && certs[0] == nil {
			t.Fatal("a nil certificate without an error")
		}
	})
}

// FuzzErrorMessage: the message of an HSM's error answer, which goes into
// logs and status pages, is at most 200 bytes and an ellipsis, and valid
// UTF-8 whenever the answer is.
func FuzzErrorMessage(f *testing.F) {
	f.Add([]byte(`{"error":"key not found"}`))
	f.Add([]byte(`{"message":"locked"}`))
	f.Add([]byte(strings.Repeat("é", 150)))
	f.Add([]byte(`{"error":"` + strings.Repeat("€", 100) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		msg := ErrorMessage(body)
		if len(msg) > 200+len("…") {
			t.Fatalf("%d bytes", len(msg))
		}
		if utf8.Valid(body) && !utf8.ValidString(msg) {
			t.Fatalf("%q from valid UTF-8 %q", msg, body)
		}
	})
}
