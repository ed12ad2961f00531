package pades_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/internal/demo"
)

// signer is a key and its chain from a fresh test CA.
type signer struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func newSigner(t testing.TB) signer {
	t.Helper()
	ca, err := demo.NewCA("Signet PAdES Test CA")
	if err != nil {
		t.Fatal(err)
	}
	k, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue("PAdES test signer", k.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return signer{k, []*x509.Certificate{c, ca.Cert}}
}

// sign makes a PAdES-BASELINE-B signature of doc the way the worker does.
func (s signer) sign(t testing.TB, doc []byte, opts pades.Options) []byte {
	t.Helper()
	alg, err := cms.DefaultAlgorithm(s.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cms.NewSigner(cms.Options{Chain: s.chain, Algorithm: alg, CAdES: true, OmitSigningTime: true, IncludeCertificates: -1})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	sign := func(_ context.Context, in []byte) ([]byte, error) { return s.key.Sign(nil, in, cs.SignerOpts()) }
	out, err := pades.Sign(context.Background(), doc, cs, sign, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// goPDF writes a one-page PDF with a classic cross-reference table, the way
// a small Go program would (producer 1).
func goPDF(text string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	content := "BT /F1 24 Tf 72 720 Td (" + text + ") Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj("<< /Producer (Signet test) >>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// tool runs a command and fails the test if it is missing.
func tool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required (Debian: scripts/install-deps.sh installs it): %v", name, err)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// qpdfPDF rewrites a PDF with object and cross-reference streams (producer 2).
func qpdfPDF(t testing.TB, in []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	writeFile(t, src, in)
	if out, err := tool(t, "qpdf", "--object-streams=generate", src, dst); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	return readFile(t, dst)
}

// ghostscriptPDF converts a PostScript page with ps2pdf (producer 3).
func ghostscriptPDF(t testing.TB, text string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.ps"), filepath.Join(dir, "out.pdf")
	ps := "%!PS\n/Helvetica findfont 24 scalefont setfont 72 720 moveto (" + text + ") show showpage\n"
	writeFile(t, src, []byte(ps))
	if out, err := tool(t, "ps2pdf", src, dst); err != nil {
		t.Fatalf("ps2pdf: %v\n%s", err, out)
	}
	return readFile(t, dst)
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pdfsig runs poppler's pdfsig on doc and returns its report.
func pdfsig(t testing.TB, doc []byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "signed.pdf")
	writeFile(t, name, doc)
	out, _ := tool(t, "pdfsig", name)
	return out
}

// qpdfCheck runs qpdf --check and fails on damage.
func qpdfCheck(t testing.TB, doc []byte) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "signed.pdf")
	writeFile(t, name, doc)
	out, err := tool(t, "qpdf", "--check", name)
	if err != nil || strings.Contains(out, "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}
