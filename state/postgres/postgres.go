// Package postgres is Signet's run-time state for a cluster: several Signet
// nodes behind a load balancer share one PostgreSQL database (pgx/v5) for
// the key usage counters, one audit chain, the configuration in force and
// the soft tokens' keystores. PostgreSQL brings its own replication and
// fail-over; Signet adds no consensus of its own.
//
// # Schema migrations
//
// The schema is a small ordered list of SQL scripts compiled into the
// binary (migrations); the version applied is kept in signet_schema.
// Open applies what is missing, each script in its own transaction under an
// advisory lock, so that nodes started together migrate once and a failed
// script leaves nothing half done (PostgreSQL's DDL is transactional). A
// migration tool such as golang-migrate would add a dependency, its own
// source drivers and a "dirty" state to repair by hand, for what is here a
// handful of statements; the SQLite store versions its schema the same way.
//
// # Key usage counters
//
// key_usage holds, per key, every signature leased to a node. A node asks
// for a lease (the signatures it needs plus Lease, or an eighth of what the
// limit leaves, whichever is smaller) in one statement that never raises
// the count past the limit, then grants signatures from memory: no database
// write per signature. Reservations that wait together are leased in one
// round trip (group commit). A node gives back the unused lease of a key it
// has stopped signing with (after one to two LeaseIdle), so that the other
// nodes can make the signatures it held near the limit, and Close gives
// back every unused lease; a node that crashes loses its unused lease: the
// cluster then makes fewer signatures than the limit, never more.
//
// # Audit chain
//
// Every node appends to one hash chain (state.Hash). Appends waiting
// together are written in one transaction that locks the chain head row,
// so that nodes append in turn without serialising signing on a round
// trip per record.
//
// With a seal key (state.Seal, a key file every node has and the database
// has not), the head row carries an HMAC of the last record's number and
// hash, so that records cut from the end, a wiped log or a rewritten head
// are reported; each node also seals the newest head it wrote into the
// head file beside its key, so that a copy of the database older than that
// put back is reported too.
//
// # Signing log
//
// One record per signing request from every node, written in groups like
// the audit chain; the hashes signed are an array with a GIN index, so
// that a signature is found by its hash.
//
// # Failure
//
// A monitor checks that the database answers and takes writes; while it is
// unreachable or read-only (a standby) Health returns why, Reserve refuses
// keys with a limit (their count cannot be shared) and the store recovers
// by itself when the database answers again.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/signet-project/signet/state"
)

// migrations take the schema from version i to i+1.
var migrations = []string{
	`CREATE TABLE audit (
		seq     bigint PRIMARY KEY,
		time    bigint NOT NULL,
		actor   text NOT NULL,
		action  text NOT NULL,
		target  text NOT NULL,
		outcome text NOT NULL,
		details text NOT NULL,
		prev    bytea NOT NULL,
		hash    bytea NOT NULL
	);
	CREATE TABLE audit_head (
		id   int PRIMARY KEY CHECK (id = 1),
		seq  bigint NOT NULL,
		hash bytea NOT NULL
	);
	INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
	CREATE TABLE key_usage (
		key     text PRIMARY KEY,
		count   bigint NOT NULL CHECK (count >= 0),
		granted bigint NOT NULL
	);
	CREATE TABLE config (
		version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		yaml    text NOT NULL,
		author  text NOT NULL,
		created timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE keystore (
		token   text NOT NULL,
		alias   text NOT NULL,
		data    bytea NOT NULL,
		updated timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (token, alias)
	);`,
	`CREATE TABLE signlog (
		id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		time       bigint NOT NULL,
		surface    text NOT NULL,
		key        text NOT NULL,
		key_id     text NOT NULL,
		usr        text NOT NULL,
		client     text NOT NULL,
		request_id text NOT NULL,
		digest_alg text NOT NULL,
		hashes     text[] NOT NULL,
		result     text NOT NULL,
		node       text NOT NULL
	);
	CREATE INDEX signlog_time ON signlog (time);
	CREATE INDEX signlog_key ON signlog (key);
	CREATE INDEX signlog_usr ON signlog (usr);
	CREATE INDEX signlog_hashes ON signlog USING gin (hashes);`,
	`ALTER TABLE audit_head ADD COLUMN mac bytea NOT NULL DEFAULT '';`,
	`CREATE TABLE archive (
		seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		request_id      text NOT NULL,
		time            bigint NOT NULL,
		worker          text NOT NULL,
		request         bytea,
		response        bytea,
		request_size    bigint NOT NULL,
		request_sha256  text NOT NULL,
		response_size   bigint NOT NULL,
		response_sha256 text NOT NULL,
		node            text NOT NULL
	);
	CREATE INDEX archive_request ON archive (request_id);
	CREATE INDEX archive_worker_time ON archive (worker, time);`,
	// No search used signlog_key (a key is matched by its name or its
	// path, an OR whose second half no index answers), which cost an index
	// insert per record.
	`DROP INDEX signlog_key;`,
}

