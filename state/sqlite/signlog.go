package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
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
// in flight), besides a statement per hash. A record is written alone, its
// hashes in its hashes column; every foldAt hashes the log writer moves
// the hashes of the records written since into the index, sorted, which
// writes each index page once per fold, and marks them indexed
// (signlog_indexed). Search looks in the index and in the hashes column of
// the records past the mark.

// foldAt is the number of unindexed hashes at which the log writer moves
// them into the index: Search reads at most this many hashes (about 520
// KiB) from the records past the mark.
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
	e := &logEntry{rec: r.Stored(), done: make(chan struct{})}
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

// insertRecords writes a group in one transaction, with the statement
// Open prepared: preparing it for every group was about a tenth of the log
// writer's time at one record per request. (One multi-row INSERT per group
// instead, parsed anew each time, measured slower.)
func (s *Store) insertRecords(group []*logEntry) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins := tx.StmtContext(ctx, s.insRecord)
	defer ins.Close()
	unindexed := s.unindexed
	for _, e := range group {
		r := &e.rec
		res, err := ins.ExecContext(ctx, r.Time.UnixNano(), r.Surface, r.Key, r.KeyID, r.User, r.Client, r.RequestID, r.DigestAlg, strings.Join(r.Hashes, ","), r.Result)
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		unindexed += len(r.Hashes)
	}
	if unindexed >= foldAt {
		if err := s.fold(ctx, tx); err != nil {
			return fmt.Errorf("index the signing log's hashes: %w", err)
		}
		unindexed = 0
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.unindexed = unindexed // only once committed: a rolled-back group added nothing
	return nil
}

// fold moves the hashes of the records past the mark into the index,
// sorted so that each index page is written once, and moves the mark past
// them.
func (s *Store) fold(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, hashes FROM signlog WHERE id > (SELECT id FROM signlog_indexed)")
	if err != nil {
		return err
	}
	type entry struct {
		hash string
		id   int64
	}
	var es []entry
	last := int64(-1)
	for rows.Next() {
		var id int64
		var hashes string
		if err := rows.Scan(&id, &hashes); err != nil {
			rows.Close()
			return err
		}
		last = max(last, id)
		if hashes == "" {
			continue
		}
		for h := range strings.SplitSeq(hashes, ",") {
			es = append(es, entry{h, id})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if last < 0 {
		return nil
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })
	ins := tx.StmtContext(ctx, s.insHash)
	defer ins.Close()
	for _, e := range es {
		if _, err := ins.ExecContext(ctx, e.hash, e.id); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, "UPDATE signlog_indexed SET id = ?", last)
	return err
}

// signSQL is the signing log's SQL in SQLite: numbered parameters (?1)
// so that a condition may use one twice, and the hash lookup: the index,
// and the hashes column of the records past the mark.
var signSQL = state.SignSQL{
	Columns: map[state.SignField]string{state.FieldID: "id", state.FieldTime: "time", state.FieldSurface: "surface",
		state.FieldKey: "key", state.FieldUser: "user", state.FieldClient: "client", state.FieldRequestID: "request_id",
		state.FieldResult: "result"},
	Param: func(n int, _ any) string { return "?" + strconv.Itoa(n) },
	Has:   "(id IN (SELECT id FROM signlog_hash WHERE hash = %[1]s) OR id > (SELECT id FROM signlog_indexed) AND instr(',' || hashes || ',', ',' || %[1]s || ',') > 0)",
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
