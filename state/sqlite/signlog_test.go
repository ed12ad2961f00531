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
	"runtime"
	"slices"
	"strconv"
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

// The log writer's connection, on which Record's commit is made, and the
// pool's commit with synchronous=FULL: in WAL mode NORMAL would not sync a
// commit, and a power loss would lose records whose Record had returned.
func TestSigningLogSyncsCommits(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if _, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	pool, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for name, c := range map[string]*sql.Conn{"the log writer's": s.signw.conn, "a pool": pool} {
		var sync int
		if err := c.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
			t.Errorf("%s connection: synchronous %d, %v; want 2 (FULL)", name, sync, err)
		}
	}
}

// Close returns only once the group in flight is answered: the log writer
// holds a record while another connection holds the write lock, and Close
// must not return before the record's caller has its answer (here the
// busy error, the writer's wait for the lock cut short).
func TestSigningLogCloseWaits(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if _, err := s.signw.conn.ExecContext(t.Context(), "PRAGMA busy_timeout = 100"); err != nil {
		t.Fatal(err)
	}
	lock, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	e := &logEntry{rec: state.SignRecord{Surface: "rest", Key: "demo/k", Result: "ok"}.Stored(), done: make(chan struct{})}
	s.logs <- e // taken by the writer, which waits for the lock
	closed := make(chan struct{})
	var closeErr error
	go func() { closeErr = s.Close(); close(closed) }()
	select {
	case <-closed:
		select {
		case <-e.done:
		default:
			t.Error("Close returned before the record in flight was answered")
		}
	case <-e.done:
		if e.err == nil {
			t.Error("the record was written while another connection held the write lock")
		}
	}
	if _, err := lock.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if <-closed; closeErr != nil {
		t.Error(closeErr)
	}
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
		return records, s.signw.unindexed
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
// and the fold moves it into the index without failing (the index, keyed
// by epoch, the hash's first digits and the record, must not refuse the
// second pair) and finds the record by it once.
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
	if s.signw.unindexed != 0 {
		t.Fatalf("%d hashes unindexed; want the fold to have run", s.signw.unindexed)
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
	s, _ := openBench(b, 0)
	benchRecord(b, s)
}

// BenchmarkRecordAged is BenchmarkRecord on a log of a million records
// (about 250 MB), written and folded as the log writer does: the cost of a
// record must not grow with the log.
func BenchmarkRecordAged(b *testing.B) {
	s, path := openBench(b, 1_000_000)
	benchRecord(b, s)
	if st, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(st.Size())/1e6, "MB")
	}
}

// BenchmarkWriteGroup is the log writer alone, writing groups of one size:
// how its CPU per record falls with the size of the group it commits.
func BenchmarkWriteGroup(b *testing.B) {
	for _, size := range []int{1, 8, 32} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			s, _ := openBench(b, 0)
			group := make([]*logEntry, size)
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i += size {
				for j := range group {
					group[j] = &logEntry{rec: benchRecordOf(int64(i + j)).Stored()}
				}
				if err := s.signw.insertRecords(group); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
		})
	}
}

