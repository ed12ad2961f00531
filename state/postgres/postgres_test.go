package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	pgurl "net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/postgres/pgtest"
	"github.com/signet-project/signet/state/statetest"
)

// server is the PostgreSQL the tests share; each test has its own database.
var server *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = pgtest.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "PostgreSQL for the tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Close()
	os.Exit(code)
}

var dbSeq atomic.Int64

// openN opens n stores (nodes) on a new database.
func openN(t *testing.T, srv *pgtest.Server, n int) ([]*Store, string) {
	t.Helper()
	ctx := context.Background()
	url, err := srv.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	stores := make([]*Store, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range stores {
		wg.Go(func() { // nodes starting together migrate once
			stores[i], errs[i] = Open(ctx, url, Options{Node: fmt.Sprintf("node%d", i+1)})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		t.Cleanup(func() { s.Close() })
	}
	return stores, url
}

// TestLimitAcrossNodes: three nodes with eight clients each sign exactly the
// limit; a node that stops without giving its lease back (a crash) costs
// at most its lease, never a signature past the limit.
func TestLimitAcrossNodes(t *testing.T) {
	t.Parallel()
	const limit = 500
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			t.Parallel()
			stores, _ := openN(t, server, 3)
			ctx := context.Background()
			var crashed int64
			if crash {
				// The first node takes a few and then its process "dies":
				// its goroutines are simply no longer used.
				for range 7 {
					if _, err := stores[0].Reserve(ctx, "k", 1, limit); err != nil {
						t.Fatal(err)
					}
				}
				crashed = 7
				stores = stores[1:]
			}
			before := make([]int64, len(stores))
			for i, s := range stores {
				before[i] = s.RoundTrips()
			}
			var made atomic.Int64
			var wg sync.WaitGroup
			for _, s := range stores {
				for range 8 {
					wg.Go(func() {
						for {
							_, err := s.Reserve(ctx, "k", 1, limit)
							if errors.Is(err, state.ErrLimit) {
								return
							}
							if err != nil {
								t.Error(err)
								return
							}
							made.Add(1)
						}
					})
				}
			}
			wg.Wait()
			total := made.Load() + crashed
			if !crash && total != limit {
				t.Fatalf("the cluster made %d signatures, want exactly %d", total, limit)
			}
			if crash && (total > limit || total < limit-Lease) {
				t.Fatalf("after a crash the cluster made %d signatures, want between %d and %d", total, limit-Lease, limit)
			}
			var trips int64
			for i, s := range stores {
				trips += s.RoundTrips() - before[i]
			}
			t.Logf("%d signatures, %d round trips", made.Load(), trips)
			if trips > made.Load()/4 {
				t.Errorf("%d round trips for %d signatures: leases should make them rare", trips, made.Load())
			}
		})
	}
}

// TestLimitLowered: a node's lease, taken under the higher limit, grants
// nothing past a lowered one; it granted up to a lease (128) more.
func TestLimitLowered(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 1)
	statetest.LimitLowered(t, stores[0])
}

// TestLeaseGivenBack: a node that stops gives its unused lease back, so the
// others can make every signature of the limit.
func TestLeaseGivenBack(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 2)
	ctx := context.Background()
	if _, err := stores[0].Reserve(ctx, "k", 1, 100); err != nil {
		t.Fatal(err)
	}
	stores[0].Close()
	n := 0
	for ; ; n++ {
		if _, err := stores[1].Reserve(ctx, "k", 1, 100); err != nil {
			if !errors.Is(err, state.ErrLimit) {
				t.Fatal(err)
			}
			break
		}
	}
	if n != 99 {
		t.Fatalf("the second node made %d signatures after the first stopped, want 99", n)
	}
}

