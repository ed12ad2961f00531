package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/pades/padestest"
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
	// A PDF whose trailer declares one object more than MAX_PDF_OBJECTS's
	// default, which a PDFValidator refuses: the same limit, by default.
	many := filepath.Join(dir, "many.pdf")
	manyPDF := bytes.Replace(padestest.GoPDF("many"), []byte("/Size 7 "), []byte("/Size 40002 "), 1)
	for name, data := range map[string][]byte{trust: demo.PEM(ca.Cert), sig: []byte("not a signature"), many: manyPDF} {
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
		{"PDF over MAX_PDF_OBJECTS", []string{"verify", "-trust", trust, many}, 2, "many.pdf: the PDF has 40001 objects, more than the limit of 40000: raise -max-pdf-objects to verify it"},
		{"PDF under a raised limit", []string{"verify", "-trust", trust, "-max-pdf-objects", "40001", many}, 3, ""},
		{"limit below 1", []string{"verify", "-trust", trust, "-max-pdf-objects", "0", many}, 2, "-max-pdf-objects must be at least 1"},
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