// openBench opens a store in a new folder with n records written (without
// waiting for the disk: the benchmark's own records are).
func openBench(b *testing.B, n int) (*Store, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if n == 0 {
		return s, path
	}
	w := s.signw
	if _, err := w.conn.ExecContext(b.Context(), "PRAGMA synchronous = OFF"); err != nil {
		b.Fatal(err)
	}
	group := make([]*logEntry, maxGroup)
	for i := 0; i < n; i += len(group) {
		for j := range group {
			group[j] = &logEntry{rec: benchRecordOf(-int64(i + j + 1)).Stored()}
		}
		if err := w.insertRecords(group); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.conn.ExecContext(b.Context(), "PRAGMA synchronous = FULL"); err != nil {
		b.Fatal(err)
	}
	return s, path
}

// benchRecordOf returns a record as a single signing request makes, with
// a hash of its own for each i.
func benchRecordOf(i int64) state.SignRecord {
	sum := sha256.Sum256(binary.AppendVarint(nil, i))
	return state.SignRecord{Surface: "worker", Key: "demo/signer-p256", KeyID: "sha256:0123", Client: "127.0.0.1",
		RequestID: "0b6f2a3c-8a2e-4a57-9e0e-6f1d2c3b4a59", DigestAlg: "SHA-256", Hashes: []string{hex.EncodeToString(sum[:])}, Result: "ok"}
}

// benchRecord records b.N records from 32 callers at once and reports the
// process's CPU time per record.
func benchRecord(b *testing.B, s *Store) {
	var n atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 callers, as make bench's clients
	cpu0 := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Record(context.Background(), benchRecordOf(n.Add(1))); err != nil {
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
	b.SetParallelism(max(1, 4/runtime.GOMAXPROCS(0))) // 4 callers, as make bench's batch clients
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
	s := openMigrated(t, "CREATE TABLE signlog_indexed", func(v int) []string {
		return []string{
			fmt.Sprintf("PRAGMA user_version = %d", v),
			"INSERT INTO signlog (id, time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result) VALUES (1, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', 'aa,bb', 'ok'), (2, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', 'cc', 'ok')",
			"INSERT INTO signlog_hash (hash, id) VALUES ('aa', 1), ('bb', 1)",
			"INSERT INTO signlog_hash_recent (hash, id) VALUES ('cc', 2)",
		}
	})
	for h, id := range map[string]int64{"aa": 1, "bb": 1, "cc": 2} {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("hash %s: %+v, %v; want record %d", h, got, err, id)
		}
	}
	if s.signw.unindexed != 0 {
		t.Errorf("%d unindexed hashes after the migration, want 0", s.signw.unindexed)
	}
}

// A database from before the epochs of the hash index (its hashes in
// signlog_hash up to the mark, the later ones in their records' hashes
// column, a record of the first schema with its hashes column in capitals)
// finds every record after the migration, before and after the log writer
// folds the unindexed ones into signlog_hix, and no longer has signlog_key.
func TestSigningLogMigrateEpochs(t *testing.T) {
	t.Parallel()
	h := func(i int) string { return fmt.Sprintf("%016x%048x", 0xfeed0000+i, i) }
	s := openMigrated(t, "CREATE TABLE signlog_hix", func(v int) []string {
		return []string{
			fmt.Sprintf("PRAGMA user_version = %d", v),
			fmt.Sprintf(`INSERT INTO signlog (id, time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result) VALUES
				(1, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', '%s', 'ok'),
				(2, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', '%s,%s', 'ok'),
				(3, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', '%s,%s', 'ok')`, strings.ToUpper(h(1)), h(2), h(3), h(4), h(5)),
			fmt.Sprintf("INSERT INTO signlog_hash (hash, id) VALUES ('%s', 1), ('%s', 2), ('%s', 2)", h(1), h(2), h(3)),
			"UPDATE signlog_indexed SET id = 2",
		}
	})
	want := map[string]int64{h(1): 1, strings.ToUpper(h(1)): 1, h(2): 2, h(3): 2, h(4): 3, h(5): 3}
	findEach(t, s, want, "migrated")
	if s.signw.unindexed != 2 || s.signw.folds != 0 {
		t.Errorf("migrated: %d unindexed hashes, %d folds; want 2, 0", s.signw.unindexed, s.signw.folds)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'signlog_key'").Scan(&n); err != nil || n != 0 {
		t.Errorf("signlog_key: %d, %v; want dropped", n, err)
	}
	_, id := recordFold(t, s, h, 100)
	want[h(100+foldAt/2)] = id
	if err := s.db.QueryRow("SELECT count(*) FROM signlog_hix").Scan(&n); err != nil || n != foldAt+2 || s.signw.unindexed != 0 {
		t.Errorf("folded: %d hashes in signlog_hix, %v, %d unindexed; want %d, 0", n, err, s.signw.unindexed, foldAt+2)
	}
	findEach(t, s, want, "folded")
}

// The index of each epoch finds its records, and a hash is found by the
// whole of it: not by another one with the same first 16 digits, nor by
// its first 16 digits.
func TestSigningLogEpochs(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	// Each record passes foldAt: folded at once, one fold per record.
	ids := map[string]int64{}
	for f := range foldsPerEpoch + 2 {
		var hs []string
		for i := range foldAt {
			hs = append(hs, fmt.Sprintf("%016x%048x", f*foldAt+i, f))
		}
		r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: hs, Result: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		ids[hs[f]] = r.ID
	}
	if s.signw.folds != foldsPerEpoch+2 || s.signw.unindexed != 0 {
		t.Fatalf("%d folds, %d unindexed hashes; want %d, 0", s.signw.folds, s.signw.unindexed, foldsPerEpoch+2)
	}
	var epochs int
	if err := s.db.QueryRow("SELECT count(DISTINCT epoch) FROM signlog_hix").Scan(&epochs); err != nil || epochs != 2 {
		t.Errorf("%d epochs, %v; want 2", epochs, err)
	}
	// The same first 16 digits as a record of the last fold, past the
	// mark.
	last := fmt.Sprintf("%016x%048x", (foldsPerEpoch+1)*foldAt, foldsPerEpoch+1)
	twin := last[:16] + strings.Repeat("e", 48)
	r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: []string{twin}, Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	ids[twin] = r.ID
	ids[last] = ids[fmt.Sprintf("%016x%048x", (foldsPerEpoch+1)*foldAt+foldsPerEpoch+1, foldsPerEpoch+1)]
	for h, id := range ids {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("hash %s: %d records, %v; want record %d", h, len(got), err, id)
		}
	}
	if got, err := s.Search(t.Context(), state.SignQuery{Hash: last[:16]}); err != nil || len(got) != 0 {
		t.Errorf("the first 16 digits of a hash: %d records, %v; want none", len(got), err)
	}
}

