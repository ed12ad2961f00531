package state

import (
	"context"
	"path/filepath"
	"testing"
)

// entries is an Audit whose records are given (Entries only).
type entries struct {
	Audit
	es []Entry
}

func (a entries) Entries(_ context.Context, after int64, limit int) ([]Entry, error) {
	var out []Entry
	for _, e := range a.es {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// TestSealTail: only the one record a kill between commit and seal leaves
// past the sealed head is sealed; a log that differs otherwise is left for
// CheckHead to refuse.
func TestSealTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemory()
	for range 4 {
		if _, err := m.Append(ctx, Entry{Actor: "a", Action: "x", Target: "t", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	log, _ := m.Entries(ctx, 0, 0)
	edited := func(i int, f func(*Entry)) []Entry {
		es := append([]Entry(nil), log...)
		f(&es[i])
		return es
	}
	for _, tc := range []struct {
		name   string
		sealed int64 // the head sealed: record number, 0 none
		es     []Entry
		want   int64
	}{
		{"first record, no head", 0, log[:1], 1},
		{"one record past the head", 2, log[:3], 3},
		{"at the head", 3, log[:3], 0},
		{"two records past the head", 2, log, 0},
		{"two records, no head", 0, log[:2], 0},
		{"last record edited", 2, edited(2, func(e *Entry) { e.Outcome = "forged" })[:3], 0},
		{"last record does not follow the head", 2, edited(2, func(e *Entry) { e.Prev = log[0].Hash; e.Hash = Hash(*e) })[:3], 0},
		{"head record replaced", 2, edited(1, func(e *Entry) { e.Hash = log[0].Hash })[:3], 0},
		{"log cut before the head", 3, log[:2], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seal, err := OpenSeal(filepath.Join(t.TempDir(), "key"), true)
			if err != nil {
				t.Fatal(err)
			}
			if tc.sealed > 0 {
				if err := seal.Write(Head{Seq: tc.sealed, Hash: log[tc.sealed-1].Hash}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := SealTail(ctx, entries{es: tc.es}, seal)
			if err != nil || got != tc.want {
				t.Fatalf("SealTail: %d, %v; want %d", got, err, tc.want)
			}
			h, err := seal.Read()
			switch {
			case tc.want > 0 && (err != nil || h.Seq != tc.want):
				t.Fatalf("sealed head after SealTail: %+v, %v; want record %d", h, err, tc.want)
			case tc.want == 0 && tc.sealed > 0 && h.Seq != tc.sealed:
				t.Fatalf("SealTail moved the head to %d", h.Seq)
			}
		})
	}
}
