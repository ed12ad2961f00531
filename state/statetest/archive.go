package statetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
)

// Archive puts items in a, which must be empty, and checks that they are
// found by request ID as they were put, and purged by worker and age.
func Archive(t *testing.T, a state.Archive) {
	t.Helper()
	items := []state.ArchiveItem{
		{RequestID: "r1", Time: t0, Worker: "CAdESSigner", Request: []byte("doc"), Response: []byte("sig"),
			RequestSize: 3, RequestSHA256: "aa", ResponseSize: 3, ResponseSHA256: "bb"},
		{RequestID: "r2", Time: t0.Add(time.Hour), Worker: "CAdESSigner", Response: []byte("sig2"),
			RequestSize: -1, ResponseSize: 4, ResponseSHA256: "cc"},
		{RequestID: "r3", Time: t0, Worker: "PlainSigner", RequestSize: 300 << 20, RequestSHA256: "dd", ResponseSize: -1},
		{RequestID: "r1", Time: t0.Add(2 * time.Hour), Worker: "PDFSigner", Request: []byte{}, RequestSize: 0, RequestSHA256: "ee", ResponseSize: -1},
	}
	for _, it := range items {
		if err := a.Put(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	same := func(got, want state.ArchiveItem) bool {
		got.Time = got.Time.UTC()
		// A database may read an empty blob back as nil.
		if len(got.Request) == 0 && len(want.Request) == 0 {
			got.Request, want.Request = nil, nil
		}
		return reflect.DeepEqual(got, want)
	}
	got, err := a.Get(t.Context(), "r1")
	if err != nil || len(got) != 2 || !same(got[0], items[0]) || !same(got[1], items[3]) {
		t.Fatalf("Get(r1) = %+v, %v; want items 1 and 4 as put", got, err)
	}
	if got, err := a.Get(t.Context(), "r3"); err != nil || len(got) != 1 || !same(got[0], items[2]) {
		t.Fatalf("Get(r3) = %+v, %v", got, err)
	}
	if got, err := a.Get(t.Context(), "none"); err != nil || len(got) != 0 {
		t.Fatalf("Get(none) = %+v, %v", got, err)
	}
	tests := []struct {
		worker string
		before time.Time
		n      int64
	}{
		{"CAdESSigner", t0, 0},                  // before is exclusive
		{"CAdESSigner", t0.Add(time.Minute), 1}, // r1's first item
		{"CAdESSigner", t0.Add(time.Minute), 0}, // again: nothing left that old
		{"Nobody", t0.Add(24 * time.Hour), 0},   // another worker's items stay
		{"PlainSigner", t0.Add(24 * time.Hour), 1},
	}
	for _, tt := range tests {
		if n, err := a.Purge(t.Context(), tt.worker, tt.before); err != nil || n != tt.n {
			t.Errorf("Purge(%s, %v) = %d, %v; want %d", tt.worker, tt.before, n, err, tt.n)
		}
	}
	for id, want := range map[string]int{"r1": 1, "r2": 1, "r3": 0} {
		if got, _ := a.Get(t.Context(), id); len(got) != want {
			t.Errorf("after the purges %s has %d items, want %d", id, len(got), want)
		}
	}
}
