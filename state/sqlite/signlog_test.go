package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/statetest"
)

func TestSigningLog(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	var wg sync.WaitGroup
	ids := make([]int64, 50)
	for i := range 50 {
		wg.Go(func() {
			r := state.SignRecord{Surface: "dsm", Key: "demo/signer-p256", User: "demo", Client: "127.0.0.1",
				DigestAlg: "SHA-256", Hashes: []string{fmt.Sprintf("%064X", i), fmt.Sprintf("%064x", 1000+i)}, Result: "ok"}
			if i%2 == 1 {
				r.Key = "demo/signer-rsa"
			}
			got, err := s.Record(t.Context(), r)
			if err != nil {
				t.Error(err)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	tests := []struct {
		name string
		q    state.SignQuery
		want int
	}{
		{"all", state.SignQuery{Limit: 1000}, 50},
		{"default limit", state.SignQuery{}, 50},
		{"by hash, any case", state.SignQuery{Hash: fmt.Sprintf("%064x", 7)}, 1},
		{"by second hash of a batch", state.SignQuery{Hash: fmt.Sprintf("%064x", 1007)}, 1},
		{"by key", state.SignQuery{Key: "demo/signer-rsa"}, 25},
		{"by alias", state.SignQuery{Key: "signer-rsa"}, 25},
		{"by a prefix of an alias", state.SignQuery{Key: "signer"}, 0},
		{"unknown user", state.SignQuery{User: "nobody"}, 0},
		{"paged", state.SignQuery{After: 45}, 5},
	}
	for _, tt := range tests {
		got, err := s.Search(t.Context(), tt.q)
		if err != nil || len(got) != tt.want {
			t.Errorf("%s: %d records, %v; want %d", tt.name, len(got), err, tt.want)
		}
	}
	got, _ := s.Search(t.Context(), state.SignQuery{Hash: fmt.Sprintf("%064x", 7)})
	if len(got) == 1 && (got[0].User != "demo" || len(got[0].Hashes) != 2 || got[0].Time.IsZero()) {
		t.Errorf("record %+v", got[0])
	}
	// Records written together in one group get the ids their hashes
	// find.
	for i, id := range ids {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: fmt.Sprintf("%064x", 1000+i)})
		if err != nil || len(got) != 1 || got[0].ID != id || got[0].Hashes[0] != fmt.Sprintf("%064x", i) {
			t.Errorf("record %d (id %d) by its hash: %+v, %v", i, id, got, err)
		}
	}
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
}

func TestSigningLogSearch(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	statetest.SigningLogSearch(t, s)
}

// Hashes are found before and after the log writer moves them into the
// index, and a store opened again counts the unindexed ones.
func TestSigningLogFold(t *testing.T) {
	t.Parallel()
	s, path := openTest(t)
	hashes := func(from, n int) []string {
		var hs []string
		for i := range n {
			hs = append(hs, fmt.Sprintf("%064x", from+i))
		}
		return hs
	}
	record := func(s *Store, hs []string) int64 {
		r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/signer-p256", DigestAlg: "SHA-256", Hashes: hs, Result: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	// unindexed is the number of records past the mark, and the store's
	// count of their hashes.
	unindexed := func(s *Store) (records, hashes int) {
		if err := s.db.QueryRowContext(t.Context(), "SELECT count(*) FROM signlog WHERE id > (SELECT id FROM signlog_indexed)").Scan(&records); err != nil {
			t.Fatal(err)
		}
		return records, s.unindexed
	}
	find := func(s *Store, h string, want int64) {
		t.Helper()
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("hash %s: %v, %v; want record %d", h, got, err, want)
		}
	}
	first := record(s, hashes(0, foldAt-1))
	if r, h := unindexed(s); r != 1 || h != foldAt-1 {
		t.Fatalf("%d unindexed records, %d hashes; want 1, %d", r, h, foldAt-1)
	}
	find(s, hashes(5, 1)[0], first)
	second := record(s, hashes(foldAt, 2)) // passes foldAt: all move
	if r, h := unindexed(s); r != 0 || h != 0 {
		t.Errorf("%d unindexed records, %d hashes after passing foldAt; want none", r, h)
	}
	find(s, hashes(5, 1)[0], first)
	find(s, hashes(foldAt+1, 1)[0], second)
	record(s, nil) // a record without hashes, past the mark
	third := record(s, hashes(2*foldAt, 1))
	find(s, hashes(2*foldAt, 1)[0], third)
	// Past the mark a hash is matched whole, not as part of another.
	for _, part := range []string{hashes(2*foldAt, 1)[0][:40], hashes(2*foldAt, 1)[0][1:]} {
		if got, err := s.Search(t.Context(), state.SignQuery{Hash: part}); err != nil || len(got) != 0 {
			t.Errorf("part of a hash %s: %d records, %v; want none", part, len(got), err)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if r, h := unindexed(s2); r != 2 || h != 1 {
		t.Errorf("reopened: %d unindexed records, %d hashes counted; want 2, 1", r, h)
	}
	find(s2, hashes(2*foldAt, 1)[0], third)
	find(s2, hashes(foldAt, 1)[0], second)
}

// A batch may sign the same digest twice: its record holds the hash twice,
// and the fold moves it into the index without failing (an index keyed by
// hash and record must not refuse the second pair) and finds the record by
// it once.
func TestSigningLogFoldDuplicateHash(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	hs := make([]string, foldAt)
	for i := range hs {
		hs[i] = fmt.Sprintf("%064x", i%(foldAt-1)) // the last is the first again
	}
	r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/signer-p256", DigestAlg: "SHA-256", Hashes: hs, Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if s.unindexed != 0 {
		t.Fatalf("%d hashes unindexed; want the fold to have run", s.unindexed)
	}
	got, err := s.Search(t.Context(), state.SignQuery{Hash: hs[0]})
	if err != nil || len(got) != 1 || got[0].ID != r.ID || len(got[0].Hashes) != foldAt {
		t.Errorf("the repeated hash finds %+v, %v; want record %d with its %d hashes", got, err, r.ID, foldAt)
	}
}

// BenchmarkRecord is the signing log under make bench's http-single-p256:
// 32 callers at once, one record of one hash each, so that records are
// group-committed as they are there. It reports the process's CPU time per
// record, which unlike the rate does not depend on the disk's fsync time.
func BenchmarkRecord(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(16) // 32 goroutines on two cores
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256(binary.AppendVarint(nil, n.Add(1)))
			r := state.SignRecord{Surface: "worker", Key: "demo/signer-p256", KeyID: "sha256:0123", Client: "127.0.0.1",
				RequestID: "0b6f2a3c-8a2e-4a57-9e0e-6f1d2c3b4a59", DigestAlg: "SHA-256", Hashes: []string{hex.EncodeToString(sum[:])}, Result: "ok"}
			if _, err := s.Record(context.Background(), r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
}

// BenchmarkRecordBatch is the signing log under make bench's batch cases
// (http-batch-p256, http-dsm-batch-p256): 4 callers at once, one record of
// 1000 hashes each, their index written every foldAt hashes. It reports
// the process's CPU time per hash.
func BenchmarkRecordBatch(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const perRecord = 1000
	var n atomic.Int64
	b.SetParallelism(2) // 4 goroutines on two cores
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hs := make([]string, perRecord)
		for pb.Next() {
			for i := range hs {
				sum := sha256.Sum256(binary.AppendVarint(nil, n.Add(1)))
				hs[i] = hex.EncodeToString(sum[:])
			}
			r := state.SignRecord{Surface: "dsm", Key: "demo/signer-p256", KeyID: "sha256:0123", User: "bench", Client: "127.0.0.1",
				RequestID: "0b6f2a3c-8a2e-4a57-9e0e-6f1d2c3b4a59", DigestAlg: "SHA-256", Hashes: hs, Result: "ok"}
			if _, err := s.Record(context.Background(), r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*perRecord), "cpu-µs/hash")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A database whose latest hashes are in signlog_hash_recent (the schema
// before signlog_indexed) finds them after the migration.
func TestSigningLogMigrateRecent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	v := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "CREATE TABLE signlog_indexed") })
	for _, m := range migrations[:v] {
		if _, err := db.Exec(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf("PRAGMA user_version = %d", v),
		"INSERT INTO signlog (id, time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result) VALUES (1, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', 'aa,bb', 'ok'), (2, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', 'cc', 'ok')",
		"INSERT INTO signlog_hash (hash, id) VALUES ('aa', 1), ('bb', 1)",
		"INSERT INTO signlog_hash_recent (hash, id) VALUES ('cc', 2)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for h, id := range map[string]int64{"aa": 1, "bb": 1, "cc": 2} {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("hash %s: %+v, %v; want record %d", h, got, err, id)
		}
	}
	if s.unindexed != 0 {
		t.Errorf("%d unindexed hashes after the migration, want 0", s.unindexed)
	}
}
