// Package sqlite is Signet's default run-time state: the audit log and the
// key usage counters in one embedded SQLite database file (pure Go,
// modernc.org/sqlite), in the data folder.
//
// The database runs in WAL mode with synchronous=FULL, so a commit is on
// disk before Reserve or Append returns. Writes are serialised by BEGIN
// IMMEDIATE transactions with a busy timeout. Commits sync with fdatasync,
// as SQLite's own Linux builds do (see useFdatasync).
//
// # Key usage counters
//
// Counting every signature must not cost a disk write per request, yet a
// signature must never leave unless its count is stored. The store therefore
// stores a lease ahead of the count: when a key's count would pass the
// stored value, the stored value is raised to the new count plus Lease in
// one transaction (for a key with a limit, plus a sixteenth of what the
// limit leaves), and the signatures up to it are granted from memory. The
// stored value is thus never below the signatures granted, nor above a
// limit; Close writes the exact counts back. After a crash a key's count
// may be up to the lease too high — the key then makes fewer signatures
// than its limit, never more. Reservations that wait together are
// committed in one transaction (group commit). A data folder serves one
// Signet process: the counts in memory are the truth.
//
// The schema is versioned with PRAGMA user_version and migrated from empty
// when the file is opened for writing.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/signet-project/signet/state"
)

