package pades

import (
	"bytes"
	"context"
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
	f.Add([]byte("objendobj obj endobjobj enobj endendobj\nstartxref\n0\n"))
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
