package nethsm

import (
	"encoding/base64"
	"testing"
)

// BenchmarkSignAnswer reads the answer a NetHSM writes to a P-256 sign
// call, {"signature":"<base64 of 64 bytes>"}, as every token signature does.
func BenchmarkSignAnswer(b *testing.B) {
	body := []byte(`{"signature":"` + base64.StdEncoding.EncodeToString(make([]byte, 64)) + `"}`)
	b.ReportAllocs()
	for b.Loop() {
		if s, err := signAnswer(body); err != nil || len(s) != 88 {
			b.Fatal(s, err)
		}
	}
}

// BenchmarkSignBody writes the sign request of a SHA-256 digest.
func BenchmarkSignBody(b *testing.B) {
	msg := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if len(signBody("ECDSA", msg)) == 0 {
			b.Fatal("empty")
		}
	}
}
