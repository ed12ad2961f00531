package pades_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
)

// TestObjectLimitAndReservation: a document over MaxObjects is refused
// with a TooManyObjectsError before any memory is reserved, when its /Size
// or its classic table's entries say so (pdfcpu bounds neither a classic
// table's entries nor what a repair reads); one within the limit reserves
// Cost of the most objects its /Size, its tables and its object headers
// claim before parsing, whatever its /Size says, and gives it back once
// Prepare or Inspect returns; a refused reservation is the error returned.
func TestObjectLimitAndReservation(t *testing.T) {
	t.Parallel()
	classic := padestest.ManyObjects(5000, false)
	underDeclared := bytes.Replace(classic, []byte("/Size 5001 "), []byte("/Size 4    "), 1)
	if bytes.Equal(underDeclared, classic) {
		t.Fatal("the trailer of ManyObjects has changed")
	}
	small := padestest.GoPDF("reserved")
	updated := padestest.RewriteObjects(classic, 4, 5000)
	// Its startxref points into the middle of an object: pdfcpu repairs
	// that by reading every object header, in a time quadratic in the
	// file's size and deaf to the context (64,000 one-line objects, 1.3
	// MB, took 14 s against a 3 s deadline and allocated 40 GB), holding
	// the reservation throughout; open refused the file after that anyway.
	at := bytes.LastIndex(classic, []byte("startxref\n")) + len("startxref\n")
	adrift := append(append(bytes.Clone(classic[:at]), "20"...), classic[at+bytes.IndexByte(classic[at:], '\n'):]...)
	// And one whose startxref points to an object that is not a
	// cross-reference stream: pdfcpu repairs that too, and accepted it.
	toObject := append(append(bytes.Clone(classic[:at]), strconv.Itoa(bytes.Index(classic, []byte("4 0 obj")))...), classic[at+bytes.IndexByte(classic[at:], '\n'):]...)
	// An older cross-reference stream whose /Size exceeds the limit: pdfcpu
	// refuses its /Size by repairing the file (see above).
	streams := padestest.ManyObjects(50, true)
	bigStream := padestest.RewriteObjects(bytes.Replace(streams, []byte("/Size 53 "), []byte("/Size 99999 "), 1), 4, 10)
	if bytes.Equal(bigStream[:len(streams)], streams) {
		t.Fatal("the cross-reference stream of ManyObjects has changed")
	}
	// Or whose trailer's /Prev does.
	prevToObject := bytes.Replace(classic, []byte("/Root 1 0 R >>"), []byte("/Root 1 0 R /Prev "+strconv.Itoa(bytes.Index(classic, []byte("4 0 obj")))+" >>"), 1)
	busy := errors.New("busy")
	cases := []struct {
		name      string
		doc       []byte
		max       int
		refuse    error // what Reserve answers
		reserved  int64 // the reservation expected; 0: none
		objects   int   // TooManyObjectsError.Objects expected; 0: no such error
		wantError error
	}{
		{"classic table over the limit", classic, 4000, nil, 0, 5000, nil},
		{"object streams over the limit", padestest.ManyObjects(5000, true), 4000, nil, 0, 5051, nil},
		{"declares fewer than its table lists, over the limit", underDeclared, 4000, nil, 0, 5000, nil},
		{"declares fewer than its table lists", underDeclared, 6000, nil, pades.Cost(5000, len(underDeclared)), 0, nil},
		{"at the limit", classic, 5000, nil, pades.Cost(5000, len(classic)), 0, nil},
		// Its tables list 9997 entries, but of 5000 objects: pdfcpu reads
		// an object's newest entry only, and so is the limit counted.
		{"an update rewrote its objects", updated, 6000, nil, pades.Cost(6000, len(updated)), 0, nil},
		{"an update rewrote its objects, over the limit", updated, 4000, nil, 0, 5000, nil},
		// pdfcpu keeps an entry for each free one too: 5000 of them, in a
		// 100 KB file, would be charged as 3 objects.
		{"free entries over the limit", padestest.FreeEntries(5000), 4000, nil, 0, 5003, nil},
		{"free entries", padestest.FreeEntries(100), 4000, nil, pades.Cost(103, len(padestest.FreeEntries(100))), 0, nil},
		{"small", small, 10, nil, pades.Cost(6, len(small)), 0, nil},
		{"reservation refused", small, 10, busy, pades.Cost(6, len(small)), 0, busy},
		{"startxref points to no section", adrift, 6000, nil, 0, 0, pades.ErrInvalidPDF},
		{"startxref points to an object, not a cross-reference stream", toObject, 6000, nil, 0, 0, pades.ErrInvalidPDF},
		{"a /Prev points to an object", prevToObject, 6000, nil, 0, 0, pades.ErrInvalidPDF},
		{"an older cross-reference stream's /Size over the limit", bigStream, 4000, nil, 0, 99998, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reserved, released int64
			lim := pades.Limits{MaxObjects: c.max, Reserve: func(_ context.Context, n int64) (func(), error) {
				reserved += n
				if c.refuse != nil {
					return nil, c.refuse
				}
				return func() { released += n }, nil
			}}
			for _, op := range []struct {
				name string
				run  func() error
			}{
				{"Prepare", func() error {
					_, err := pades.Prepare(context.Background(), c.doc, pades.Options{ContentsSize: 100, Limits: lim})
					return err
				}},
				{"Inspect", func() error { _, err := pades.Inspect(context.Background(), c.doc, lim); return err }},
			} {
				reserved, released = 0, 0
				err := op.run()
				var many *pades.TooManyObjectsError
				switch {
				case c.objects != 0:
					if !errors.As(err, &many) || many.Objects != c.objects || many.Limit != c.max || !errors.Is(err, pades.ErrInvalidPDF) {
						t.Errorf("%s: error %v, want %d objects over the limit of %d", op.name, err, c.objects, c.max)
					}
				case c.wantError != nil:
					if !errors.Is(err, c.wantError) {
						t.Errorf("%s: error %v, want %v", op.name, err, c.wantError)
					}
				case err != nil:
					t.Errorf("%s: %v", op.name, err)
				}
				if reserved != c.reserved {
					t.Errorf("%s: reserved %d bytes, want %d", op.name, reserved, c.reserved)
				}
				if c.refuse == nil && released != reserved {
					t.Errorf("%s: released %d of the %d bytes reserved", op.name, released, reserved)
				}
			}
		})
	}
}