// openMigrated opens a store over a database left at the schema before the
// migration that contains marker, with queries(v) run on it first (v: that
// schema's version), so that the migration meets an older store's rows.
func openMigrated(t *testing.T, marker string, queries func(v int) []string) *Store {
	t.Helper()
	v := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, marker) })
	if v < 0 {
		t.Fatalf("no migration contains %q", marker)
	}
	s, _ := openAt(t, v, queries(v))
	return s
}

// openAt opens a store over a database left at schema version v, with
// queries run on it first.
func openAt(t *testing.T, v int, queries []string) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(slices.Clone(migrations[:v]), queries...) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// A database of every earlier schema opens, finds the records it holds by
// each of their hashes in any case (a record of the first schema keeps its
// hashes column as recorded, capitals too), records, folds, and finds them
// all again, opened once more too.
func TestSigningLogMigrateEveryVersion(t *testing.T) {
	t.Parallel()
	h := func(i int) string { return fmt.Sprintf("%016x%048x", 0xbeef0000+i, i) }
	const signlogAt, recentAt, indexedAt = 2, 4, 6 // the versions that made signlog, signlog_hash_recent, signlog_indexed
	for v := range len(migrations) {
		t.Run(strconv.Itoa(v), func(t *testing.T) {
			t.Parallel()
			qs := []string{fmt.Sprintf("PRAGMA user_version = %d", v)}
			want := map[string]int64{}
			row := func(id int, hashes string) string {
				return fmt.Sprintf("INSERT INTO signlog (id, time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result) VALUES (%d, 0, 'rest', 'demo/k', '', '', '', '', 'SHA-256', '%s', 'ok')", id, hashes)
			}
			if v >= signlogAt {
				qs = append(qs, row(1, strings.ToUpper(h(1)+","+h(2))), fmt.Sprintf("INSERT INTO signlog_hash (hash, id) VALUES ('%s', 1), ('%s', 1)", h(1), h(2)))
				want[h(1)], want[strings.ToUpper(h(2))] = 1, 1
				switch {
				case v >= indexedAt: // past the mark
					qs = append(qs, row(2, h(3)+","+h(4)), "UPDATE signlog_indexed SET id = 1")
					want[h(3)], want[h(4)] = 2, 2
				case v >= recentAt:
					qs = append(qs, row(2, h(3)+","+h(4)), fmt.Sprintf("INSERT INTO signlog_hash_recent (hash, id) VALUES ('%s', 2), ('%s', 2)", h(3), h(4)))
					want[h(3)], want[h(4)] = 2, 2
				}
			}
			s, path := openAt(t, v, qs)
			findEach(t, s, want, "migrated")
			batch, id := recordFold(t, s, h, 100)
			if s.signw.unindexed != 0 || s.signw.folds != 1 {
				t.Errorf("%d unindexed hashes, %d folds; want 0, 1", s.signw.unindexed, s.signw.folds)
			}
			want[batch[0]], want[batch[foldAt-1]] = id, id
			findEach(t, s, want, "folded")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			findEach(t, s, want, "reopened")
		})
	}
}

