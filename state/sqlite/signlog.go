package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/signet-project/signet/state"
)

// The signing log is written by one goroutine that commits the records
// waiting together in one transaction (group commit): a record per
// signature must not cost an fsync per signature under load, yet Record
// returns only once its record is on disk.
//
// The hashes, which Search finds records by, are random: indexed one group
// at a time, each record's hash lands on its own page of the index, and
// every commit wrote about one index page per record to the WAL (about 20
// of the ~45 µs of CPU a record cost, one 1 KiB document per request at 32
// in flight). They are written to signlog_hash_recent, an unindexed table
// that grows at its end, and moved into the indexed signlog_hash in bulk,
// sorted, every foldAt hashes, which writes each index page once per fold.
// Search looks in both.

// foldAt is the number of unindexed hashes at which the log writer moves
// them into the index. Search scans at most this many rows of
// signlog_hash_recent (about 600 KiB).
const foldAt = 8192

// logEntry is one Record call waiting for the log writer.
type logEntry struct {
	rec  state.SignRecord
	err  error
	done chan struct{}
}

// Record implements state.SigningLog.
func (s *Store) Record(ctx context.Context, r state.SignRecord) (state.SignRecord, error) {
	if s.readOnly {
		return r, fmt.Errorf("record a signature: the state database is open read-only")
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = time.Unix(0, r.Time.UnixNano()).UTC()
	e := &logEntry{rec: r, done: make(chan struct{})}
	if err := state.Submit(ctx, s.logs, s.quit, e, e.done, ErrClosed); err != nil {
		return r, err
	}
	return e.rec, e.err
}

// logWriter commits the records of the signing log in groups.
func (s *Store) logWriter() {
	defer close(s.logDone)
	for {
		var e *logEntry
		select {
		case <-s.quit:
			return
		case e = <-s.logs:
		}
		group := state.Gather(e, s.logs, maxGroup)
		err := s.insertRecords(group)
		for _, e := range group {
			if err != nil {
				e.err = fmt.Errorf("record a signature in the signing log: %w", err)
			}
			close(e.done)
		}
	}
}

// insertRecords writes a group in one transaction, with the statements
// Open prepared: preparing them for every group was about a tenth of the
// log writer's time at one record per request. (One multi-row INSERT per
// group instead, parsed anew each time, measured slower.)
func (s *Store) insertRecords(group []*logEntry) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins := tx.StmtContext(ctx, s.insRecord)
	defer ins.Close()
	insHash := tx.StmtContext(ctx, s.insHash)
	defer insHash.Close()
	recent := s.recent
	for _, e := range group {
		r := &e.rec
		for i, h := range r.Hashes {
			r.Hashes[i] = strings.ToLower(h) // as searched, and as PostgreSQL keeps them
		}
		res, err := ins.ExecContext(ctx, r.Time.UnixNano(), r.Surface, r.Key, r.KeyID, r.User, r.Client, r.RequestID, r.DigestAlg, strings.Join(r.Hashes, ","), r.Result)
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		for _, h := range r.Hashes {
			if _, err := insHash.ExecContext(ctx, h, r.ID); err != nil {
				return err
			}
		}
		recent += len(r.Hashes)
	}
	if recent >= foldAt {
		if err := fold(ctx, tx); err != nil {
			return err
		}
		recent = 0
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.recent = recent // only once committed: a rolled-back group added nothing
	return nil
}

// fold moves the hashes of signlog_hash_recent into the index, sorted so
// that each index page is written once.
func fold(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO signlog_hash (hash, id) SELECT hash, id FROM signlog_hash_recent ORDER BY hash"); err != nil {
		return fmt.Errorf("index the signing log's hashes: %w", err)
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM signlog_hash_recent")
	return err
}

// signSQL is the signing log's SQL in SQLite: numbered parameters (?1)
// so that a condition may use one twice, and the hash tables (indexed and
// recent).
var signSQL = state.SignSQL{
	Columns: map[state.SignField]string{state.FieldID: "id", state.FieldTime: "time", state.FieldSurface: "surface",
		state.FieldKey: "key", state.FieldUser: "user", state.FieldClient: "client", state.FieldRequestID: "request_id",
		state.FieldResult: "result"},
	Param: func(n int, _ any) string { return "?" + strconv.Itoa(n) },
	Has:   "id IN (SELECT id FROM signlog_hash WHERE hash = %[1]s UNION ALL SELECT id FROM signlog_hash_recent WHERE hash = %[1]s)",
}

// Search implements state.SigningLog.
func (s *Store) Search(ctx context.Context, q state.SignQuery) ([]state.SignRecord, error) {
	where, args := signSQL.Where(q)
	args = append(args, q.Limited())
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result
		FROM signlog WHERE `+where+" ORDER BY id LIMIT ?"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("read the signing log: %w", err)
	}
	defer rows.Close()
	var out []state.SignRecord
	for rows.Next() {
		var r state.SignRecord
		var nanos int64
		var hashes string
		if err := rows.Scan(&r.ID, &nanos, &r.Surface, &r.Key, &r.KeyID, &r.User, &r.Client, &r.RequestID, &r.DigestAlg, &hashes, &r.Result); err != nil {
			return nil, fmt.Errorf("read the signing log: %w", err)
		}
		r.Time = time.Unix(0, nanos).UTC()
		if hashes != "" {
			r.Hashes = strings.Split(hashes, ",")
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the signing log: %w", err)
	}
	return out, nil
}

var _ state.SigningLog = (*Store)(nil)
