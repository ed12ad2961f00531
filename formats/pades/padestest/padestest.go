// Package padestest makes test PDFs with several producers and runs the
// independent checkers (poppler's pdfsig, qpdf --check) over signed ones,
// for the tests of formats/pades, formats/validate, workers and the server.
package padestest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GoPDF writes a one-page PDF with a classic cross-reference table, the way
// a small Go program would (producer 1).
func GoPDF(text string) []byte {
	content := "BT /F1 24 Tf 72 720 Td (" + text + ") Tj ET"
	return Classic("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", " /Info 6 0 R",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		"<< /Producer (Signet test) >>")
}

// Classic writes a PDF of header, the objects numbered from 1 in the order
// given (object 1 the catalog), a classic cross-reference table and a
// trailer with trailerExtra (such as " /Info 6 0 R") after its /Root.
func Classic(header, trailerExtra string, objects ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	offs := make([]int, len(objects))
	for i, body := range objects {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, trailerExtra, xref)
	return b.Bytes()
}

// Run runs a command that must be installed (a missing tool fails the
// test, it does not skip it) and returns its combined output.
func Run(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required (scripts/install-deps.sh installs it): %v", name, err)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// QPDF rewrites a PDF with object and cross-reference streams (producer 2).
func QPDF(t testing.TB, in []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	write(t, src, in)
	if out, err := Run(t, "qpdf", "--object-streams=generate", src, dst); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, out)
	}
	return read(t, dst)
}

// Ghostscript converts a PostScript page with ps2pdf (producer 3).
func Ghostscript(t testing.TB, text string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.ps"), filepath.Join(dir, "out.pdf")
	write(t, src, []byte("%!PS\n/Helvetica findfont 24 scalefont setfont 72 720 moveto ("+text+") show showpage\n"))
	if out, err := Run(t, "ps2pdf", src, dst); err != nil {
		t.Fatalf("ps2pdf: %v\n%s", err, out)
	}
	return read(t, dst)
}

// Producers returns a PDF from each producer: Go code, qpdf (object and
// cross-reference streams) and ghostscript.
func Producers(t testing.TB, text string) map[string][]byte {
	t.Helper()
	g := GoPDF(text)
	return map[string][]byte{"go": g, "qpdf": QPDF(t, g), "ghostscript": Ghostscript(t, text)}
}

// PDFSig runs poppler's pdfsig on doc and returns its report.
func PDFSig(t testing.TB, doc []byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "signed.pdf")
	write(t, name, doc)
	out, _ := Run(t, "pdfsig", name)
	return out
}

// CheckPDFSig fails unless pdfsig reports n signatures, each valid and of
// type ETSI.CAdES.detached, and (when whole) the last covering the whole
// document.
func CheckPDFSig(t testing.TB, doc []byte, n int, whole bool) {
	t.Helper()
	rep := PDFSig(t, doc)
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Signature Type: ETSI.CAdES.detached"} {
		if got := strings.Count(rep, want); got != n {
			t.Errorf("pdfsig reports %q %d times, want %d:\n%s", want, got, n, rep)
		}
	}
	if whole && !strings.Contains(rep, "Total document signed") {
		t.Errorf("pdfsig does not report the whole document signed:\n%s", rep)
	}
}

// QPDFCheck runs qpdf --check and fails on damage or warnings.
func QPDFCheck(t testing.TB, doc []byte) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "signed.pdf")
	write(t, name, doc)
	out, err := Run(t, "qpdf", "--check", name)
	if err != nil || strings.Contains(out, "WARNING") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

func write(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ManyObjects writes a one-page PDF of objects 1 to n (n ≥ 4): the catalog,
// the page tree, the page and n-3 small dictionaries the catalog does not
// reach, as a file of many form fields or annotations has. Without objStm
// each is an object of its own behind a classic cross-reference table
// (about 50 bytes an object). With objStm the small ones are packed 100 to
// an object stream, and the cross-reference is a stream (as qpdf
// --object-streams=generate writes, about 30 bytes an object): the object
// streams and it are objects n+1, n+2, …, one more for each 100 objects.
func ManyObjects(n int, objStm bool) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	type entry struct{ typ, a, b int }
	xref := make([]entry, 1, n+n/100+2) // object 0: free
	xref[0] = entry{0, 0, 0xffff}
	top := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>"}
	for i, body := range top {
		xref = append(xref, entry{1, b.Len(), 0})
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	small := func(nr int) string { return fmt.Sprintf("<</N %d>>", nr) }
	if !objStm {
		for nr := 4; nr <= n; nr++ {
			xref = append(xref, entry{1, b.Len(), 0})
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", nr, small(nr))
		}
		at := b.Len()
		fmt.Fprintf(&b, "xref\n0 %d\n", len(xref))
		for _, e := range xref {
			if e.typ == 0 {
				b.WriteString("0000000000 65535 f\r\n")
				continue
			}
			fmt.Fprintf(&b, "%010d 00000 n\r\n", e.a)
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(xref), at)
		return b.Bytes()
	}
	// Objects 4..n go into streams numbered n+1, n+2, …, 100 each.
	xref = xref[:4]
	for range n - 3 {
		xref = append(xref, entry{})
	}
	stm := n + 1
	for first := 4; first <= n; first += 100 {
		last := min(first+99, n)
		var head, body bytes.Buffer
		for nr := first; nr <= last; nr++ {
			xref[nr] = entry{2, stm, nr - first}
			fmt.Fprintf(&head, "%d %d ", nr, body.Len())
			body.WriteString(small(nr) + " ")
		}
		xref = append(xref, entry{1, b.Len(), 0})
		fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Length %d >>\nstream\n%s%s\nendstream\nendobj\n",
			stm, last-first+1, head.Len(), head.Len()+body.Len(), head.Bytes(), body.Bytes())
		stm++
	}
	at := b.Len()
	xref = append(xref, entry{1, at, 0}) // the cross-reference stream itself
	var rows []byte
	for _, e := range xref {
		rows = append(rows, byte(e.typ), byte(e.a>>24), byte(e.a>>16), byte(e.a>>8), byte(e.a), byte(e.b>>8), byte(e.b))
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", len(xref)-1, len(xref), len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", at)
	return b.Bytes()
}

// RewriteObjects appends to doc, a file of a classic cross-reference
// table, an incremental update that writes objects from to to again (as a
// form filled in, or an editor that saves every object it read, does),
// behind a classic table of one subsection whose trailer's /Prev is doc's.
func RewriteObjects(doc []byte, from, to int) []byte {
	var b bytes.Buffer
	b.Write(doc)
	prev := bytes.LastIndex(doc, []byte("startxref"))
	var at int
	fmt.Sscan(string(doc[prev+len("startxref"):]), &at)
	offs := make([]int, 0, to-from+1)
	for nr := from; nr <= to; nr++ {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n<</N %d /Revised true>>\nendobj\n", nr, nr)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n%d %d\n", from, len(offs))
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", to+1, at, xref)
	return b.Bytes()
}

// FreeEntries writes a one-page PDF of three objects whose classic table
// lists n free entries after them (objects 4 to n+3), and whose trailer
// says /Size 4: a table that pdfcpu reads whole, an entry for each line.
func FreeEntries(n int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, body := range []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>"} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", n+4)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	for range n {
		b.WriteString("0000000000 00001 f\r\n")
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}