// A group whose fold fails is rolled back whole: its callers get the
// error, its records are not stored, and the writer's count and list of
// unindexed hashes are as before it, so that the next fold indexes every
// record past the mark exactly once.
func TestSigningLogFoldFails(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	record := func(hs ...string) (int64, error) {
		r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: hs, Result: "ok"})
		return r.ID, err
	}
	exec := func(q string) {
		t.Helper()
		if _, err := s.db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(q, err)
		}
	}
	// a's hashes sort after the failed group's (a list sorted in place for
	// the fold would lose one of them when cut back), each with first 16
	// digits of its own (each its own key in the index).
	var a []string
	for i := range foldAt - 1 {
		a = append(a, fmt.Sprintf("%016x%048x", 1<<40+i, i))
	}
	aID, err := record(a...)
	if err != nil {
		t.Fatal(err)
	}
	// The fold fails at the failed group's second hash, once the first
	// hashes and some others are indexed.
	failed := []string{fmt.Sprintf("%016x%048x", 1, 0), fmt.Sprintf("%016x%048x", 2, 0)}
	exec("CREATE TRIGGER fail_fold BEFORE INSERT ON signlog_hix WHEN NEW.h = '" + failed[1][:16] + "' BEGIN SELECT RAISE(ABORT, 'injected'); END")
	if id, err := record(failed...); err == nil || !strings.Contains(err.Error(), "injected") || id != 0 {
		t.Fatalf("a group whose fold fails: ID %d, %v; want no ID and the injected error", id, err)
	}
	w := s.signw
	if w.unindexed != foldAt-1 || len(w.rest) != foldAt-2 || w.folds != 0 {
		t.Errorf("after the failed fold: %d unindexed hashes, %d listed, %d folds; want %d, %d, 0", w.unindexed, len(w.rest), w.folds, foldAt-1, foldAt-2)
	}
	exec("DROP TRIGGER fail_fold")
	last := []string{fmt.Sprintf("%016x%048x", 2<<40, 0), fmt.Sprintf("%016x%048x", 2<<40+1, 0)}
	lastID, err := record(last...)
	if err != nil {
		t.Fatal(err)
	}
	var indexed, folds int
	if err := s.db.QueryRow("SELECT (SELECT count(*) FROM signlog_hix), folds FROM signlog_indexed").Scan(&indexed, &folds); err != nil {
		t.Fatal(err)
	}
	if indexed != foldAt+1 || folds != 1 || w.folds != 1 || w.unindexed != 0 {
		t.Errorf("folded: %d hashes indexed, %d folds stored, %d counted, %d unindexed; want %d, 1, 1, 0", indexed, folds, w.folds, w.unindexed, foldAt+1)
	}
	// A search reads a's 8191 hashes back: a few of them (the last is
	// the one a sort in place would cut).
	want := map[string]int64{failed[0]: 0, failed[1]: 0, last[0]: lastID, last[1]: lastID, a[0]: aID, a[1]: aID, a[len(a)-1]: aID}
	for h, id := range want {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || (id == 0) != (len(got) == 0) || id != 0 && (len(got) != 1 || got[0].ID != id) {
			t.Errorf("hash %s: %d records, %v; want record %d", h, len(got), err, id)
		}
	}
}

// Every caller of a group that cannot be written gets the error, and the
// writer writes the groups after it. The insert fails slowly (some
// milliseconds of counting), so that the callers queue up behind the first
// group and are written in groups of several.
func TestSigningLogGroupFails(t *testing.T) {
	t.Parallel()
	s, _ := openTest(t)
	if _, err := s.db.ExecContext(t.Context(), `CREATE TRIGGER fail_insert BEFORE INSERT ON signlog
		WHEN (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000) SELECT max(n) FROM c) > 0
		BEGIN SELECT RAISE(ABORT, 'injected'); END`); err != nil {
		t.Fatal(err)
	}
	record := func(i int) error {
		_, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: []string{fmt.Sprintf("%064x", i)}, Result: "ok"})
		return err
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 32 {
		wg.Go(func() {
			if err := record(i); err != nil && strings.Contains(err.Error(), "injected") {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 32 {
		t.Errorf("%d of 32 callers got the error", failed.Load())
	}
	if _, err := s.db.ExecContext(t.Context(), "DROP TRIGGER fail_insert"); err != nil {
		t.Fatal(err)
	}
	if err := record(99); err != nil {
		t.Errorf("after the failed groups: %v", err)
	}
	if got, err := s.Search(t.Context(), state.SignQuery{Limit: 100}); err != nil || len(got) != 1 {
		t.Errorf("%d records, %v; want the one written after", len(got), err)
	}
}

// findEach requires each hash of want to find exactly its record in s.
func findEach(t *testing.T, s *Store, want map[string]int64, when string) {
	t.Helper()
	for h, id := range want {
		got, err := s.Search(t.Context(), state.SignQuery{Hash: h})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("%s: hash %s: %d records, %v; want record %d", when, h, len(got), err, id)
		}
	}
}

// recordFold records one batch of the foldAt hashes h(from) to
// h(from+foldAt-1), which makes the log writer fold, and returns them and
// the record's ID.
func recordFold(t *testing.T, s *Store, h func(int) string, from int) ([]string, int64) {
	t.Helper()
	batch := make([]string, foldAt)
	for i := range batch {
		batch[i] = h(from + i)
	}
	r, err := s.Record(t.Context(), state.SignRecord{Surface: "rest", Key: "demo/k", DigestAlg: "SHA-256", Hashes: batch, Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	return batch, r.ID
}
