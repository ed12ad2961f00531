package sqlite

import (
	"bytes"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
)

func TestArchive(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	old := time.Now().Add(-48 * time.Hour)
	items := []state.ArchiveItem{
		{RequestID: "r1", Worker: "CAdESSigner", Request: []byte("doc"), Response: []byte("sig"), Time: old},
		{RequestID: "r2", Worker: "CAdESSigner", Response: []byte("sig2")},
		{RequestID: "r3", Worker: "PlainSigner", Request: []byte("doc3"), Time: old},
	}
	for _, it := range items {
		if err := s.Put(t.Context(), it); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(t.Context(), "r1")
	if err != nil || len(got) != 1 || !bytes.Equal(got[0].Request, []byte("doc")) || !bytes.Equal(got[0].Response, []byte("sig")) {
		t.Fatalf("Get(r1) = %+v, %v", got, err)
	}
	n, err := s.Purge(t.Context(), "CAdESSigner", time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]int{"r1": 0, "r2": 1, "r3": 1} {
		if got, _ := s.Get(t.Context(), id); len(got) != want {
			t.Errorf("after purge, %s has %d items, want %d", id, len(got), want)
		}
	}
}
