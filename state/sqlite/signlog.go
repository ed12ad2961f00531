package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signet-project/signet/state"
)

// The signing log is written by one goroutine that commits the records
// waiting together in one transaction (group commit): a record per
// signature must not cost an fsync per signature under load, yet Record
// returns only once its record is on disk. The commit's fsync is most of a
// small group's CPU (about 100 µs on a virtual disk, whatever it writes).
//
// A group is written by a few multi-row INSERTs (one per power of two in
// its size, of 64 rows at most) on the writer's own connection, into the signlog table and its
// time index only: a record's hashes stay in its hashes column.
//
// The hashes, which Search finds records by, are random: indexed one group
// at a time, each record's hash would land on its own page of the index,
// one 4 KiB page written to the WAL per record. Every foldAt hashes the log
// writer therefore moves the hashes of the records written since into the
// index, sorted, and marks them indexed (signlog_indexed): the first hash
// of each record by one INSERT … SELECT over the table, the others (of
// batches) from the writer's memory. A fold into one B-tree of every hash
// still wrote about a page per hash once the index had more pages than a
// fold has hashes (some 300 000 records), so the cost of a record grew with
// the log. The index (signlog_hix) is instead cut into epochs of
// foldsPerEpoch folds, its key the epoch first: a fold writes into its
// epoch's part of the B-tree only, at most a few hundred pages however long
// the log, and the key is the hash's first 16 hex digits (8 bytes of a
// digest: a record found by them is checked against its hashes column),
// which keeps the pages few. Search probes every epoch (one B-tree search
// each: a log of 100 million hashes has about 1 500), the index of the
// records folded before the epochs (signlog_hash, no longer written) and
// the hashes column of the records past the mark.

// foldAt is the number of unindexed hashes at which the log writer moves
// them into the index: Search reads at most this many hashes (about 520
// KiB) from the records past the mark.
const foldAt = 8192

// foldsPerEpoch is how many folds share an epoch of the hash index: a fold
// rewrites at most the pages of its epoch's part (about 100 keys a page).
const foldsPerEpoch = 8

// Statements of the log writer: its multi-row INSERTs are prepared for
// 1, 2, 4, … 1<<(sizes-1) records and 1<<(hashSizes-1) hashes. A fold
// writes foldAt hashes and more: in INSERTs of 512 rows rather than 64,
// a statement's own cost (binding, the virtual machine's set-up, the
// crossing into SQLite) is spread over more rows.
const (
	insRecordRow = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	insHashRow   = "(?1, ?, ?)" // the epoch, the hash's hixLen first digits, the record
	sizes        = 7
	hashSizes    = 10
)

// hixLen is how many of a hash's first hex digits signlog_hix keys it by.
const hixLen = 16

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
func (s *Store) logWriter(w *signWriter) {
	defer close(s.logDone)
	defer w.close()
	for {
		group, ok := state.NextGroup(s.logs, s.quit, maxGroup)
		if !ok {
			return
		}
		err := w.insertRecords(group)
		s.wrote(err)
		for _, e := range group {
			if err != nil { // rolled back: no ID, which a later record may take
				e.rec.ID, e.err = 0, fmt.Errorf("record a signature in the signing log: %w", err)
			}
			close(e.done)
		}
	}
}

// signWriter is the log writer's connection, its statements (prepared on
// it once: a statement of the pool is prepared again on each connection it
// meets) and its state.
type signWriter struct {
	conn          *sql.Conn
	begin, commit *sql.Stmt
	insRecords    [sizes]*sql.Stmt     // [k]: 1<<k records
	insHashes     [hashSizes]*sql.Stmt // [k]: 1<<k hashes of one epoch
	mark          *sql.Stmt            // moves signlog_indexed past a fold
	foldFirst     *sql.Stmt            // indexes the first hash of each record past signlog_indexed
	unindexed     int                  // hashes of the records past signlog_indexed
	rest          []hashRef            // their hashes but each record's first, in ID order
	folds         int64                // folds done, as signlog_indexed counts them
	args          []any                // reused for each statement's arguments
}

// hashRef is a hash and the ID of the record that holds it.
type hashRef struct {
	hash string
	id   int64
}

func newSignWriter(ctx context.Context, db *sql.DB) (*signWriter, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &signWriter{conn: conn}
	if err := w.prepare(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *signWriter) prepare(ctx context.Context) error {
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = w.conn.PrepareContext(ctx, q)
		return st
	}
	w.begin, w.commit = prep("BEGIN IMMEDIATE"), prep("COMMIT")
	w.mark = prep("UPDATE signlog_indexed SET id = ?, folds = folds + 1")
	w.foldFirst = prep(`INSERT OR IGNORE INTO signlog_hix (epoch, h, id)
		SELECT ?, substr(hashes, 1, min(` + strconv.Itoa(hixLen) + `, instr(hashes || ',', ',') - 1)), id FROM signlog
		WHERE id > (SELECT id FROM signlog_indexed) AND hashes <> '' ORDER BY 2, 3`)
	for k := range w.insRecords {
		w.insRecords[k] = prep(`INSERT INTO signlog (time, surface, key, key_id, user, client, request_id, digest_alg, hashes, result) VALUES ` + rows(insRecordRow, 1<<k))
	}
	for k := range w.insHashes {
		w.insHashes[k] = prep("INSERT OR IGNORE INTO signlog_hix (epoch, h, id) VALUES " + rows(insHashRow, 1<<k))
	}
	if err != nil {
		return err
	}
	if err := w.conn.QueryRowContext(ctx, "SELECT folds FROM signlog_indexed").Scan(&w.folds); err != nil {
		return err
	}
	rows, err := w.conn.QueryContext(ctx, "SELECT id, hashes FROM signlog WHERE id > (SELECT id FROM signlog_indexed) ORDER BY id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var hashes string
		if err := rows.Scan(&id, &hashes); err != nil {
			return err
		}
		if hashes != "" {
			for i, h := range strings.Split(hashes, ",") {
				w.unindexed++
				if i > 0 {
					w.rest = append(w.rest, hashRef{h, id})
				}
			}
		}
	}
	return rows.Err()
}

