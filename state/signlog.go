package state

import (
	"context"
	"slices"
	"strings"
	"time"
)

// SignRecord is one record of the signing log: one signing request, or one
// batch with the hash of each item, whichever surface asked (a worker, the
// TSA, the DSM or NetHSM key API, the admin test-sign). It answers "who
// signed this, when, with which key, from where".
type SignRecord struct {
	ID        int64     // 1, 2, 3, … in the order recorded; set by Record
	Time      time.Time // set by Record when zero
	Surface   string    // "worker/CAdESSigner", "dsm", "nethsm", "admin/test-sign", …
	Key       string    // "token/alias"
	KeyID     string    // the key's usage counter key ("sha256:" of its public key)
	User      string    // the user name, or the client certificate ("cert:" serial and issuer); "" for anonymous
	Client    string    // the client address
	RequestID string    // the request ID the client got
	DigestAlg string    // "SHA-256", … or "NONE" for a whole message (Ed25519)
	Hashes    []string  // hex of what the key signed, one per item; for a whole message its SHA-256
	Result    string    // "ok", or the error sentence the client got
}

// SignQuery selects signing log records. Zero fields match everything.
type SignQuery struct {
	After int64  // records with ID > After
	Limit int    // at most this many; 0 or less: a default of 100
	Hash  string // records that signed this hash (hex, any letter case)
	Key   string // records of this key: "token/alias", or an alias in any token
	User  string // records of this user
	Since time.Time
	Until time.Time
}

// SigningLog keeps the signing log. Record must have stored the record
// before it returns nil.
type SigningLog interface {
	Record(ctx context.Context, r SignRecord) (SignRecord, error)
	Search(ctx context.Context, q SignQuery) ([]SignRecord, error)
}

// DefaultSearchLimit is the number of records a SignQuery without a Limit
// returns.
const DefaultSearchLimit = 100

// Matches reports whether q selects r (Limit aside).
func (q SignQuery) Matches(r SignRecord) bool {
	switch {
	case r.ID <= q.After,
		q.Key != "" && r.Key != q.Key && !strings.HasSuffix(r.Key, "/"+q.Key),
		q.User != "" && r.User != q.User,
		!q.Since.IsZero() && r.Time.Before(q.Since),
		!q.Until.IsZero() && !r.Time.Before(q.Until):
		return false
	case q.Hash == "":
		return true
	}
	return slices.ContainsFunc(r.Hashes, func(h string) bool { return strings.EqualFold(h, q.Hash) })
}
