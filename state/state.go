// Package state keeps what changes while Signet runs: the audit log of
// admin actions and the key usage counters. It is a small interface so that
// the embedded SQLite store (the default, in the data folder) can be
// replaced by PostgreSQL.
package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLimit reports that a key usage limit would be passed: Counters.Reserve
// refused to count more. The callers that sign (workers, tokens/guard)
// recognise it and answer 503. It is state's own error, so that state
// depends on no other part of Signet.
var ErrLimit = errors.New("key usage limit reached")

// ErrUnavailable reports that the state database cannot be reached (a
// cluster's PostgreSQL) or written (WriteError): a key whose usage it
// counts or whose signatures it records cannot sign until it is back.
// Callers answer 503.
var ErrUnavailable = errors.New("the state database is unreachable")

// WriteError reports that the state database answers but cannot be
// written: its disk is full, its files or folder are read-only, or the
// disk fails. It wraps ErrUnavailable: nothing can be counted or recorded
// until it is gone. Msg says why and what to do, for anyone (the health
// check, a client's 503): no path; Err is the database's own error.
type WriteError struct {
	Msg string // "the state database cannot be written: …"
	Err error
}

func (e *WriteError) Error() string { return e.Msg }

// Unwrap returns ErrUnavailable and the database's error.
func (e *WriteError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Entry is one audit record. Records are append-only and hash-chained:
// each holds the hash of the one before, so that an edited or deleted
// record is detected by Audit.Verify.
type Entry struct {
	Seq     int64     // 1, 2, 3, … in the order appended; set by Append
	Time    time.Time // set by Append when zero
	Actor   string    // the authenticated user, or "system"
	Action  string    // what was done, such as "token.activate" or "key.generate"
	Target  string    // what it was done to, such as "token/demo" or "token/demo/key/signer-p256"
	Outcome string    // "ok", or the error sentence the caller got
	// Details are further facts (algorithm, subject DN, remote address),
	// never a secret.
	Details map[string]string
	Prev    []byte // hash of the record before (zero for the first); set by Append
	Hash    []byte // hash of this record; set by Append
}

// Audit is the audit log.
type Audit interface {
	// Append stores e as the next record and returns it with Seq, Time,
	// Prev and Hash set.
	Append(ctx context.Context, e Entry) (Entry, error)
	// Entries returns up to limit records with Seq > after, oldest first.
	Entries(ctx context.Context, after int64, limit int) ([]Entry, error)
	// Verify checks the whole chain; the error names the first record that
	// was edited, deleted or reordered.
	Verify(ctx context.Context) error
}

// Counters are the key usage counters (KEYUSAGELIMIT). A key is counted by
// a string the caller chooses; Signet uses the SHA-256 fingerprint of the
// key's public key, as SignServer counts per key, not per worker.
type Counters interface {
	// Reserve adds n to the count of key and returns the new count, once
	// it is stored. When limit >= 0 and the count would pass it, nothing
	// is added and the error wraps ErrLimit: Reserve never lets the count
	// go over the limit, also under concurrent calls.
	Reserve(ctx context.Context, key string, n, limit int64) (int64, error)
	// Count returns the stored count of key, 0 for a key never counted.
	Count(ctx context.Context, key string) (int64, error)
}

// ChainError is the error of Audit.Verify: the audit log's hash chain is
// broken at record Seq, the first bad one.
type ChainError struct {
	Seq    int64  // the first record that fails the check
	Reason string // what is wrong with it, one sentence
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit record %d: %s", e.Seq, e.Reason)
}
