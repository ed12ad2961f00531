package postgres

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
)

// appendReq is one Append waiting for the audit writer.
type appendReq struct {
	e       state.Entry
	details string
	err     error
	done    chan struct{}
}

// Append implements state.Audit: it stores e as the next record of the
// cluster's chain, with the detail "node" naming this node.
func (s *Store) Append(ctx context.Context, e state.Entry) (state.Entry, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = time.Unix(0, e.Time.UnixNano()).UTC() // what is stored and hashed
	e.Details = maps.Clone(e.Details)
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	if _, ok := e.Details["node"]; !ok {
		e.Details["node"] = s.node
	}
	details, err := json.Marshal(e.Details)
	if err != nil {
		return state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
	}
	r := &appendReq{e: e, details: string(details), done: make(chan struct{})}
	if err := state.Submit(ctx, s.appends, s.quit, r, r.done, ErrClosed); err != nil {
		return state.Entry{}, err
	}
	return r.e, r.err
}

// auditWriter appends the records waiting together in one transaction.
func (s *Store) auditWriter() {
	defer s.wg.Done()
	for {
		group, ok := state.NextGroup(s.appends, s.quit, maxGroup)
		if !ok {
			return
		}
		err := s.appendGroup(group)
		for _, r := range group {
			if err != nil {
				r.e, r.err = state.Entry{}, fmt.Errorf("append to the audit log: %w", err)
			}
			close(r.done)
		}
	}
}

// appendGroup chains and stores a group of records after the head, which
// it locks so that the nodes of the cluster append in turn.
//
// While the database is known to be down it fails at once, as
// insertRecords does.
func (s *Store) appendGroup(group []*appendReq) error {
	if err := s.Health(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var head state.Head
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var seq int64
		var prev []byte
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&seq, &prev); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, r := range group {
			seq++
			r.e.Seq, r.e.Prev = seq, prev
			r.e.Hash = state.Hash(r.e)
			prev = r.e.Hash
			b.Queue("INSERT INTO audit (seq, time, actor, action, target, outcome, details, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				r.e.Seq, r.e.Time.UnixNano(), r.e.Actor, r.e.Action, r.e.Target, r.e.Outcome, r.details, r.e.Prev, r.e.Hash)
		}
		head = state.Head{Seq: seq, Hash: prev}
		mac := []byte{}
		if s.seal != nil {
			mac = s.seal.MAC(head)
		}
		b.Queue("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1", seq, prev, mac)
		return tx.SendBatch(ctx, b).Close()
	})
	if err == nil && s.seal != nil {
		if werr := s.seal.Write(head); werr != nil {
			s.log.Error("audit head not sealed in the local head file", "error", werr)
		}
	}
	return err
}

const selectEntries = "SELECT " + state.EntryColumns + " FROM audit"

// Entries implements state.Audit.
func (s *Store) Entries(ctx context.Context, after int64, limit int) ([]state.Entry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, selectEntries+" WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanEntry)
	if err != nil {
		return nil, fmt.Errorf("read the audit log: %w", err)
	}
	return out, nil
}

func scanEntry(row pgx.CollectableRow) (state.Entry, error) { return state.ScanEntry(row.Scan) }

// Verify implements state.Audit.
func (s *Store) Verify(ctx context.Context) error {
	_, err := s.VerifyCount(ctx)
	return err
}

// VerifyCount checks the whole chain in one snapshot and returns the number
// of records checked; the error is a *state.ChainError naming the first
// bad record.
func (s *Store) VerifyCount(ctx context.Context) (int64, error) {
	var check state.ChainCheck
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, selectEntries+" ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			if err := check.Next(e); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var seq int64
		var hash, mac []byte
		err = tx.QueryRow(ctx, "SELECT seq, hash, mac FROM audit_head WHERE id = 1").Scan(&seq, &hash, &mac)
		if errors.Is(err, pgx.ErrNoRows) {
			err = &state.ChainError{Seq: 1, Reason: "has no chain head: the head row was deleted"}
		}
		if err != nil {
			return err
		}
		if err := check.End(seq, hash); err != nil {
			return err
		}
		return s.checkSeal(ctx, tx, state.Head{Seq: seq, Hash: hash}, mac)
	})
	var ce *state.ChainError
	if err != nil && !errors.As(err, &ce) {
		err = fmt.Errorf("read the audit log: %w", err)
	}
	return check.Checked(), err
}

// checkSeal checks the head row's seal and that the log still holds the
// head this node sealed last in its head file.
func (s *Store) checkSeal(ctx context.Context, tx pgx.Tx, head state.Head, mac []byte) error {
	if s.seal == nil {
		return nil
	}
	if (head.Seq > 0 || len(mac) > 0) && !hmac.Equal(mac, s.seal.MAC(head)) {
		return &state.ChainError{Seq: head.Seq, Reason: "ends at a head that does not carry a valid seal: records were cut from the end, the log was wiped or rewritten, or it was written with another seal key"}
	}
	return s.checkLocal(ctx, tx, head)
}

// CheckSealedHead reports, with a seal, whether the database still holds
// the newest head this node sealed in its head file: a node started on an
// older copy of the database put back (a backup restored) would sign with
// key usage counts rolled back, past KEYUSAGELIMIT, as a standalone server
// refuses to. The head row's own seal is left to Verify: a cluster that
// took a seal key only now has an unsealed head until its next record.
func (s *Store) CheckSealedHead(ctx context.Context) error {
	if s.seal == nil {
		return nil
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var head state.Head
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&head.Seq, &head.Hash); err != nil {
			return fmt.Errorf("read the audit head: %w", err)
		}
		return s.checkLocal(ctx, tx, head)
	})
}

// checkLocal checks that the log ending at head holds the head this node
// sealed last in its head file.
func (s *Store) checkLocal(ctx context.Context, tx pgx.Tx, head state.Head) error {
	local, err := s.seal.Read()
	if errors.Is(err, state.ErrNoHead) {
		return nil
	}
	if err != nil {
		return &state.ChainError{Seq: 0, Reason: err.Error()}
	}
	if local.Seq > head.Seq {
		return &state.ChainError{Seq: local.Seq, Reason: fmt.Sprintf("is missing: this node sealed record %d, but the log ends at %d (an older copy of the database was put back, or records were cut)", local.Seq, head.Seq)}
	}
	var hash []byte
	if err := tx.QueryRow(ctx, "SELECT hash FROM audit WHERE seq = $1", local.Seq).Scan(&hash); err != nil {
		return &state.ChainError{Seq: local.Seq, Reason: "is missing: this node sealed it, but the log does not hold it"}
	}
	if !bytes.Equal(hash, local.Hash) {
		return &state.ChainError{Seq: local.Seq, Reason: "is not the record this node sealed: the log was replaced or rewritten"}
	}
	return nil
}

// Interface checks.
var (
	_ state.Audit    = (*Store)(nil)
	_ state.Counters = (*Store)(nil)
)