// TestIdleLeaseGivenBack: a node that stops signing with a key gives its
// unused lease back once it has been idle, so the other nodes can make
// every signature of the limit. It kept the lease until it closed: near the
// limit the others were refused (ErrLimit) while the idle node held up to an
// eighth of what was left.
func TestIdleLeaseGivenBack(t *testing.T) {
	t.Parallel()
	const limit = 100
	ctx := context.Background()
	url, err := server.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	tick := make(chan time.Time)
	idle, err := Open(ctx, url, Options{Node: "idle", LeaseTick: tick})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := Open(ctx, url, Options{Node: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := idle.Reserve(ctx, "k", 1, limit); err != nil {
		t.Fatal(err)
	}
	signUntilLimit := func() int {
		n := 0
		for ; ; n++ {
			if _, err := busy.Reserve(ctx, "k", 1, limit); err != nil {
				if !errors.Is(err, state.ErrLimit) {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	before := signUntilLimit()
	// The first tick finds the key used since the node started, the second
	// finds it idle and gives the lease back; the third is received only
	// once the second was handled.
	for range 3 {
		select {
		case tick <- time.Time{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the store did not take a lease tick in 10 s")
		}
	}
	if after := signUntilLimit(); before+after != limit-1 {
		t.Fatalf("the busy node made %d signatures, and %d once the idle node's lease was given back; want %d in all", before, after, limit-1)
	}
	if _, err := idle.Reserve(ctx, "k", 1, limit); !errors.Is(err, state.ErrLimit) {
		t.Fatalf("the idle node signs again past the limit: %v, want ErrLimit", err)
	}
}

// TestAuditOneChain: records appended on three nodes at once form one
// chain; editing, deleting or truncating it is reported.
func TestAuditOneChain(t *testing.T) {
	t.Parallel()
	stores, url := openN(t, server, 3)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range stores {
		for j := range 10 {
			wg.Go(func() {
				for k := range 10 {
					if _, err := s.Append(ctx, state.Entry{Actor: "t", Action: "sign", Target: fmt.Sprintf("%d/%d/%d", i, j, k), Outcome: "ok"}); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
	wg.Wait()
	n, err := stores[2].VerifyCount(ctx)
	if err != nil || n != 300 {
		t.Fatalf("verify: %d records, %v; want 300 intact", n, err)
	}
	es, err := stores[0].Entries(ctx, 0, 1000)
	if err != nil || len(es) != 300 || es[0].Details["node"] == "" {
		t.Fatalf("entries: %d, %v, first %+v", len(es), err, es[0])
	}
	ro, err := Open(ctx, url, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tc := range []struct {
		name, sql string
		seq       int64
		reason    string
	}{
		{"edited", "UPDATE audit SET outcome = 'changed' WHERE seq = 120", 120, "edited"},
		{"deleted", "DELETE FROM audit WHERE seq = 50", 50, "missing"},
		{"truncated", "DELETE FROM audit WHERE seq > 10", 11, "missing"},
		{"wiped", "DELETE FROM audit", 1, "missing"},
	} {
		if _, err := conn.Exec(ctx, tc.sql); err != nil {
			t.Fatal(err)
		}
		var ce *state.ChainError
		err := ro.Verify(ctx)
		if !errors.As(err, &ce) || ce.Seq != tc.seq || !strings.Contains(ce.Reason, tc.reason) {
			t.Errorf("%s: verify says %v, want record %d %s", tc.name, err, tc.seq, tc.reason)
		}
	}
}

// TestConfigPushNotifies: a pushed version and a changed key reach a
// watching node at once; a watch that lost its connection reconnects and
// has its node read every key again.
func TestConfigPushNotifies(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := stores[0].Config(ctx); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("config of an empty cluster: %v, want ErrNoConfig", err)
	}
	seen := make(chan int64, 10)
	keys := make(chan string, 10)
	resyncs := make(chan struct{}, 10)
	var failKey atomic.Bool // the next Key fails as on a database gone
	go stores[1].Watch(ctx, Watchers{
		Config: func(v int64) error { seen <- v; return nil },
		Key: func(token, alias string) error {
			keys <- token + "/" + alias
			if failKey.CompareAndSwap(true, false) {
				return fmt.Errorf("read the key: %w", state.ErrUnavailable)
			}
			return nil
		},
		Keys: func() error { resyncs <- struct{}{}; return nil },
	})
	// The watcher announces the newest version when it connects; push
	// one first so that its connecting is observable.
	if _, err := stores[0].PushConfig(ctx, "workers: []\n", "alice", -1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seen, 1)
	waitResync := func(why string) {
		t.Helper()
		select {
		case <-resyncs:
		case <-time.After(eventWait):
			t.Fatalf("the watch did not have its node read every key %s", why)
		}
	}
	waitResync("when it connected")
	if _, err := stores[1].PushConfig(ctx, "users: []\n", "carol", 0); !errors.Is(err, ErrConfigChanged) {
		t.Fatalf("an edit of version 0 after version 1: %v, want ErrConfigChanged", err)
	}
	v, err := stores[0].PushConfig(ctx, "tokens: []\n", "bob", 1)
	if err != nil {
		t.Fatal(err)
	}
	// The watch hears of a version by its notification only (it does not
	// poll), so the wait for the event is the test: a bound on how long it
	// took only failed on a loaded machine.
	waitFor(t, seen, v)
	c, err := stores[1].Config(ctx)
	if err != nil || c.Version != v || c.YAML != "tokens: []\n" || c.Author != "bob" {
		t.Fatalf("config in force: %+v, %v", c, err)
	}
	if _, err := stores[0].Keystore("a/b").Add(ctx, "k1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].Keystore("a/b").Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case k := <-keys:
			if k != "a/b/k1" {
				t.Fatalf("key change announced as %q", k)
			}
		case <-time.After(eventWait):
			t.Fatal("a key change was not announced")
		}
	}
	// The watch's connection is cut (a restarted database, a proxy):
	// whatever changed until it listens again was announced to no one.
	var cut int
	err = stores[0].pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, watchName).Scan(&cut)
	if err != nil || cut != 1 {
		t.Fatalf("cut the watch's connection: %d cut, %v", cut, err)
	}
	waitResync("when it reconnected")
	// A key change the node could not act on, the database failing under
	// it: the watch listens again and has it read every key.
	failKey.Store(true)
	if _, err := stores[0].Keystore("a/b").Add(ctx, "k2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	waitResync("after a key change it could not act on")
}

// waitFor waits until a version of at least v was announced on seen; the
// bound is generous (a loaded machine), the wait ends with the event.
// eventWait bounds the tests' waits for an event (a notification, a
// resync, a watch ending): generous, since the event is the test and a
// loaded 2-core CI machine can take seconds to deliver it.
const eventWait = 30 * time.Second

func waitFor(t *testing.T, seen <-chan int64, v int64) {
	t.Helper()
	timeout := time.After(eventWait)
	for {
		select {
		case got := <-seen:
			if got >= v {
				return
			}
		case <-timeout:
			t.Fatalf("version %d was not announced", v)
		}
	}
}

// TestKeystore stores, lists and removes key files.
func TestKeystore(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 2)
	ctx := context.Background()
	a, b := stores[0].Keystore("soft"), stores[1].Keystore("soft")
	for _, tc := range []struct {
		name     string
		do       func() (bool, error)
		want     bool
		afterGet string // k1's file after it; "": none
	}{
		{"replace a key not there", func() (bool, error) { return a.Replace(ctx, "k1", nil, []byte("zero")) }, false, ""},
		{"add k1", func() (bool, error) { return a.Add(ctx, "k1", []byte("one")) }, true, "one"},
		{"add k1 again", func() (bool, error) { return b.Add(ctx, "k1", []byte("other")) }, false, "one"},
		{"replace another file", func() (bool, error) { return b.Replace(ctx, "k1", []byte("other"), []byte("two")) }, false, "one"},
		{"replace k1", func() (bool, error) { return a.Replace(ctx, "k1", []byte("one"), []byte("two")) }, true, "two"},
	} {
		if got, err := tc.do(); err != nil || got != tc.want {
			t.Fatalf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
		if d, ok, err := b.Get(ctx, "k1"); err != nil || string(d) != tc.afterGet || ok != (tc.afterGet != "") {
			t.Fatalf("after %s: k1 is %q (%v, %v), want %q", tc.name, d, ok, err, tc.afterGet)
		}
	}
	if d, ok, err := b.Get(ctx, "k1"); err != nil || !ok || string(d) != "two" {
		t.Fatalf("get from the other node: %q %v %v", d, ok, err)
	}
	if m, err := stores[1].Keystore("other").List(ctx); err != nil || len(m) != 0 {
		t.Fatalf("another token's keystore: %v %v", m, err)
	}
	if err := b.Delete(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := a.Get(ctx, "k1"); err != nil || ok {
		t.Fatalf("removed key still there: %v %v", ok, err)
	}
	// A new alias added by both nodes at once is added once, and keeps
	// the file of the one that was.
	var wg sync.WaitGroup
	added := make([]bool, 8)
	for i := range added {
		ks := []*Keystore{a, b}[i%2]
		wg.Go(func() {
			var err error
			if added[i], err = ks.Add(ctx, "new", []byte{byte(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n, who := 0, -1
	for i, ok := range added {
		if ok {
			n, who = n+1, i
		}
	}
	if d, _, err := a.Get(ctx, "new"); n != 1 || err != nil || len(d) != 1 || int(d[0]) != who {
		t.Fatalf("eight adds of one alias: %d added, stored %v (%v), want one added and its file", n, d, err)
	}
}

// TestDatabaseDown: while PostgreSQL is stopped the store says why, refuses
// limited keys and signs unlimited ones; it recovers by itself and then
// stores what it signed meanwhile.
func TestDatabaseDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	s, logged := openLogged(t, url)
	if _, err := s.Reserve(ctx, "limited", 1, 10); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, logged, false)
	if _, err := s.Reserve(ctx, "limited", 1, 10); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("limited key while the database is down: %v", err)
	}
	if _, err := s.Count(ctx, "limited"); err == nil {
		t.Fatal("count while the database is down succeeded")
	}
	for range Lease + 10 {
		if _, err := s.Reserve(ctx, "unlimited", 1, -1); err != nil {
			t.Fatalf("unlimited key while the database is down: %v", err)
		}
	}
	// What a node tells of the database while it is down reaches anyone:
	// the health check shows a worker's key count error and a database
	// keystore's "unreadable" reason. None may name the database's address
	// or user. Count reads the database while the monitor has not seen it
	// go (up to a ping interval and its timeout), as set here.
	addr, _ := pgurl.Parse(url)
	for name, call := range map[string]func() error{
		"count": func() error {
			var none error
			s.health.Store(&none) // not setHealth: waitHealth reads what it logs
			_, err := s.Count(ctx, "not-counted-here-yet")
			return err
		},
		"keystore list": func() error { _, err := s.Keystore("soft").List(ctx); return err },
		"keystore get":  func() error { _, _, err := s.Keystore("soft").Get(ctx, "k"); return err },
		"keystore add":  func() error { _, err := s.Keystore("soft").Add(ctx, "k", []byte("x")); return err },
		"keystore replace": func() error {
			_, err := s.Keystore("soft").Replace(ctx, "k", nil, []byte("x"))
			return err
		},
		"keystore del": func() error { return s.Keystore("soft").Delete(ctx, "k") },
	} {
		err := call()
		if err == nil {
			t.Errorf("%s while the database is down succeeded", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, addr.Host) || strings.Contains(msg, addr.Port()) || strings.Contains(msg, "signet@") || strings.Contains(msg, "user=") {
			t.Errorf("%s while the database is down: %q names the database", name, msg)
		}
		if !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("%s while the database is down: %v, want state.ErrUnavailable", name, err)
		}
	}
	// A key first used while the database is down, and not again after:
	// it has no row until Close stores what it made.
	for range 3 {
		if _, err := s.Reserve(ctx, "unlimited-then-idle", 1, -1); err != nil {
			t.Fatalf("unlimited key while the database is down: %v", err)
		}
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, logged, true)
	if _, err := s.Reserve(ctx, "limited", 1, 10); err != nil {
		t.Fatalf("limited key after recovery: %v", err)
	}
	if _, err := s.Reserve(ctx, "unlimited", Lease, -1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for key, want := range map[string]int64{"unlimited": 2*Lease + 10, "unlimited-then-idle": 3} {
		var c int64
		if err := conn.QueryRow(ctx, "SELECT count FROM key_usage WHERE key = $1", key).Scan(&c); err != nil || c != want {
			t.Errorf("stored count of key %s: %d, %v; want %d", key, c, err, want)
		}
	}
}

// waitHealth waits for the store to log that the database went away (up
// false) or came back, and checks Health then. The store learns it from
// its own ping (every pingEvery); the deadline bounds a store that never
// notices.
func waitHealth(t *testing.T, s *Store, logged <-chan string, up bool) {
	t.Helper()
	want := "state database unreachable"
	if up {
		want = "state database reachable again"
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case msg := <-logged:
			if !strings.HasPrefix(msg, want) {
				continue
			}
			if (s.Health() == nil) != up {
				t.Fatalf("logged %q, but Health is %v", msg, s.Health())
			}
			return
		case <-deadline:
			t.Fatalf("the store did not log %q within 10 s; Health %v", want, s.Health())
		}
	}
}

// messages is a slog.Handler that sends the store's messages about the
// database ("state database …") on a channel: the events a test waits on.
// It never blocks the store: a message that finds the channel full is
// dropped (the channel has room for far more than a test makes).
type messages struct{ c chan<- string }

func (messages) Enabled(context.Context, slog.Level) bool { return true }
func (m messages) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "state database") {
		return nil
	}
	select {
	case m.c <- r.Message:
	default:
	}
	return nil
}
func (m messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m messages) WithGroup(string) slog.Handler      { return m }

// TestSigningLog: records from two nodes are found by hash, key and user.
func TestSigningLog(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 2)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, s := range stores {
		for j := range 20 {
			wg.Go(func() {
				r := state.SignRecord{Surface: "worker/W", Key: fmt.Sprintf("t/k%d", i), User: fmt.Sprintf("u%d", j%2),
					DigestAlg: "SHA-256", Hashes: []string{fmt.Sprintf("AB%02d%02d", i, j), "ffff"}, Result: "ok"}
				if _, err := s.Record(ctx, r); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for _, tc := range []struct {
		q    state.SignQuery
		want int
	}{
		{state.SignQuery{Limit: 1000}, 40},
		{state.SignQuery{Hash: "ab0105"}, 1},
		{state.SignQuery{Hash: "FFFF", Limit: 1000}, 40},
		{state.SignQuery{Key: "t/k0", Limit: 1000}, 20},
		{state.SignQuery{Key: "t/k1", User: "u1", Limit: 1000}, 10},
		{state.SignQuery{Since: time.Now().Add(time.Hour)}, 0},
		{state.SignQuery{After: 35, Limit: 1000}, 5},
	} {
		got, err := stores[1].Search(ctx, tc.q)
		if err != nil || len(got) != tc.want {
			t.Errorf("search %+v: %d records, %v; want %d", tc.q, len(got), err, tc.want)
		}
	}
	got, _ := stores[0].Search(ctx, state.SignQuery{Hash: "ab0105"})
	if len(got) == 1 && (got[0].Key != "t/k1" || got[0].Hashes[0] != "ab0105" || got[0].Time.IsZero()) {
		t.Errorf("record %+v", got[0])
	}
}

// TestSigningLogSearch: the one definition of a search, on PostgreSQL.
func TestSigningLogSearch(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 1)
	statetest.SigningLogSearch(t, stores[0])
}

// TestArchive: the archive of a cluster, as SQLite's.
func TestArchive(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 1)
	statetest.Archive(t, stores[0])
}

// TestAuditSealed: with a seal key, a truncated log, a wiped log and an
// older copy of the database put back are reported.
func TestAuditSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, err := server.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := []byte("00112233445566778899aabbccddeeff\n")
	open := func(name string, ro bool) *Store {
		f := dir + "/" + name + ".key" // each node its own copy of the key, and its own head file
		if err := os.WriteFile(f, key, 0o600); err != nil {
			t.Fatal(err)
		}
		seal, err := state.OpenSeal(f, false)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(ctx, url, Options{Node: name, Seal: seal, ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	n1, n2 := open("n1", false), open("n2", false)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	appendN := func(s *Store, n int) {
		for range n {
			if _, err := s.Append(ctx, state.Entry{Actor: "t", Action: "a", Target: "x", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(n1, 5)
	appendN(n2, 5)
	if n, err := n1.VerifyCount(ctx); err != nil || n != 10 {
		t.Fatalf("verify: %d, %v", n, err)
	}
	var seq int64
	var hash, mac []byte
	if err := conn.QueryRow(ctx, "SELECT seq, hash, mac FROM audit_head").Scan(&seq, &hash, &mac); err != nil {
		t.Fatal(err)
	}
	appendN(n1, 10) // n1 sealed record 20 in its head file
	exec := func(sql string, args ...any) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		tamper func()
		seq    int64
	}{
		{"truncated without the key", func() {
			exec("DELETE FROM audit WHERE seq > 15")
			exec("UPDATE audit_head SET seq = 15, hash = (SELECT hash FROM audit WHERE seq = 15)")
		}, 15},
		{"older copy put back", func() {
			exec("DELETE FROM audit WHERE seq > 10")
			exec("UPDATE audit_head SET seq = $1, hash = $2, mac = $3", seq, hash, mac)
		}, 20},
		{"wiped", func() {
			exec("DELETE FROM audit")
			exec("UPDATE audit_head SET seq = 0, hash = '', mac = ''")
		}, 20},
	} {
		tc.tamper()
		var ce *state.ChainError
		if err := n1.Verify(ctx); !errors.As(err, &ce) || ce.Seq != tc.seq {
			t.Errorf("%s: verify says %v, want a broken chain at record %d", tc.name, err, tc.seq)
		}
	}
}

// TestWatchStopsOnClose: a watch ends when its store closes, though its
// context goes on (a server whose start failed after the watch began closes
// its store and returns): it kept its LISTEN connection, outside the closed
// pool, open to the database and, once cut, tried to reconnect every
// pingEvery for the life of the process.
func TestWatchStopsOnClose(t *testing.T) {
	t.Parallel()
	stores, _ := openN(t, server, 1)
	s := stores[0]
	listening := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(context.Background(), Watchers{Keys: func() error { listening <- struct{}{}; return nil }})
	}()
	select {
	case <-listening:
	case <-time.After(eventWait):
		t.Fatal("the watch did not listen")
	}
	s.Close()
	select {
	case <-done: // listen closed its connection as it returned
	case <-time.After(eventWait):
		t.Fatal("the watch goes on after its store closed")
	}
}

// TestDatabaseReadOnly: a database that answers but takes no writes (a
// standby after a switchover, default_transaction_read_only) is a database
// down for the node: Health says so, so that the health check takes the
// node out of the load balancer, and comes back when it takes writes
// again. The monitor only pinged, so Health said healthy while every lease,
// audit record and signing log record failed.
func TestDatabaseReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := fmt.Sprintf("t%d", dbSeq.Add(1))
	url, err := server.NewDatabase(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	s, logged := openLogged(t, url)
	if _, err := s.Reserve(ctx, "limited", 1, 10); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, server.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// The setting holds for new connections: the store's are closed (on
	// its side, so that no ping fails on the way).
	readOnly := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET default_transaction_read_only = %v", pgx.Identifier{db}.Sanitize(), on)); err != nil {
			t.Fatal(err)
		}
		s.pool.Reset()
	}
	readOnly(true)
	deadline := time.After(10 * time.Second)
	for s.Health() == nil {
		select {
		case <-logged:
		case <-deadline:
			t.Fatal("Health says healthy while the database takes no writes")
		}
	}
	if err := s.Health(); !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Health of a read-only database: %v; want state.ErrUnavailable, saying read-only", err)
	}
	readOnly(false)
	waitHealth(t, s, logged, true)
	if _, err := s.Reserve(ctx, "limited", Lease, 1000); err != nil {
		t.Fatalf("limited key once the database takes writes again: %v", err)
	}
}

// TestWatchReconnectsAfterOutage: when the connections to the database go
// silent (a fail-over that moves its address, a firewall dropping them:
// no reset reaches the node) the watch finds its own silent (listenCheck)
// and listens on a new one, reading every key and the version in force
// again. It sat on its silent connection until TCP keepalive gave up on it
// (minutes), hearing no change made meanwhile, while Health said healthy:
// the pool replaces its silent connections by new ones, and the monitor
// need not even see the outage (nor, then, the database come back).
func TestWatchReconnectsAfterOutage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, err := server.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, url)
	s, _ := openLogged(t, p.url)
	// First (cleanups run last first): the connections silenced are closed,
	// so that Close does not wait for their goodbyes (15 s each in pgxpool).
	t.Cleanup(p.close)
	resyncs := make(chan struct{}, 10)
	go s.Watch(ctx, Watchers{Keys: func() error { resyncs <- struct{}{}; return nil }})
	waitResync := func(why string) {
		t.Helper()
		select {
		case <-resyncs:
		case <-time.After(10 * time.Second):
			t.Fatalf("the watch did not have its node read every key %s", why)
		}
	}
	waitResync("when it connected")
	p.silence()
	waitResync("after its connection went silent")
}

// proxy forwards TCP connections to a PostgreSQL server; silence makes the
// connections open until then drop whatever they carry, without closing
// them, as a network that lost the server does.
type proxy struct {
	url   string
	mu    sync.Mutex
	gen   int  // connections of an earlier generation are silent
	gone  bool // new connections are silent too: the server is gone
	conns []net.Conn
}

// gone silences every connection, those to come too (or, with false, lets
// new ones through again).
func (p *proxy) setGone(gone bool) {
	p.mu.Lock()
	p.gen++
	p.gone = gone
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, err := pgurl.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	dst := u.Host
	u.Host = l.Addr().String()
	p := &proxy{url: u.String()}
	t.Cleanup(p.close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			gen, gone := p.gen, p.gone
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			if gone {
				go io.Copy(io.Discard, c)
				continue
			}
			d, err := net.Dial("tcp", dst)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, d)
			p.mu.Unlock()
			go p.pipe(d, c, gen)
			go p.pipe(c, d, gen)
		}
	}()
	return p
}

func (p *proxy) silence() {
	p.mu.Lock()
	p.gen++
	p.mu.Unlock()
}

// pipe copies from src to dst while the connection's generation is the
// current one, then reads and drops.
func (p *proxy) pipe(dst, src net.Conn, gen int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		p.mu.Lock()
		live := gen == p.gen
		p.mu.Unlock()
		if live {
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
}

// TestUnlimitedWhileDatabaseGone: while the database is known to be down,
// an unlimited key's signatures are counted in memory at once; each group
// of them went to the database first and waited for it to fail (a
// connect timeout of 2 s where the server is gone without a reset), every
// signature of every unlimited key on the node that long.
func TestUnlimitedWhileDatabaseGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, err := server.NewDatabase(ctx, fmt.Sprintf("t%d", dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, url)
	s, logged := openLogged(t, p.url)
	t.Cleanup(p.close) // first: see TestWatchReconnectsAfterOutage
	p.setGone(true)
	waitHealth(t, s, logged, false)
	start := time.Now()
	for i := range 3 {
		if _, err := s.Reserve(ctx, fmt.Sprintf("unlimited%d", i), 1, -1); err != nil {
			t.Fatal(err)
		}
	}
	// A bound, not a wait: three connect timeouts take 6 s.
	if d := time.Since(start); d > time.Second {
		t.Errorf("three unlimited signatures while the database is gone took %v", d)
	}
	p.setGone(false)
	waitHealth(t, s, logged, true)
	if _, err := s.Reserve(ctx, "unlimited0", Lease, -1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, "unlimited0"); err != nil || n != Lease+1 {
		t.Fatalf("count once the database is back: %d, %v; want %d", n, err, Lease+1)
	}
}

// TestHideLostConnection: an error the server sends as it ends the
// connection (a shutdown's "terminating connection due to administrator
// command") says the database is unavailable, as a connection error does;
// an SQL error is the caller's. TestDatabaseDown saw the first come back
// as it was, now and then, from a pooled connection the stopping server
// had ended.
func TestHideLostConnection(t *testing.T) {
	t.Parallel()
	s := &Store{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err         error
		unavailable bool
	}{
		{&pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{&pgconn.PgError{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}, true},
		{&pgconn.PgError{Severity: "ERROR", Code: "08006", Message: "connection failure"}, true},
		{errors.New("failed to connect to `user=signet database=x`: 127.0.0.1:5432"), true},
		{&pgconn.PgError{Severity: "ERROR", Code: "23505", Message: "duplicate key value"}, false},
		{&pgconn.PgError{Severity: "ERROR", Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, false},
	} {
		if got := errors.Is(s.hide(tc.err), state.ErrUnavailable); got != tc.unavailable {
			t.Errorf("hide(%v) unavailable: %v, want %v", tc.err, got, tc.unavailable)
		}
	}
}

// openLogged opens node1 on the database at url, closed at cleanup, with
// the messages it logs on the channel returned (waitHealth reads it).
func openLogged(t *testing.T, url string) (*Store, chan string) {
	t.Helper()
	logged := make(chan string, 64)
	s, err := Open(context.Background(), url, Options{Node: "node1", Logger: slog.New(messages{logged})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logged
}
