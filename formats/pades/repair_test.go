package pades_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/pades"
)

// oneLine is a PDF of n objects, each on a line of its own ("4 0 obj 1
// endobj"), the shape in which pdfcpu's repair is slowest: the catalog,
// the page tree, the page and n-3 integers; offs[nr] is object nr's
// offset (offs[0] unused).
type oneLine struct {
	b    bytes.Buffer
	offs []int
}

func newOneLine(n int) *oneLine {
	f := &oneLine{offs: []int{0}}
	f.b.WriteString("%PDF-1.7\n")
	for _, body := range []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>"} {
		f.add(body)
	}
	for len(f.offs) <= n {
		f.add("1")
	}
	return f
}

// add writes the next object.
func (f *oneLine) add(body string) int {
	nr := len(f.offs)
	f.offs = append(f.offs, f.b.Len())
	fmt.Fprintf(&f.b, "%d 0 obj %s endobj\n", nr, body)
	return nr
}

// table writes a classic cross-reference table of every object, with
// trailerExtra in its trailer, and returns the file.
func (f *oneLine) table(trailerExtra string) []byte {
	at := f.b.Len()
	fmt.Fprintf(&f.b, "xref\n0 %d\n0000000000 65535 f\r\n", len(f.offs))
	for _, o := range f.offs[1:] {
		fmt.Fprintf(&f.b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&f.b, "trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(f.offs), trailerExtra, at)
	return f.b.Bytes()
}

// xrefStream writes a cross-reference stream of every object (itself
// included) with dictExtra in its dictionary, its data as written (1 4 2
// bytes an entry) unless data is set, and returns its offset.
func (f *oneLine) xrefStream(dictExtra string, data []byte) int {
	at := f.b.Len()
	nr := len(f.offs)
	f.offs = append(f.offs, at)
	if data == nil {
		data = []byte{0, 0, 0, 0, 0, 0xff, 0xff}
		for _, o := range f.offs[1:] {
			data = append(data, 1, byte(o>>24), byte(o>>16), byte(o>>8), byte(o), 0, 0)
		}
	}
	fmt.Fprintf(&f.b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R%s /Length %d >>\nstream\n%s\nendstream\nendobj\n", nr, len(f.offs), dictExtra, len(data), data)
	return at
}

// end writes the startxref to at and returns the file.
func (f *oneLine) end(at int) []byte {
	fmt.Fprintf(&f.b, "startxref\n%d\n%%%%EOF\n", at)
	return f.b.Bytes()
}

// TestRepairRefused: a file that pdfcpu could read only by repairing it
// (reading every object of the file again, in a time quadratic in their
// number that does not heed the context) is refused as damaged, at once:
// an object offset that points to no object header, a cross-reference
// stream (the last section, a /Prev's or a trailer's /XRefStm) that cannot
// be decoded or whose /Index exceeds its /Size, a stream whose
// /DecodeParms refers to no object. pdfcpu repaired each of them and
// accepted all but the last; the first, with 32,000 one-line objects (1.3
// MB), took 3.3 s against a 2 s deadline, and with 100,000 behind a table
// that lists 4 (the repair reads objects no table lists), 53 s against 20.
// The same files without the damage are read.
func TestRepairRefused(t *testing.T) {
	t.Parallel()
	const n = 200
	garbage := []byte("not flate data")
	const damaged = "the PDF structure is damaged"
	badOffset := func(n int) []byte {
		f := newOneLine(n)
		f.offs[n] -= len("endobj\n") - len("en") // into the "endobj" before it: "dobj\n"
		return f.table("")
	}
	cases := []struct {
		name string
		doc  func(n int) []byte
		want string // in the error; "": read
	}{
		{"classic table", func(n int) []byte { return newOneLine(n).table("") }, ""},
		{"cross-reference stream", func(n int) []byte { f := newOneLine(n); return f.end(f.xrefStream("", nil)) }, ""},
		{"hybrid: a table and its /XRefStm", func(n int) []byte {
			f := newOneLine(n)
			return f.table(fmt.Sprintf(" /XRefStm %d", f.xrefStream("", nil)))
		}, ""},
		{"an object offset points to no object header", badOffset, damaged},
		{"the cross-reference stream cannot be decoded", func(n int) []byte {
			f := newOneLine(n)
			return f.end(f.xrefStream(" /Filter /FlateDecode", garbage))
		}, damaged},
		{"the cross-reference stream's /Index exceeds its /Size", func(n int) []byte {
			f := newOneLine(n)
			return f.end(f.xrefStream(fmt.Sprintf(" /Index [0 %d]", n+10), nil))
		}, damaged},
		{"a /Prev points to a cross-reference stream that cannot be decoded", func(n int) []byte {
			f := newOneLine(n)
			prev := f.xrefStream(" /Filter /FlateDecode", garbage)
			f.b.WriteString("startxref\n" + fmt.Sprint(prev) + "\n%%EOF\n")
			at := f.b.Len()
			fmt.Fprintf(&f.b, "xref\n0 1\n0000000000 65535 f\r\ntrailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", len(f.offs), prev, at)
			return f.b.Bytes()
		}, damaged},
		{"a trailer's /XRefStm points to a cross-reference stream that cannot be decoded", func(n int) []byte {
			f := newOneLine(n)
			stm := f.xrefStream(" /Filter /FlateDecode", garbage)
			return f.table(fmt.Sprintf(" /XRefStm %d", stm))
		}, damaged},
		// pdfcpu takes the startxref only before a %%EOF (or a part of
		// one, at the file's end), and otherwise repairs the file.
		{"no %%EOF after the startxref", func(n int) []byte {
			return bytes.TrimSuffix(newOneLine(n).table(""), []byte("%%EOF\n"))
		}, "the PDF has no %%EOF after its startxref"},
		{"a part of %%EOF at the end", func(n int) []byte {
			return bytes.TrimSuffix(newOneLine(n).table(""), []byte("F\n"))
		}, ""},
		{"data after %%EOF", func(n int) []byte {
			return append(newOneLine(n).table(""), "\x00\x00 not PDF\n"...)
		}, ""},
		{"a stream's /DecodeParms refers to no object", func(n int) []byte {
			f := newOneLine(n)
			f.add("<< /Length 3 /Filter /FlateDecode /DecodeParms 99999 0 R >>\nstream\nabc\nendstream")
			return f.table("")
		}, damaged},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := c.doc(n)
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"Prepare", func() error {
					_, err := pades.Prepare(context.Background(), doc, pades.Options{ContentsSize: 100, Limits: pades.Limits{MaxObjects: 40000}})
					return err
				}},
				{"Inspect", func() error {
					_, err := pades.Inspect(context.Background(), doc, pades.Limits{MaxObjects: 40000})
					return err
				}},
			} {
				err := op.run()
				switch {
				case c.want == "" && err != nil:
					t.Errorf("%s: %v", op.name, err)
				case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
					t.Errorf("%s: error %v, want one saying %q", op.name, err, c.want)
				}
			}
		})
	}
	// The repair's time: the first damage with 32,000 objects, against a
	// deadline that a parse of the file meets many times over.
	t.Run("32000 objects", func(t *testing.T) {
		doc := badOffset(32_000)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := pades.Prepare(ctx, doc, pades.Options{ContentsSize: 100, Limits: pades.Limits{MaxObjects: 40000}})
		if err == nil || !strings.Contains(err.Error(), damaged) {
			t.Errorf("error %v after %v, want the PDF refused as damaged", err, time.Since(start))
		}
	})
}
