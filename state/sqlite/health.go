package sqlite

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/signet-project/signet/state"
)

// The store's health: whether its last write reached the disk. A full
// disk, a file or folder made read-only, a failing disk fail every write
// (signing log records, usage leases, audit records) alike until the cause
// is gone, while reads go on; the health check says so, as a cluster node
// says its database does not answer, so that a load balancer drains the
// server. A drained server writes nothing, so while degraded the store
// probes with a write of its own every probeEvery, and is healthy again
// when one commits (or a record, a lease, an audit record does).

// probeEvery is how often a degraded store tries a write.
const probeEvery = 250 * time.Millisecond

// WriteError is Health's error, and wraps a failed write's, while the
// state database cannot be written: its sentence says why, without the
// database's path, for anyone (the health check); Unwrap keeps SQLite's
// error for the server log.
type WriteError struct {
	Msg string // "the state database cannot be written: …"
	Err error  // SQLite's error
}

func (e *WriteError) Error() string { return e.Msg }

// Unwrap returns state.ErrUnavailable and SQLite's error.
func (e *WriteError) Unwrap() []error { return []error{state.ErrUnavailable, e.Err} }

// writeFailure returns err as a *WriteError when it is SQLite's failure to
// write the database's files (the disk, the files' or folder's mode), nil
// for any other error (a constraint, a statement's own error).
func writeFailure(err error) *WriteError {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	var why string
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL:
		why = "the disk of the data folder is full: free space on it"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN:
		why = "its files or the data folder are read-only: make them writable by the server's user"
	case sqlite3.SQLITE_IOERR:
		why = "the disk of the data folder reports an I/O error"
	default:
		return nil
	}
	return &WriteError{Msg: "the state database cannot be written: " + why, Err: err}
}

// health is the store's health: nil, or the *WriteError of the last write.
type health struct {
	err     atomic.Pointer[WriteError]
	probing atomic.Bool   // a probe goroutine runs
	mu      sync.Mutex    // guards changed
	changed chan struct{} // closed at the next change; nil until asked for
}

// Health returns nil while the state database takes writes, and otherwise
// a *WriteError saying why not (it wraps state.ErrUnavailable).
func (s *Store) Health() error {
	if e := s.health.err.Load(); e != nil {
		return e
	}
	return nil
}

// HealthChanged returns a channel closed at the next change of Health.
func (s *Store) HealthChanged() <-chan struct{} {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.changed == nil {
		s.health.changed = make(chan struct{})
	}
	return s.health.changed
}

// wrote records the outcome of a write that committed (err nil) or
// failed with err; an error that is not the disk's or the files' (a
// constraint, a statement's own) changes nothing. On the writers' paths it
// costs an atomic load while nothing changes.
func (s *Store) wrote(err error) {
	if err == nil {
		if s.health.err.Load() != nil {
			s.setHealth(nil)
		}
		return
	}
	we := writeFailure(err)
	if we == nil {
		return
	}
	s.setHealth(we)
	if s.health.probing.CompareAndSwap(false, true) {
		go s.probe()
	}
}

func (s *Store) setHealth(e *WriteError) {
	if prev := s.health.err.Swap(e); (prev == nil) == (e == nil) && (prev == nil || prev.Msg == e.Msg) {
		return
	}
	s.health.mu.Lock()
	if s.health.changed != nil {
		close(s.health.changed)
		s.health.changed = nil
	}
	s.health.mu.Unlock()
}

// probe tries a write every probeEvery until the store is healthy again
// (a probe committed, or a writer's write) or closes. It reads the
// database through s.db, which Close closes after quit: a probe then
// fails with database/sql's error, no write failure, and ends at quit.
func (s *Store) probe() {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		for s.health.err.Load() != nil {
			select {
			case <-s.quit:
				return // probing stays set: no probe starts after Close
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), probeEvery)
			err := s.probeWrite(ctx)
			cancel()
			if err == nil || writeFailure(err) != nil {
				s.wrote(err)
			}
		}
		s.health.probing.Store(false)
		// Degraded again between the loop's check and the flag, with no
		// probe started for it: go on probing.
		if s.health.err.Load() == nil || !s.health.probing.CompareAndSwap(false, true) {
			return
		}
	}
}

// probeWrite commits a write that changes nothing, as a record does: a
// page of the database into the WAL, synced.
func (s *Store) probeWrite(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "UPDATE signlog_indexed SET id = id"); err != nil {
		conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}