// migrations take the schema from version i to i+1; the schema version is
// len(migrations).
var migrations = []string{
	`CREATE TABLE audit (
		seq     INTEGER PRIMARY KEY,
		time    INTEGER NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		target  TEXT NOT NULL,
		outcome TEXT NOT NULL,
		details TEXT NOT NULL,
		prev    BLOB NOT NULL,
		hash    BLOB NOT NULL
	);
	CREATE TABLE audit_head (
		id   INTEGER PRIMARY KEY CHECK (id = 1),
		seq  INTEGER NOT NULL,
		hash BLOB NOT NULL
	);
	CREATE TABLE key_usage (
		key   TEXT PRIMARY KEY,
		count INTEGER NOT NULL CHECK (count >= 0)
	);`,
	`CREATE TABLE signlog (
		id         INTEGER PRIMARY KEY,
		time       INTEGER NOT NULL,
		surface    TEXT NOT NULL,
		key        TEXT NOT NULL,
		key_id     TEXT NOT NULL,
		user       TEXT NOT NULL,
		client     TEXT NOT NULL,
		request_id TEXT NOT NULL,
		digest_alg TEXT NOT NULL,
		hashes     TEXT NOT NULL,
		result     TEXT NOT NULL
	);
	CREATE INDEX signlog_time ON signlog (time);
	CREATE INDEX signlog_key ON signlog (key);
	CREATE TABLE signlog_hash (
		hash TEXT NOT NULL,
		id   INTEGER NOT NULL REFERENCES signlog (id)
	);
	CREATE INDEX signlog_hash_hash ON signlog_hash (hash);`,
	`CREATE TABLE archive (
		request_id TEXT NOT NULL,
		time       INTEGER NOT NULL,
		worker     TEXT NOT NULL,
		request    BLOB,
		response   BLOB
	);
	CREATE INDEX archive_request ON archive (request_id);
	CREATE INDEX archive_worker_time ON archive (worker, time);`,
	// The hashes of the latest records, unindexed: the signing log writer
	// moved them into signlog_hash in bulk (see foldAt). Replaced by the
	// next-but-one migration.
	`CREATE TABLE signlog_hash_recent (
		hash TEXT NOT NULL,
		id   INTEGER NOT NULL REFERENCES signlog (id)
	);`,
	`ALTER TABLE archive ADD COLUMN request_size INTEGER NOT NULL DEFAULT -1;
	ALTER TABLE archive ADD COLUMN request_sha256 TEXT NOT NULL DEFAULT '';
	ALTER TABLE archive ADD COLUMN response_size INTEGER NOT NULL DEFAULT -1;
	ALTER TABLE archive ADD COLUMN response_sha256 TEXT NOT NULL DEFAULT '';`,
	// The records whose hashes are not yet in signlog_hash are those past
	// signlog_indexed.id: Search reads their hashes column, and the log
	// writer moves their hashes into the index in bulk (see foldAt).
	`CREATE TABLE signlog_indexed (
		one INTEGER PRIMARY KEY CHECK (one = 1),
		id  INTEGER NOT NULL
	);
	INSERT INTO signlog_hash (hash, id) SELECT hash, id FROM signlog_hash_recent ORDER BY hash;
	DROP TABLE signlog_hash_recent;
	INSERT INTO signlog_indexed (one, id) SELECT 1, coalesce(max(id), 0) FROM signlog;`,
	// The hash index in epochs (see foldsPerEpoch): signlog_hix, and the
	// folds counted. signlog_hash keeps the hashes folded before, and is
	// no longer written. No search used signlog_key (a key is matched by
	// its name or its path, which SQLite answers by the scan), which cost
	// a B-tree insert per record.
	`CREATE TABLE signlog_hix (
		epoch INTEGER NOT NULL,
		h     TEXT NOT NULL,
		id    INTEGER NOT NULL,
		PRIMARY KEY (epoch, h, id)
	) WITHOUT ROWID;
	ALTER TABLE signlog_indexed ADD COLUMN folds INTEGER NOT NULL DEFAULT 0;
	DROP INDEX signlog_key;`,
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("the state database is closed")

// maxGroup is the most counter reservations, or signing log records,
// committed in one transaction.
const maxGroup = 256

// Lease is how many signatures past a key's count the store reserves in
// the database at a time.
const Lease = 128

// Store is the SQLite state database. It implements state.Audit,
// state.Counters, state.SigningLog and state.Archive and is safe for
// concurrent use.
type Store struct {
	db       *sql.DB
	path     string
	readOnly bool

	appendMu sync.Mutex // one Append at a time keeps the chain in order

	mu      sync.Mutex           // guards keys and closing
	keys    map[string]*keyCount // the counters read or written so far
	closing bool                 // no more grants from memory: the exact counts are being stored

	reqs      chan *reservation // to the group-commit writer; unbuffered
	logs      chan *logEntry    // to the signing log writer; unbuffered
	quit      chan struct{}     // closed by Close
	done      chan struct{}     // closed when the writer has stopped
	logDone   chan struct{}     // closed when the signing log writer has stopped
	closeOnce sync.Once

	signw *signWriter // the signing log writer's connection and state; its goroutine's

	health health // whether the last write reached the disk (see Health)
}

// keyCount is a key's count in memory: used signatures granted, stored the
// value in the database (used <= stored but while a raise is committed).
type keyCount struct{ used, stored int64 }

// reservation is one Reserve call waiting for the writer.
type reservation struct {
	key      string
	n, limit int64
	count    int64
	err      error
	done     chan struct{}
}

// Open opens (creating it if needed) the database at path for reading and
// writing, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	useFdatasync()
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if err := private(path); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, path: path, keys: map[string]*keyCount{}, reqs: make(chan *reservation), logs: make(chan *logEntry),
		quit: make(chan struct{}), done: make(chan struct{}), logDone: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	w, err := newCounterWriter(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	if s.signw, err = newSignWriter(ctx, db); err != nil {
		w.close()
		db.Close()
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	go s.writer(w)
	go s.logWriter(s.signw)
	return s, nil
}

// OpenReadOnly opens an existing database at path for reading only, as
// `signet admin audit verify` does; it may run beside a server using it.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no state database at %s: %w", path, err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, readOnly: true, keys: map[string]*keyCount{}, quit: make(chan struct{}), done: make(chan struct{}), logDone: make(chan struct{})}
	close(s.done)
	close(s.logDone)
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("read the state database %s: %w", path, err)
	}
	if v != len(migrations) {
		db.Close()
		return nil, fmt.Errorf("the state database %s has schema version %d, this Signet reads version %d", path, v, len(migrations))
	}
	return s, nil
}

