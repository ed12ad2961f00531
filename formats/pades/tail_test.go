package pades_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestParserErrorSentence: the sentence of a PDF that pdfcpu cannot read
// keeps where its parse stopped, and says what to do, but not Go's words
// nor the bytes of the file it quoted: an xref entry with a byte that is
// not text made the answer "xref table: strconv.ParseInt: parsing
// \"00000\xfe…\": invalid syntax", not even UTF-8.
func TestParserErrorSentence(t *testing.T) {
	t.Parallel()
	doc := padestest.GoPDF("damaged")
	for _, c := range []struct {
		name     string
		from, to string // the first from in the xref table is replaced by to
		want     string
	}{
		{"an offset that is not a number", "00000 n\r\n", "00000 n\r\n0000\xfe00009 00000 n\r\n", "xref table"},
		{"an entry of four fields", "00000 n\r\n", "00000 n\r\n00000 \xfe\xff 00009 00000 n\r\n", "xref table"},
		{"no /Size", "/Size 7 ", "", "missing trailer Size"},
		{"a line of other bytes before the trailer", "trailer\n", "\xfe\xff \xfe \xfe \xfe \xfe\ntrailer\n", "missing trailer dict"},
	} {
		at := bytes.Index(doc, []byte("xref\n"))
		i := bytes.Index(doc[at:], []byte(c.from))
		if i < 0 {
			t.Fatalf("%s: %q is not in the test PDF's cross-reference section", c.name, c.from)
		}
		in := append(append(bytes.Clone(doc[:at+i]), c.to...), doc[at+i+len(c.from):]...)
		_, err := pades.Prepare(context.Background(), in, pades.Options{ContentsSize: 100})
		if !errors.Is(err, pades.ErrInvalidPDF) {
			t.Fatalf("%s: Prepare: %v, want ErrInvalidPDF", c.name, err)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Errorf("%s: %q is not printable text", c.name, msg)
		}
		for _, no := range []string{"strconv", "invalid syntax", "line ="} {
			if strings.Contains(msg, no) {
				t.Errorf("%s: %q has Go's words or the file's bytes (%q)", c.name, msg, no)
			}
		}
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, "qpdf in.pdf out.pdf") {
			t.Errorf("%s: %q does not say where the parse stopped (%q) and what to do", c.name, msg, c.want)
		}
	}
}

// TestDamagedForCaller: a damaged file is refused with the fix of the
// caller. A document to sign may be rewritten first (qpdf in.pdf
// out.pdf); a signed one may not, since a rewrite breaks its signatures:
// Inspect, which validation reads with, told the client to rewrite it, as
// it already did not for an encrypted one.
func TestDamagedForCaller(t *testing.T) {
	t.Parallel()
	doc := padestest.GoPDF("damaged")
	at := bytes.LastIndex(doc, []byte("startxref\n"))
	noSection := append(bytes.Clone(doc[:at]), "startxref\n9\n%%EOF\n"...) // the offset of no section
	noSize := bytes.Replace(doc, []byte("/Size 7 "), nil, 1)
	for _, c := range []struct {
		name string
		in   []byte
		what string
	}{
		{"startxref to no section", noSection, "the startxref offset does not point to a cross-reference section; the PDF is damaged"},
		{"a parse error", noSize, "the PDF cannot be read (xref table: missing trailer Size)"},
	} {
		_, err := pades.Prepare(context.Background(), c.in, pades.Options{ContentsSize: 100})
		if err == nil || !strings.Contains(err.Error(), c.what+"; ") || !strings.Contains(err.Error(), "qpdf in.pdf out.pdf") {
			t.Errorf("%s: Prepare: %v, want %q and a rewrite first", c.name, err, c.what)
		}
		_, err = pades.Inspect(context.Background(), c.in, pades.Limits{})
		want := c.what + "; rewriting it would break its signatures: check them with a PDF reader such as poppler's pdfsig"
		if !errors.Is(err, pades.ErrInvalidPDF) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: Inspect: %v, want …%q", c.name, err, want)
		}
	}
}