// migrateLock is the advisory lock key nodes take while migrating.
const migrateLock = 0x5167_6e65_7401

// Lease is the most signatures a node leases past what it needs.
const Lease = 128

// LeaseIdle is how often a node gives back the leases of keys it has not
// signed with since the last time: a lease unused for one to two LeaseIdle
// returns to the cluster.
const LeaseIdle = 2 * time.Second

// maxGroup is the most reservations or audit records written in one round.
const maxGroup = 256

// pingEvery is how often the monitor checks the database.
const pingEvery = 250 * time.Millisecond

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("the state database is closed")

// Options tune a Store; the zero value is fine.
type Options struct {
	// Node names this node in the audit records it writes (detail
	// "node"); the host name and process ID when empty.
	Node string
	// ReadOnly opens the database without migrating or writing, as
	// `signet admin audit verify` does.
	ReadOnly bool
	Logger   *slog.Logger
	// Seal, when set, seals the chain head with a key outside the
	// database (see "Audit chain").
	Seal *state.Seal
	// LeaseTick gives back, on each value received, the key usage leases
	// not used since the value before; nil: every LeaseIdle. Tests send
	// the ticks themselves.
	LeaseTick <-chan time.Time
}

// Store is the PostgreSQL state. It implements state.Audit and
// state.Counters and is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	node   string
	log    *slog.Logger
	seal   *state.Seal
	trips  atomic.Int64
	health atomic.Pointer[error] // nil or *nil: reachable

	backMu sync.Mutex
	back   chan struct{} // closed, and made anew, each time the database is back (Health nil again)

	mu      sync.Mutex
	keys    map[string]*lease
	closing bool

	reqs    chan *reservation
	appends chan *appendReq
	logs    chan *logReq
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// Open connects to the database at url (a PostgreSQL URL or key=value
// string), brings the schema up to date and starts the writers.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL URL is not valid: %w", redact(err))
	}
	s := &Store{node: opts.Node, log: opts.Logger, seal: opts.Seal, keys: map[string]*lease{},
		back: make(chan struct{}), reqs: make(chan *reservation), appends: make(chan *appendReq), logs: make(chan *logReq), quit: make(chan struct{})}
	if s.node == "" {
		h, _ := os.Hostname()
		s.node = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	cfg.ConnConfig.Tracer = tripCounter{&s.trips}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", redact(err))
	}
	if opts.ReadOnly {
		err = s.checkSchema(ctx)
	} else {
		err = s.migrate(ctx)
	}
	if err != nil {
		s.pool.Close()
		return nil, err
	}
	if opts.ReadOnly {
		return s, nil
	}
	s.wg.Add(4)
	go s.counterWriter(opts.LeaseTick)
	go s.auditWriter()
	go s.logWriter()
	go s.monitor()
	return s, nil
}

// redact keeps a connection error's meaning without a password that the
// URL may hold.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the connection string")
	}
	return err
}

func (s *Store) checkSchema(ctx context.Context) error {
	var v int
	if err := s.pool.QueryRow(ctx, "SELECT version FROM signet_schema").Scan(&v); err != nil {
		return fmt.Errorf("read the Signet schema version: %w (is this a Signet database?)", err)
	}
	if v != len(migrations) {
		return fmt.Errorf("the database has Signet schema version %d, this Signet reads version %d", v, len(migrations))
	}
	return nil
}

// migrate applies the migrations the database lacks.
func (s *Store) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the next migration, if any, in one transaction.
func (s *Store) migrateOne(ctx context.Context) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
		return false, fmt.Errorf("lock the schema for migration: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS signet_schema (version int NOT NULL)"); err != nil {
		return false, fmt.Errorf("create the schema version table: %w", err)
	}
	v := 0
	err = tx.QueryRow(ctx, "SELECT version FROM signet_schema").Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, "INSERT INTO signet_schema (version) VALUES (0)"); err != nil {
			return false, err
		}
	case err != nil:
		return false, fmt.Errorf("read the schema version: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("the database has Signet schema version %d, newer than this Signet's %d: run a newer Signet", v, len(migrations))
	}
	if v == len(migrations) {
		return true, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("migrate the database to Signet schema version %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE signet_schema SET version = $1", v+1); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate the database to Signet schema version %d: %w", v+1, err)
	}
	s.log.Info("state database migrated", "version", v+1)
	return false, nil
}