// rows returns n copies of row, comma-separated.
func rows(row string, n int) string {
	return strings.Repeat(row+", ", n-1) + row
}

func (w *signWriter) close() {
	for _, st := range slices.Concat([]*sql.Stmt{w.begin, w.commit, w.mark, w.foldFirst}, w.insRecords[:], w.insHashes[:]) {
		if st != nil {
			st.Close()
		}
	}
	w.conn.Close()
}

// insertRecords writes a group in one transaction and sets its records'
// IDs.
func (w *signWriter) insertRecords(group []*logEntry) (err error) {
	ctx := context.Background()
	if _, err := w.begin.ExecContext(ctx); err != nil {
		return err
	}
	unindexed, rest := w.unindexed, len(w.rest)
	defer func() {
		if err != nil { // a rolled-back group added nothing
			w.unindexed, w.rest = unindexed, w.rest[:rest]
			_, rerr := w.conn.ExecContext(ctx, "ROLLBACK")
			err = errors.Join(err, rerr)
		}
	}()
	for rest := group; len(rest) > 0; {
		k := min(bits.Len(uint(len(rest)))-1, len(w.insRecords)-1)
		chunk := rest[:1<<k]
		rest = rest[1<<k:]
		args := w.args[:0]
		for _, e := range chunk {
			r := &e.rec
			args = append(args, r.Time.UnixNano(), r.Surface, r.Key, r.KeyID, r.User, r.Client, r.RequestID, r.DigestAlg, strings.Join(r.Hashes, ","), r.Result)
		}
		w.args = args
		res, err := w.insRecords[k].ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		// The rows of one INSERT take the IDs after the largest, in order:
		// this writer is the table's only one.
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for i, e := range chunk {
			e.rec.ID = last - int64(len(chunk)-1-i)
			for j, h := range e.rec.Hashes {
				w.unindexed++
				if j > 0 {
					w.rest = append(w.rest, hashRef{h, e.rec.ID})
				}
			}
		}
	}
	clear(w.args) // no strings held until the next group
	fold := w.unindexed >= foldAt
	if fold {
		if err := w.fold(ctx, group[len(group)-1].rec.ID); err != nil {
			return fmt.Errorf("index the signing log's hashes: %w", err)
		}
	}
	if _, err := w.commit.ExecContext(ctx); err != nil {
		return err
	}
	if fold { // only once committed
		w.unindexed, w.rest = 0, w.rest[:0]
		w.folds++
	}
	return nil
}

// fold moves the hashes of the records past the mark into the index, in
// the current epoch, sorted so that each index page is written once, and
// moves the mark past them, to record last: the first hash of each record
// as the table holds it, the others from w.rest.
func (w *signWriter) fold(ctx context.Context, last int64) error {
	epoch := w.folds / foldsPerEpoch
	if _, err := w.foldFirst.ExecContext(ctx, epoch); err != nil {
		return err
	}
	es := slices.Clone(w.rest) // sorted apart: a failed group is cut off its end
	slices.SortFunc(es, func(a, b hashRef) int { return strings.Compare(a.hash, b.hash) })
	for len(es) > 0 {
		k := min(bits.Len(uint(len(es)))-1, len(w.insHashes)-1)
		args := append(w.args[:0], epoch)
		for _, e := range es[:1<<k] {
			args = append(args, e.hash[:min(hixLen, len(e.hash))], e.id) // as substr(h, 1, hixLen)
		}
		w.args = args
		if _, err := w.insHashes[k].ExecContext(ctx, args...); err != nil {
			return err
		}
		es = es[1<<k:]
	}
	clear(w.args)
	_, err := w.mark.ExecContext(ctx, last)
	return err
}

// signSQL is the signing log's SQL in SQLite: numbered parameters (?1)
// so that a condition may use one twice, and the hash lookup: the records
// the index of each epoch finds by the hash's first 16 digits and that
// hold it, those the index written before the epochs finds, and those past
// the mark that hold it.
var signSQL = state.SignSQL{
	Columns: map[state.SignField]string{state.FieldID: "id", state.FieldTime: "time", state.FieldSurface: "surface",
		state.FieldKey: "key", state.FieldUser: "user", state.FieldClient: "client", state.FieldRequestID: "request_id",
		state.FieldResult: "result"},
	Param: func(n int, _ any) string { return "?" + strconv.Itoa(n) },
	Has: `id IN (WITH RECURSIVE epoch(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM epoch WHERE n < (SELECT folds FROM signlog_indexed) / ` + strconv.Itoa(foldsPerEpoch) + `)
		SELECT s.id FROM epoch, signlog_hix x, signlog s WHERE x.epoch = epoch.n AND x.h = substr(%[1]s, 1, ` + strconv.Itoa(hixLen) + `) AND s.id = x.id AND instr(',' || s.hashes || ',', ',' || %[1]s || ',') > 0
		UNION ALL SELECT id FROM signlog_hash WHERE hash = %[1]s
		UNION ALL SELECT id FROM signlog WHERE id > (SELECT id FROM signlog_indexed) AND instr(',' || hashes || ',', ',' || %[1]s || ',') > 0)`,
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
