package sqlite

import (
	"context"
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

func (s *Store) insertRecords(group []*logEntry) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO signlog (time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	insHash, err := tx.PrepareContext(ctx, "INSERT INTO signlog_hash (hash, id) VALUES (?, ?)")
	if err != nil {
		return err
	}
	defer insHash.Close()
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
	}
	return tx.Commit()
}

// signSQL is the signing log's SQL in SQLite: numbered parameters (?1)
// so that a condition may use one twice, and the hash index table.
var signSQL = state.SignSQL{
	Columns: map[state.SignField]string{state.FieldID: "id", state.FieldTime: "time", state.FieldSurface: "surface",
		state.FieldKey: "key", state.FieldUser: "user", state.FieldClient: "client", state.FieldRequestID: "request_id",
		state.FieldResult: "result"},
	Param: func(n int, _ any) string { return "?" + strconv.Itoa(n) },
	Has:   "id IN (SELECT id FROM signlog_hash WHERE hash = %s)",
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