// Close gives back the unused leases, stops the writers and closes the
// connections.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.quit)
		s.wg.Wait()
		s.pool.Close()
	})
	return nil
}

// Node returns the name this node writes in its audit records.
func (s *Store) Node() string { return s.node }

// RoundTrips returns how many round trips to the database the store has
// made (queries, batches, copies), for benchmarks.
func (s *Store) RoundTrips() int64 { return s.trips.Load() }

// Health returns nil while the database answers, and otherwise an error
// saying why the node is degraded.
func (s *Store) Health() error {
	if p := s.health.Load(); p != nil {
		return *p
	}
	return nil
}

// setHealth records whether the database answered and takes writes
// (check); cause, the driver's error, goes to the log only (it may name the
// database's address).
func (s *Store) setHealth(cause error) {
	var err error
	switch {
	case errors.Is(cause, errReadOnly):
		err = errReadOnly
	case cause != nil:
		err = errUnreachable
	}
	// Stored before it is logged: whoever reads the log line and then
	// Health sees the state it tells of (TestDatabaseDown read the one
	// before, now and then).
	var prev error
	if p := s.health.Swap(&err); p != nil {
		prev = *p
	}
	if prev != err {
		switch {
		case err == errReadOnly:
			s.log.Error("state database read-only: workers with a key usage limit are offline", "error", err)
		case err != nil:
			s.log.Error("state database unreachable: workers with a key usage limit are offline", "error", cause)
		default:
			s.log.Info("state database reachable again")
		}
	}
	if prev != nil && err == nil {
		s.backMu.Lock()
		close(s.back)
		s.back = make(chan struct{})
		s.backMu.Unlock()
	}
}

// backAgain returns a channel closed when the database is next back after
// being unreachable or read-only.
func (s *Store) backAgain() <-chan struct{} {
	s.backMu.Lock()
	defer s.backMu.Unlock()
	return s.back
}

// hide returns err when the database reported it (a *pgconn.PgError says
// what SQL failed, nothing of where), and otherwise errUnreachable, with err
// in the log only: the driver's errors of a connection name the database's
// address and user ("failed to connect to `user=… database=…`: host:port"),
// and what a node tells of its database reaches anyone (the health check
// shows a worker's key count error and a database keystore's unreadable
// reason).
func (s *Store) hide(err error) error {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) && !lostConnection(pe) {
		return err
	}
	s.log.Warn("state database call failed", "error", err)
	return errUnreachable
}

// lostConnection reports whether the database's error ended the connection
// (a server shutting down sends "terminating connection due to
// administrator command" to each): the database is unavailable, not the
// SQL wrong.
func lostConnection(pe *pgconn.PgError) bool {
	return pe.Severity == "FATAL" || pe.Severity == "PANIC" || strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
}

// errUnreachable is Health's error while the database does not answer.
var errUnreachable = fmt.Errorf("the cluster's database (PostgreSQL) does not answer: %w", state.ErrUnavailable)

// errReadOnly is Health's error while the database answers but takes no
// writes: every lease, audit record and signing log record fails then, as
// when it does not answer.
var errReadOnly error = unavailable("the cluster's database (PostgreSQL) answers but is read-only (a standby, or default_transaction_read_only): point the nodes' state url at the primary")

// unavailable is an error that is state.ErrUnavailable but says only its
// own sentence (ErrUnavailable's says "unreachable").
type unavailable string

func (e unavailable) Error() string { return string(e) }
func (unavailable) Unwrap() error   { return state.ErrUnavailable }

// check asks the database whether it answers and takes writes: a standby
// (after a switchover, a URL naming the old primary) answers a ping but
// fails every write. Through pgconn, under pgx's tracer: the monitor's
// checks are not counted as round trips.
func (s *Store) check(ctx context.Context) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	r := c.Conn().PgConn().ExecParams(ctx, "SELECT current_setting('transaction_read_only')", nil, nil, nil, nil).Read()
	if r.Err != nil {
		return r.Err
	}
	if len(r.Rows) == 1 && len(r.Rows[0]) == 1 && string(r.Rows[0][0]) == "on" {
		return errReadOnly
	}
	return nil
}

// monitor checks the database until Close.
func (s *Store) monitor() {
	defer s.wg.Done()
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.check(ctx)
		cancel()
		s.setHealth(err)
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
	}
}

// tripCounter counts round trips to the database.
type tripCounter struct{ n *atomic.Int64 }

func (t tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	t.n.Add(1)
	return ctx
}
func (tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (t tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	t.n.Add(1)
	return ctx
}
func (tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
