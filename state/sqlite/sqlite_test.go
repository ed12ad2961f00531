package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/signet-project/signet/state"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// appendN appends n records and returns them.
func appendN(t *testing.T, s *Store, n int) []state.Entry {
	t.Helper()
	var out []state.Entry
	for i := range n {
		e, err := s.Append(t.Context(), state.Entry{
			Actor: "admin", Action: "token.activate", Target: fmt.Sprintf("token/t%d", i), Outcome: "ok",
			Details: map[string]string{"remote": "127.0.0.1", "b": "2", "a": "1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestAppendChains(t *testing.T) {
	s, _ := openTest(t)
	es := appendN(t, s, 3)
	for i, e := range es {
		if e.Seq != int64(i+1) || e.Time.IsZero() || len(e.Hash) != 32 {
			t.Fatalf("record %d: seq %d time %v hash %x", i, e.Seq, e.Time, e.Hash)
		}
		if i > 0 && string(e.Prev) != string(es[i-1].Hash) {
			t.Fatalf("record %d does not hold the hash of the one before", e.Seq)
		}
	}
	got, err := s.Entries(t.Context(), 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Seq != 2 || got[1].Target != "token/t2" || got[1].Details["b"] != "2" || !got[1].Time.Equal(es[2].Time) {
		t.Fatalf("Entries(1, 10) = %+v", got)
	}
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("Verify of an intact log: %v", err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  []string // SQL run on a log of 5 records
		wantSeq int64
	}{
		{"intact", nil, 0},
		{"edit middle outcome", []string{"UPDATE audit SET outcome = 'denied' WHERE seq = 3"}, 3},
		{"edit middle details", []string{`UPDATE audit SET details = '{"a":"9","b":"2","remote":"127.0.0.1"}' WHERE seq = 3`}, 3},
		{"edit middle time", []string{"UPDATE audit SET time = time + 1 WHERE seq = 3"}, 3},
		{"delete middle", []string{"DELETE FROM audit WHERE seq = 3"}, 3},
		{"delete middle and renumber", []string{"DELETE FROM audit WHERE seq = 3", "UPDATE audit SET seq = seq - 1 WHERE seq > 3"}, 3},
		{"reorder", []string{"UPDATE audit SET seq = 100 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 3", "UPDATE audit SET seq = 3 WHERE seq = 100"}, 2},
		{"edit last", []string{"UPDATE audit SET actor = 'nobody' WHERE seq = 5"}, 5},
		{"delete last", []string{"DELETE FROM audit WHERE seq = 5"}, 5},
		{"delete first", []string{"DELETE FROM audit WHERE seq = 1"}, 1},
		{"edit and rehash middle", []string{"UPDATE audit SET outcome = 'x', hash = zeroblob(32) WHERE seq = 3"}, 3},
		{"append forged", []string{"INSERT INTO audit SELECT 6, time, actor, action, target, outcome, details, hash, hash FROM audit WHERE seq = 5"}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTest(t)
			appendN(t, s, 5)
			for _, q := range tt.tamper {
				if _, err := s.db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, st := range []*Store{s, openRO(t, path)} {
				err := st.Verify(t.Context())
				if tt.wantSeq == 0 {
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					continue
				}
				var ce *state.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("Verify = %v, want a *state.ChainError", err)
				}
				if ce.Seq != tt.wantSeq {
					t.Fatalf("Verify names record %d (%v), want %d", ce.Seq, err, tt.wantSeq)
				}
			}
		})
	}
}

func openRO(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenReadOnly(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReadOnly(t *testing.T) {
	s, path := openTest(t)
	appendN(t, s, 2)
	s.Close()
	ro := openRO(t, path)
	if n, err := ro.VerifyCount(t.Context()); err != nil || n != 2 {
		t.Fatalf("VerifyCount = %d, %v; want 2 records", n, err)
	}
	if _, err := ro.Append(t.Context(), state.Entry{Actor: "x"}); err == nil {
		t.Fatal("Append on a read-only store succeeded")
	}
	if _, err := ro.Reserve(t.Context(), "k", 1, -1); err == nil {
		t.Fatal("Reserve on a read-only store succeeded")
	}
	if _, err := OpenReadOnly(t.Context(), filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Fatal("OpenReadOnly of a missing file succeeded")
	}
}

func TestSchemaVersion(t *testing.T) {
	s, path := openTest(t)
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(t.Context(), path); err == nil {
		t.Fatal("Open of a database with a newer schema succeeded")
	}
}

func TestReserve(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	steps := []struct {
		key      string
		n, limit int64
		want     int64
		limitErr bool
	}{
		{"a", 3, 5, 3, false},
		{"a", 2, 5, 5, false},
		{"a", 1, 5, 5, true},
		{"b", 10, -1, 10, false}, // no limit: counts anyway
		{"b", 0, 5, 10, false},   // nothing asked: nothing passes the limit
		{"b", 1, 5, 10, true},
		{"c", 6, 5, 0, true}, // a batch larger than the limit is refused whole
		{"c", 5, 5, 5, false},
	}
	for i, st := range steps {
		got, err := s.Reserve(ctx, st.key, st.n, st.limit)
		if st.limitErr != errors.Is(err, state.ErrLimit) || (!st.limitErr && err != nil) {
			t.Fatalf("step %d: Reserve(%s, %d, %d) error %v, want limit error %v", i, st.key, st.n, st.limit, err, st.limitErr)
		}
		if got != st.want {
			t.Fatalf("step %d: Reserve(%s, %d, %d) = %d, want %d", i, st.key, st.n, st.limit, got, st.want)
		}
	}
	if _, err := s.Reserve(ctx, "a", -1, -1); err == nil {
		t.Fatal("Reserve of a negative number succeeded")
	}
}

// TestReserveConcurrent: many goroutines reserving single signatures and
// batches never get more than the limit, and the limit is reached exactly.
func TestReserveConcurrent(t *testing.T) {
	s, path := openTest(t)
	const limit = 500
	var granted atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				n := int64(1)
				if g%2 == 0 && i%2 == 0 {
					n = 7 // half the goroutines mix batches with single signatures
				}
				_, err := s.Reserve(context.Background(), "key", n, limit)
				if errors.Is(err, state.ErrLimit) {
					if n == 1 {
						return // only a single signature refused means the limit is reached
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(n)
			}
		})
	}
	wg.Wait()
	if granted.Load() != limit {
		t.Fatalf("granted %d signatures, want exactly %d", granted.Load(), limit)
	}
	s.Close()
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, err := s2.Count(t.Context(), "key"); err != nil || c != limit {
		t.Fatalf("after reopening Count = %d, %v; want %d", c, err, limit)
	}
	if _, err := s2.Reserve(t.Context(), "key", 1, limit); !errors.Is(err, state.ErrLimit) {
		t.Fatalf("after reopening Reserve = %v, want the limit error", err)
	}
}

func TestClosed(t *testing.T) {
	s, _ := openTest(t)
	s.Close()
	done := make(chan error, 1)
	go func() { _, err := s.Reserve(context.Background(), "k", 1, -1); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Reserve after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reserve after Close blocks")
	}
}

func BenchmarkReserve(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Reserve(context.Background(), "k", 1, -1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestLease: while the store is open the database holds at least every
// signature granted (a crash loses none: it over-counts at most Lease), and
// Close writes the exact count back.
func TestLease(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	stored := func() int64 {
		t.Helper()
		var c int64
		if err := s.db.QueryRowContext(ctx, "SELECT count FROM key_usage WHERE key = 'k'").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := int64(1); i <= 3*Lease; i++ {
		n := 1 + i%3
		if _, err := s.Reserve(ctx, "k", n, -1); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Count(ctx, "k")
		if st := stored(); st < got || st > got+Lease+n {
			t.Fatalf("after granting %d the database holds %d, want between %d and %d", got, st, got, got+Lease+n)
		}
	}
	// A limit shrinks the lease to a sixteenth of what it leaves, and the
	// database never holds more than the limit.
	for i := int64(1); i <= 1000; i++ {
		if _, err := s.Reserve(ctx, "limited", 1, 1000); err != nil {
			t.Fatal(err)
		}
		var c int64
		if err := s.db.QueryRowContext(ctx, "SELECT count FROM key_usage WHERE key = 'limited'").Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c < i || c > i+(1000-i)/16+1 {
			t.Fatalf("after granting %d of 1000 the database holds %d", i, c)
		}
	}
	want, _ := s.Count(ctx, "k")
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for key, w := range map[string]int64{"k": want, "limited": 1000} {
		if got, err := s2.Count(ctx, key); err != nil || got != w {
			t.Fatalf("after Close and Open %s counts %d, %v; want %d", key, got, err, w)
		}
	}
}

// TestCrash copies the database files while the store runs, as a crash
// would leave them: the copy counts every signature granted, at most Lease
// more, and a limited key never more than its limit.
func TestCrash(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	for range 300 {
		if _, err := s.Reserve(ctx, "free", 1, -1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Reserve(ctx, "limited", 1, 200); err != nil && !errors.Is(err, state.ErrLimit) {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Open(ctx, crashed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Count(ctx, "free"); err != nil || n < 300 || n > 300+Lease {
		t.Fatalf("after a crash free counts %d, %v; want 300 to %d", n, err, 300+Lease)
	}
	if n, err := c.Count(ctx, "limited"); err != nil || n != 200 {
		t.Fatalf("after a crash limited counts %d, %v; want 200", n, err)
	}
}

// TestCommitsWithFdatasync: on Linux, an open store makes SQLite commit
// with fdatasync, as SQLite's own builds there do (see useFdatasync).
func TestCommitsWithFdatasync(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync is switched on where the system has it; this checks Linux")
	}
	openTest(t)
	if !sqlite.FdatasyncEnabled() {
		t.Fatal("SQLite commits with fsync after Open; want fdatasync")
	}
}
