package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// logReq is one Record call waiting for the signing log writer.
type logReq struct {
	rec  state.SignRecord
	err  error
	done chan struct{}
}

// Record implements state.SigningLog.
func (s *Store) Record(ctx context.Context, r state.SignRecord) (state.SignRecord, error) {
	q := &logReq{rec: r.Stored(), done: make(chan struct{})}
	if err := state.Submit(ctx, s.logs, s.quit, q, q.done, ErrClosed); err != nil {
		return r, err
	}
	return q.rec, q.err
}

// logWriter writes the records waiting together in one round trip.
func (s *Store) logWriter() {
	defer s.wg.Done()
	for {
		group, ok := state.NextGroup(s.logs, s.quit, maxGroup)
		if !ok {
			return
		}
		err := s.insertRecords(group)
		for _, q := range group {
			if err != nil {
				q.err = fmt.Errorf("record a signature in the signing log: %w", err)
			}
			close(q.done)
		}
	}
}

// insertRecords writes a group by one INSERT of its records' columns as
// arrays, one row per element, instead of a batch of one INSERT per record
// (each with its own execution in the server), and sets their IDs.
//
// While the database is known to be down it fails at once, as a lease
// does: a database that hangs (a frozen host, a partition without a reset)
// would hold each group for its timeout, and the records of the keys
// without a limit, whose signatures do not wait for them, would pile up
// behind it without bound.
func (s *Store) insertRecords(group []*logReq) error {
	if err := s.Health(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := len(group)
	times := make([]int64, n)
	cols := make([][]string, 8) // surface, key, key_id, usr, client, request_id, digest_alg, result
	for i := range cols {
		cols[i] = make([]string, n)
	}
	var hashes []string
	from, to := make([]int32, n), make([]int32, n) // each record's hashes: hashes[from:to] (1-based, inclusive)
	for i, q := range group {
		r := &q.rec
		times[i] = r.Time.UnixNano()
		for j, v := range []string{r.Surface, r.Key, r.KeyID, r.User, r.Client, r.RequestID, r.DigestAlg, r.Result} {
			cols[j][i] = v
		}
		from[i] = int32(len(hashes) + 1)
		hashes = append(hashes, r.Hashes...)
		to[i] = int32(len(hashes))
	}
	if hashes == nil {
		hashes = []string{} // pgx sends a nil slice as NULL
	}
	// Each row's ID comes from the identity as the rows are inserted, in
	// the order of the SELECT: the IDs returned, sorted, are the records'
	// in order, whatever other nodes insert between them.
	rows, err := s.pool.Query(ctx, `INSERT INTO signlog (time, surface, key, key_id, usr, client, request_id, digest_alg, hashes, result, node)
		SELECT t, su, k, ki, u, c, ri, d, ($10::text[])[hf:ht], re, $13
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $11::int[], $12::int[])
			WITH ORDINALITY AS g(t, su, k, ki, u, c, ri, d, re, hf, ht, n)
		ORDER BY n
		RETURNING id`,
		times, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], hashes, from, to, s.node)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if len(ids) != n {
		return fmt.Errorf("%d records inserted of %d", len(ids), n)
	}
	slices.Sort(ids)
	for i, q := range group {
		q.rec.ID = ids[i]
	}
	return nil
}

// signSQL is the signing log's SQL in PostgreSQL: typed parameters, and
// the hashes in an array column under a GIN index.
var signSQL = state.SignSQL{
	Columns: map[state.SignField]string{state.FieldID: "id", state.FieldTime: "time", state.FieldSurface: "surface",
		state.FieldKey: "key", state.FieldUser: "usr", state.FieldClient: "client", state.FieldRequestID: "request_id",
		state.FieldResult: "result"},
	Param: func(n int, v any) string {
		if _, ok := v.(int64); ok {
			return "$" + strconv.Itoa(n) + "::bigint"
		}
		return "$" + strconv.Itoa(n) + "::text"
	},
	Has: "hashes @> ARRAY[%s]",
}

// Search implements state.SigningLog.
func (s *Store) Search(ctx context.Context, q state.SignQuery) ([]state.SignRecord, error) {
	where, args := signSQL.Where(q)
	args = append(args, q.Limited())
	rows, err := s.pool.Query(ctx, `SELECT id, time, surface, key, key_id, usr, client, request_id, digest_alg, hashes, result
		FROM signlog WHERE `+where+" ORDER BY id LIMIT $"+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("read the signing log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (state.SignRecord, error) {
		var r state.SignRecord
		var nanos int64
		err := row.Scan(&r.ID, &nanos, &r.Surface, &r.Key, &r.KeyID, &r.User, &r.Client, &r.RequestID, &r.DigestAlg, &r.Hashes, &r.Result)
		r.Time = time.Unix(0, nanos).UTC()
		if len(r.Hashes) == 0 {
			r.Hashes = nil
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the signing log: %w", err)
	}
	return out, nil
}

var _ state.SigningLog = (*Store)(nil)
