package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// BenchmarkRecord is the signing log of one node under make bench's
// http-single-p256: 32 callers at once, one record of one hash each. It
// reports this process's CPU time per record, and that of every process
// named postgres on the machine (the test server's, and any other's).
func BenchmarkRecord(b *testing.B) {
	url, err := server.NewDatabase(b.Context(), "bench"+strconv.FormatInt(dbSeq.Add(1), 10))
	if err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.Context(), url, Options{Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	b.SetParallelism(16) // 32 goroutines on two cores
	cpu0, pg0 := cpuTime(), postgresCPU()
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
	b.ReportMetric(float64((postgresCPU()-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/record")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the user and system CPU time of the processes named
// postgres, from /proc (clock ticks of 10 ms).
func postgresCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+1:]) // state is f[0]: utime and stime are fields 14 and 15 of the line
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// A database at the schema before signlog_key was dropped keeps its
// records, found by every search, and loses the index.
func TestSigningLogMigrateKeyIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, err := server.NewDatabase(ctx, "migkey"+strconv.FormatInt(dbSeq.Add(1), 10))
	if err != nil {
		t.Fatal(err)
	}
	v := slices.IndexFunc(migrations, func(m string) bool { return strings.Contains(m, "DROP INDEX signlog_key") })
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:v] {
		if _, err := conn.Exec(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE signet_schema (version int NOT NULL); INSERT INTO signet_schema (version) VALUES (%d)", v),
		`INSERT INTO signlog (time, surface, key, key_id, usr, client, request_id, digest_alg, hashes, result, node)
			VALUES (0, 'rest', 'demo/k', '', 'u', '', 'r1', 'SHA-256', '{aa,bb}', 'ok', 'n1')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	conn.Close(ctx)
	s, err := Open(ctx, url, Options{Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Record(ctx, state.SignRecord{Surface: "rest", Key: "demo/k", User: "u", RequestID: "r2", DigestAlg: "SHA-256", Hashes: []string{"cc"}, Result: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    state.SignQuery
		want []int64
	}{
		{state.SignQuery{Hash: "bb"}, []int64{1}},
		{state.SignQuery{Hash: "cc"}, []int64{r.ID}},
		{state.SignQuery{Key: "k"}, []int64{1, r.ID}},
		{state.SignQuery{Key: "demo/k", RequestID: "r1"}, []int64{1}},
	} {
		got, err := s.Search(ctx, tc.q)
		var ids []int64
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		if err != nil || !slices.Equal(ids, tc.want) {
			t.Errorf("search %+v: %v, %v; want %v", tc.q, ids, err, tc.want)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = 'signlog_key'").Scan(&n); err != nil || n != 0 {
		t.Errorf("signlog_key: %d, %v; want dropped", n, err)
	}
}

// Records written together in one group get the IDs their hashes find,
// and a record without hashes is stored with none.
func TestSigningLogGroupIDs(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 1)
	s := stores[0]
	ids := make([]int64, 64)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			r := state.SignRecord{Surface: "dsm", Key: "demo/k", DigestAlg: "SHA-256", Result: "ok"}
			for j := range i % 3 {
				r.Hashes = append(r.Hashes, fmt.Sprintf("%02x%02x", i, j))
			}
			got, err := s.Record(t.Context(), r)
			if err != nil {
				t.Error(err)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	all, err := s.Search(t.Context(), state.SignQuery{Limit: 1000})
	if err != nil || len(all) != len(ids) {
		t.Fatalf("%d records, %v; want %d", len(all), err, len(ids))
	}
	byID := map[int64]state.SignRecord{}
	for _, r := range all {
		byID[r.ID] = r
	}
	for i, id := range ids {
		r := byID[id]
		if len(r.Hashes) != i%3 {
			t.Errorf("record %d (id %d) has hashes %v, want %d", i, id, r.Hashes, i%3)
			continue
		}
		for j, h := range r.Hashes {
			if want := fmt.Sprintf("%02x%02x", i, j); h != want {
				t.Errorf("record %d (id %d) hash %d is %s, want %s", i, id, j, h, want)
			}
		}
	}
}