// migrate applies the migrations the database lacks, each in a transaction.
func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read the state database %s: %w", s.path, err)
	}
	if v > len(migrations) {
		return fmt.Errorf("the state database %s has schema version %d, newer than this Signet's %d: run a newer Signet", s.path, v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate the state database %s: %w", s.path, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate the state database %s to version %d: %w", s.path, v+1, err)
		}
		// PRAGMA takes no bound parameters; v is an int.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate the state database %s to version %d: %w", s.path, v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate the state database %s to version %d: %w", s.path, v+1, err)
		}
	}
	return nil
}

// private makes the database file (created empty when it does not exist)
// and its WAL and shared-memory files, which SQLite creates with the
// database file's mode, readable by this user only: they hold the audit
// log and the signing log.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the state database %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("make the state database %s private: %w", path, err)
	}
	for _, side := range []string{"-wal", "-shm"} {
		if err := os.Chmod(path+side, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make the state database %s private: %w", path+side, err)
		}
	}
	return nil
}

// Close stops the writer and closes the database. Reservations after Close
// fail with ErrClosed.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.done
		<-s.logDone
		err = s.db.Close()
	})
	return err
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Reserve implements state.Counters: it adds n to key's count unless limit
// >= 0 and the count would pass it, and returns once a count at least as
// high is committed to disk (see Lease).
func (s *Store) Reserve(ctx context.Context, key string, n, limit int64) (int64, error) {
	if n < 0 {
		return 0, fmt.Errorf("reserve %d signatures of key %s: the number must not be negative", n, key)
	}
	if n == 0 {
		return s.Count(ctx, key)
	}
	if s.readOnly {
		return 0, fmt.Errorf("reserve signatures of key %s: the state database is open read-only", key)
	}
	s.mu.Lock()
	if k := s.keys[key]; k != nil && !s.closing {
		if limit >= 0 && k.used+n > limit {
			used := k.used
			s.mu.Unlock()
			return used, limitError(key, used, n, limit)
		}
		if k.used+n <= k.stored {
			k.used += n
			used := k.used
			s.mu.Unlock()
			return used, nil
		}
	}
	s.mu.Unlock()
	r := &reservation{key: key, n: n, limit: limit, done: make(chan struct{})}
	if err := state.Submit(ctx, s.reqs, s.quit, r, r.done, ErrClosed); err != nil {
		return 0, err
	}
	return r.count, r.err
}

