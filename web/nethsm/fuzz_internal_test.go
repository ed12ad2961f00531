package nethsm

import (
	"regexp"
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

// FuzzValidID holds ValidID to the NetHSM ID schema: its pattern and
// maxLength 128.
func FuzzValidID(f *testing.F) {
	pattern := regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
	for _, s := range []string{"signer-p256", "a", "", "_a", "-a", ".a", "a_b.c-d", "a b", "é", "a\n", strings.Repeat("k", 128), strings.Repeat("k", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := ValidID(id), len(id) <= 128 && pattern.MatchString(id); got != want {
			t.Fatalf("ValidID(%q) = %v, the schema says %v", id, got, want)
		}
	})
}
