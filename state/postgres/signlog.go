package postgres

import (
	"context"
	"fmt"
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
		var q *logReq
		select {
		case <-s.quit:
			return
		case q = <-s.logs:
		}
		group := state.Gather(q, s.logs, maxGroup)
		err := s.insertRecords(group)
		for _, q := range group {
			if err != nil {
				q.err = fmt.Errorf("record a signature in the signing log: %w", err)
			}
			close(q.done)
		}
	}
}

func (s *Store) insertRecords(group []*logReq) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := &pgx.Batch{}
	for _, q := range group {
		r := &q.rec
		hashes := r.Hashes
		if hashes == nil {
			hashes = []string{} // the column is NOT NULL, and pgx sends a nil slice as NULL
		}
		b.Queue(`INSERT INTO signlog (time, surface, key, key_id, usr, client, request_id, digest_alg, hashes, result, node)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			r.Time.UnixNano(), r.Surface, r.Key, r.KeyID, r.User, r.Client, r.RequestID, r.DigestAlg, hashes, r.Result, s.node)
	}
	// A batch outside a transaction runs as one implicit transaction.
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	for _, q := range group {
		if err := br.QueryRow().Scan(&q.rec.ID); err != nil {
			return err
		}
	}
	return br.Close()
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