// writer commits the reservations, grouping those that wait together, on
// one connection with its statements prepared once.
func (s *Store) writer(w *counterWriter) {
	defer close(s.done)
	defer w.close()
	for {
		group, ok := state.NextGroup(s.reqs, s.quit, maxGroup)
		if !ok {
			s.flush(w)
			return
		}
		s.commit(w, group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// counterWriter is the writer's connection and its statements.
type counterWriter struct {
	conn        *sql.Conn
	sel, upsert *sql.Stmt
}

func newCounterWriter(ctx context.Context, db *sql.DB) (*counterWriter, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &counterWriter{conn: conn}
	if w.sel, err = conn.PrepareContext(ctx, "SELECT count FROM key_usage WHERE key = ?"); err == nil {
		w.upsert, err = conn.PrepareContext(ctx, "INSERT INTO key_usage (key, count) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count")
	}
	if err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *counterWriter) close() {
	for _, st := range []*sql.Stmt{w.sel, w.upsert} {
		if st != nil {
			st.Close()
		}
	}
	w.conn.Close()
}

// commit grants a group of reservations, raising the stored counts that
// they pass in one transaction. A reservation that would pass its limit is
// refused alone; when the transaction fails every reservation that needed
// it gets the error.
func (s *Store) commit(w *counterWriter, group []*reservation) {
	ctx := context.Background() // reservations are answered whatever their callers' contexts
	// Read the counts of keys not seen yet; only the writer adds keys.
	for _, r := range group {
		s.mu.Lock()
		_, ok := s.keys[r.key]
		s.mu.Unlock()
		if ok {
			continue
		}
		var c int64
		if err := w.sel.QueryRowContext(ctx, r.key).Scan(&c); err != nil && !errors.Is(err, sql.ErrNoRows) {
			r.err = fmt.Errorf("read the usage count of key %s: %w", r.key, err)
			continue
		}
		s.mu.Lock()
		s.keys[r.key] = &keyCount{used: c, stored: c}
		s.mu.Unlock()
	}

	targets := map[string]int64{}
	var pending []*reservation
	s.mu.Lock()
	for _, r := range group {
		if r.err != nil {
			continue
		}
		k := s.keys[r.key]
		if r.limit >= 0 && k.used+r.n > r.limit {
			r.count, r.err = k.used, limitError(r.key, k.used, r.n, r.limit)
			continue
		}
		k.used += r.n
		r.count = k.used
		if k.used <= k.stored {
			continue // a raise committed since the caller looked covers it
		}
		t := k.used + Lease
		if r.limit >= 0 {
			// A crash forfeits the lease: keep it to a sixteenth of what
			// the limit leaves.
			t = min(t, k.used+(r.limit-k.used)/16)
		}
		targets[r.key] = max(targets[r.key], t)
		pending = append(pending, r)
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	err := w.save(ctx, targets)
	s.wrote(err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		for _, r := range pending {
			s.keys[r.key].used -= r.n
			r.count, r.err = 0, fmt.Errorf("store the usage count of key %s: %w", r.key, err)
		}
		return
	}
	for key, t := range targets {
		k := s.keys[key]
		k.stored = max(k.stored, t)
	}
}

// flush stores the exact counts, releasing the leases, when the store
// closes.
func (s *Store) flush(w *counterWriter) {
	exact := map[string]int64{}
	s.mu.Lock()
	s.closing = true
	for key, k := range s.keys {
		if k.stored != k.used {
			exact[key] = k.used
		}
	}
	s.mu.Unlock()
	if len(exact) == 0 {
		return
	}
	if err := w.save(context.Background(), exact); err != nil {
		return // the leases stay counted: fewer signatures, never more
	}
	s.mu.Lock()
	for key, c := range exact {
		s.keys[key].stored = c
	}
	s.mu.Unlock()
}

func limitError(key string, used, n, limit int64) error {
	return fmt.Errorf("key %s has made %d of its %d signatures, %d more were asked for: %w", key, used, limit, n, state.ErrLimit)
}

// save stores counts in one transaction.
func (w *counterWriter) save(ctx context.Context, counts map[string]int64) error {
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for k, c := range counts {
		if _, err := w.upsert.ExecContext(ctx, k, c); err != nil {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return err
		}
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		w.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

// Count implements state.Counters.
func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	s.mu.Lock()
	k := s.keys[key]
	var used int64
	if k != nil {
		used = k.used
	}
	s.mu.Unlock()
	if k != nil {
		return used, nil
	}
	var c int64
	err := s.db.QueryRowContext(ctx, "SELECT count FROM key_usage WHERE key = ?", key).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the usage count of key %s: %w", key, err)
	}
	return c, nil
}

// Append implements state.Audit: it stores e as the next record of the
// hash chain.
func (s *Store) Append(ctx context.Context, e state.Entry) (state.Entry, error) {
	if s.readOnly {
		return state.Entry{}, errors.New("append to the audit log: the state database is open read-only")
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	e, err := s.appendTx(ctx, e)
	s.wrote(err)
	return e, err
}

// appendTx is Append's transaction.
func (s *Store) appendTx(ctx context.Context, e state.Entry) (state.Entry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = time.Unix(0, e.Time.UnixNano()).UTC() // what is stored and hashed
	details, err := json.Marshal(e.Details)
	if err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	defer tx.Rollback()
	var seq int64
	var prev []byte
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	e.Seq, e.Prev = seq+1, prev
	if e.Prev == nil {
		e.Prev = []byte{}
	}
	e.Hash = state.Hash(e)
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit (seq, time, actor, action, target, outcome, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Target, e.Outcome, string(details), e.Prev, e.Hash); err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", e.Seq, e.Hash); err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	return e, nil
}

// Entries implements state.Audit.
func (s *Store) Entries(ctx context.Context, after int64, limit int) ([]state.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+state.EntryColumns+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	var out []state.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

func scanEntry(rows *sql.Rows) (state.Entry, error) {
	e, err := state.ScanEntry(rows.Scan)
	if err != nil {
		return state.Entry{}, fmt.Errorf("read the audit log: %w", err)
	}
	return e, nil
}

// Verify implements state.Audit: it recomputes every record's hash and
// checks that the records follow each other from 1 without a gap and that
// the last one is the head stored with it. The error is a *state.ChainError
// naming the first bad record.
func (s *Store) Verify(ctx context.Context) error {
	_, err := s.VerifyCount(ctx)
	return err
}

// VerifyCount is Verify that also returns the number of records checked.
func (s *Store) VerifyCount(ctx context.Context) (int64, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one snapshot for records and head
	if err != nil {
		return 0, fmt.Errorf("read the audit log: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT "+state.EntryColumns+" FROM audit ORDER BY seq")
	if err != nil {
		return 0, fmt.Errorf("read the audit log: %w", err)
	}
	defer rows.Close()
	var last int64
	prev := []byte{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return last, err
		}
		switch {
		case e.Seq != last+1:
			return last, &state.ChainError{Seq: last + 1, Reason: fmt.Sprintf("is missing: the record after %d is %d (deleted or renumbered)", last, e.Seq)}
		case !bytes.Equal(e.Prev, prev):
			return last, &state.ChainError{Seq: e.Seq, Reason: "does not follow the record before it: its previous-record hash differs (reordered, or the record before was replaced)"}
		case !bytes.Equal(state.Hash(e), e.Hash):
			return last, &state.ChainError{Seq: e.Seq, Reason: "was edited: its content does not match its hash"}
		}
		last, prev = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return last, fmt.Errorf("read the audit log: %w", err)
	}
	var headSeq int64
	var headHash []byte
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash)
	if errors.Is(err, sql.ErrNoRows) {
		headSeq, headHash, err = 0, []byte{}, nil
	}
	if err != nil {
		return last, fmt.Errorf("read the audit log: %w", err)
	}
	switch {
	case headSeq > last:
		return last, &state.ChainError{Seq: last + 1, Reason: fmt.Sprintf("is missing: the log ends at %d but %d records were written (the last ones were deleted)", last, headSeq)}
	case headSeq < last:
		return last, &state.ChainError{Seq: headSeq + 1, Reason: fmt.Sprintf("was not written by Signet: the log holds %d records but %d were written", last, headSeq)}
	case !bytes.Equal(headHash, prev):
		return last, &state.ChainError{Seq: last, Reason: "was replaced: its hash differs from the one recorded when it was written"}
	}
	return last, nil
}

// Interface checks.
var (
	_ state.Audit    = (*Store)(nil)
	_ state.Counters = (*Store)(nil)
)

// useFdatasync makes SQLite commit with fdatasync(2) instead of fsync(2),
// as the C library does where its configure script finds fdatasync (every
// Linux distribution's build); modernc's translation keeps SQLite's source
// default unless asked, and the switch is process-wide. Durability is the
// same: fdatasync writes the data and the metadata needed to read it back,
// not the timestamps. On ext4 the timestamp is what an fsync's journal
// commit waits for: on the 2-core VM of BENCHMARKS.md a 4 KiB overwrite
// and sync took 392 µs with fsync and 86 µs with fdatasync, and every
// single signing request waits for one commit of the signing log. Where
// fdatasync does not exist (macOS, Windows) SQLite keeps fsync.
func useFdatasync() {
	_, _ = sqlite.Fdatasync(true) // ErrFdatasyncUnavailable: fsync stays
}
