package pades

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/signet-project/signet/formats/pades/padestest"
	"github.com/signet-project/signet/internal/racetest"
)

// TestParseCostPerObject measures what a parsed document keeps on the heap
// for each of its objects, top-level ones and ones packed in object
// streams, and holds BytesPerObject (the estimate of the memory budget)
// above both: a pdfcpu that grows dearer fails here, not in production.
func TestParseCostPerObject(t *testing.T) {
	if racetest.Enabled {
		t.Skip("the race detector changes what is allocated")
	}
	const n = 20_000
	for _, c := range []struct {
		name   string
		objStm bool
	}{
		{"top-level objects, classic cross-reference table", false},
		{"objects in object streams, cross-reference stream", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := padestest.ManyObjects(n, c.objStm)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			d, err := open(context.Background(), raw, Limits{MaxObjects: 2 * n})
			if err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			allocated := int64(after.TotalAlloc-before.TotalAlloc) / n
			runtime.GC()
			runtime.ReadMemStats(&after)
			live := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			runtime.KeepAlive(d)
			t.Logf("%d objects, %d bytes of file: %d bytes live and %d allocated per object (BytesPerObject %d)", n, len(raw), live, allocated, BytesPerObject)
			if live > BytesPerObject {
				t.Errorf("a parsed object keeps %d bytes, more than BytesPerObject (%d): raise it, and size MAX_PDF_OBJECTS's default and PDFMemoryBudget again", live, BytesPerObject)
			}
		})
	}
}

// BenchmarkParse reports the heap a parse allocates and keeps per object.
func BenchmarkParse(b *testing.B) {
	const n = 20_000
	raw := padestest.ManyObjects(n, false)
	b.ReportAllocs()
	for b.Loop() {
		d, err := open(context.Background(), raw, Limits{MaxObjects: n})
		if err != nil {
			b.Fatal(err)
		}
		d.close()
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.TotalAlloc)/float64(b.N*n), "alloc-B/object")
}

// FuzzEstimateObjects: the scan before parsing reads a client's bytes, so
// it must not panic, and what it charges stays within the limit.
func FuzzEstimateObjects(f *testing.F) {
	f.Add(padestest.ManyObjects(10, false))
	f.Add(padestest.ManyObjects(10, true))
	f.Add(padestest.GoPDF("x"))
	f.Add([]byte("objendobj obj endobjobj enobj endendobj\nstartxref\n0\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		start, err := lastStartXref(raw)
		if err != nil {
			return
		}
		if got, want := objectHeaders(raw), bytes.Count(raw, []byte("obj"))-bytes.Count(raw, []byte("endobj")); got != want {
			t.Fatalf("objectHeaders = %d, want %d", got, want)
		}
		n, err := estimateObjects(raw, start, 100)
		if err == nil && n > 100 {
			t.Fatalf("charged %d objects over the limit of 100", n)
		}
	})
}

// BenchmarkEstimateObjects is the scan every PDF pays before it is parsed,
// on a file of 20 000 objects and on one whose bulk is a 1 MiB stream of
// random bytes, as compressed content is (make bench's pades-bb-1mib is a
// 1 MiB PDF).
func BenchmarkEstimateObjects(b *testing.B) {
	stream := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range stream {
		stream[i] = byte(r.Uint32())
	}
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"20000 objects", padestest.ManyObjects(20_000, false)},
		{"1 MiB stream", padestest.Classic("%PDF-1.7", "",
			"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
			"<< /Length "+strconv.Itoa(len(stream))+" >>\nstream\n"+string(stream)+"\nendstream")},
	} {
		b.Run(c.name, func(b *testing.B) {
			start, err := lastStartXref(c.raw)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if _, err := estimateObjects(c.raw, start, 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEstimateOverlappingSections: the scan before parsing reads each
// byte of the cross-reference tables once, as a file's sections, which
// never share bytes, need: a hostile file whose /Prev and /XRefStm lead
// to many offsets inside one large table (here 128 of them, into 1 MiB of
// lines that are not entries, so that no count stops it) is refused as
// damaged, not scanned 128 times over (a 16 MiB one took seconds of CPU,
// before any reservation and without a deadline). Files of several
// sections are read as before.
func TestEstimateOverlappingSections(t *testing.T) {
	t.Parallel()
	base := padestest.ManyObjects(50, false)
	cases := []struct {
		name    string
		raw     []byte
		objects int    // the charge expected, when no error
		err     string // in the error expected
	}{
		{"one table", base, 50, ""},
		{"an incremental update", padestest.RewriteObjects(base, 4, 50), 97, ""}, // 50 objects, 97 headers
		{"128 sections into one table", overlappingSections(128, 1<<20), 0, "cross-reference sections overlap"},
		{"2 sections into one table", overlappingSections(2, 1<<10), 0, "cross-reference sections overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, err := lastStartXref(c.raw)
			if err != nil {
				t.Fatal(err)
			}
			n, err := estimateObjects(c.raw, start, 40000)
			switch {
			case c.err == "" && (err != nil || n != c.objects):
				t.Errorf("estimate %d, %v; want %d objects", n, err, c.objects)
			case c.err != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.err))):
				t.Errorf("estimate %d, %v; want an error saying %q", n, err, c.err)
			}
		})
	}
}

// overlappingSections writes a file of one classic table of size bytes
// (n "xref" keywords, then subsection headers of no entries) and n
// cross-reference stream dictionaries, each with a /XRefStm to the table
// at the next of those keywords and a /Prev to the next dictionary.
func overlappingSections(n, size int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	table := b.Len()
	for range n {
		b.WriteString("xref\n")
	}
	for b.Len() < size {
		b.WriteString("0 0\n")
	}
	b.WriteString("trailer\n<< /Size 1 >>\nstartxref\n0\n")
	first := b.Len()
	const dict = "%012d 0 obj <</Type/XRef/Size 1/Prev %012d/XRefStm %012d>>stream\n"
	step := len(fmt.Sprintf(dict, 0, 0, 0))
	for k := range n {
		fmt.Fprintf(&b, dict, k+1, first+(k+1)*step, table+5*k)
	}
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", first)
	return b.Bytes()
}
