package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/statetest"
)

// waitHealthy waits for the store's health to change until it is nil; the
// deadline bounds a store that never sees the disk come back.
func waitHealthy(t *testing.T, s *Store) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		changed := s.HealthChanged()
		if s.Health() == nil {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the store is still unhealthy 10 s after the disk has room again: %v", s.Health())
		}
	}
}

// TestHealthDiskFull: while the data folder's disk is full every write
// fails, and Health says why (for anyone: no path) until a write commits
// again; the store sees the room come back by itself, without a write of
// a caller, so that a server a load balancer drained is healthy again.
func TestHealthDiskFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	statetest.MountTiny(t, dir, 2<<20)
	path := filepath.Join(dir, "state.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	record := func(i int) error {
		_, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: []string{fmt.Sprintf("%064x", i)}, Result: "ok"})
		return err
	}
	if err := record(0); err != nil || s.Health() != nil {
		t.Fatalf("before the disk is full: %v, health %v", err, s.Health())
	}
	filler := statetest.Fill(t, dir)
	writes := []struct {
		name  string
		write func() error
	}{
		{"signing log record", func() error { return record(1) }},
		{"usage lease", func() error { _, err := s.Reserve(t.Context(), "k", Lease+1, -1); return err }},
		{"audit record", func() error {
			_, err := s.Append(t.Context(), state.Entry{Actor: "a", Action: "x", Target: "t", Outcome: "ok"})
			return err
		}},
	}
	for _, w := range writes {
		if err := w.write(); err == nil {
			t.Errorf("%s on a full disk succeeded", w.name)
		}
		h := s.Health()
		var we *WriteError
		if !errors.As(h, &we) || !errors.Is(h, state.ErrUnavailable) || !strings.Contains(h.Error(), "disk of the data folder is full") || strings.Contains(h.Error(), dir) {
			t.Errorf("health after a %s on a full disk: %v; want a WriteError naming the full disk, not the folder", w.name, h)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, s)
	for _, w := range writes {
		if err := w.write(); err != nil {
			t.Errorf("%s once the disk has room again: %v", w.name, err)
		}
	}
}
