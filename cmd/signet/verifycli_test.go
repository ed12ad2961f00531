package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/demo"
)

// TestVerifyInputErrors: what signet verify cannot read is an input error,
// exit status 2 with the file named, not a validation verdict.
func TestVerifyInputErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := demo.NewCA("Verify CLI CA")
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(dir, "ca.pem")
	sig := filepath.Join(dir, "doc.txt.p7s")
	for name, data := range map[string][]byte{trust: demo.PEM(ca.Cert), sig: []byte("not a signature")} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // on stderr
	}{
		{"missing content", []string{"verify", "-trust", trust, "-content", filepath.Join(dir, "missing.txt"), sig}, 2, "missing.txt"},
		{"missing signature", []string{"verify", "-trust", trust, filepath.Join(dir, "missing.p7s")}, 2, "missing.p7s"},
		{"not a signature", []string{"verify", "-trust", trust, sig}, 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, err := run2(t, tt.args...)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %v, stderr %q; want exit %d naming %q", err, errOut, tt.code, tt.want)
			}
		})
	}
}
