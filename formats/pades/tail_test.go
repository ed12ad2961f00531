package pades_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
)

// TestDataAfterEOF: a whole PDF with data appended after its %%EOF (a
// mail gateway's footer, a download padded with zeros) is signed when the
// data is short, pdfsig and qpdf finding both signatures of a second
// signing valid; when it hides the startxref from a reader, the refusal
// says how many bytes to cut after %%EOF. It said the PDF was truncated,
// which sent the client looking for a whole copy of a whole file.
func TestDataAfterEOF(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	doc := padestest.GoPDF("appended")
	for _, c := range []struct {
		name   string
		tail   []byte
		refuse string // in the refusal; "" when signed
	}{
		{"a mail footer", []byte("\r\n-- \r\nSent from the gateway\r\n"), ""},
		{"zero padding", make([]byte, 512), ""},
		{"4000 bytes", bytes.Repeat([]byte("X"), 4000), "the PDF has 4000 bytes of other data after its %%EOF"},
		{"4000 bytes after a line break", append([]byte("\n"), bytes.Repeat([]byte("X"), 3999)...), "the PDF has 4000 bytes of other data after its %%EOF"},
		{"a truncated file", nil, "it is truncated"},
		// An incremental update cut short after the %%EOF of the
		// revision before it: sending that revision would lose it.
		{"a truncated update", []byte("7 0 obj\n<< /Producer (" + strings.Repeat("x", 4000) + ") >>\nendobj\nxref\n7 1\n"), "it is truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := append(bytes.Clone(doc), c.tail...)
			if c.tail == nil {
				in = doc[:len(doc)/2]
			}
			if c.refuse != "" {
				_, err := pades.Prepare(context.Background(), in, pades.Options{ContentsSize: 100})
				if !errors.Is(err, pades.ErrInvalidPDF) || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("Prepare: %v, want ErrInvalidPDF saying %q", err, c.refuse)
				}
				if c.refuse != "it is truncated" && strings.Contains(err.Error(), "truncated") {
					t.Errorf("Prepare: %v: a whole file with data after it is not truncated", err)
				}
				return
			}
			twice := s.sign(t, s.sign(t, in, pades.Options{}), pades.Options{})
			padestest.QPDFCheck(t, twice)
			padestest.CheckPDFSig(t, twice, 2, true)
		})
	}
}
