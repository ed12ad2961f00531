package state

import (
	"context"
	"encoding/hex"
	"errors"
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
	Hashes    []string  // hex of what the key signed (a CMS signature: its document's digest, tokens.Caller.Documents), one per item; for a whole message its SHA-256
	Result    string    // ResultOK, or ResultRefused followed by the error sentence the client got
}

// The results of a signing request, as SignRecord.Result begins.
const (
	ResultOK      = "ok"
	ResultRefused = "refused"
)

// Stored returns r as every store keeps and returns it: its time (now
// when it has none) in Unix nanoseconds, UTC, and its hashes in lower case,
// as Search compares them. The hashes are copied when one changes, never
// changed in the caller's slice. The stores call it in Record, on the
// caller's goroutine rather than their one log writer's.
func (r SignRecord) Stored() SignRecord {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.Time = time.Unix(0, r.Time.UnixNano()).UTC()
	for i, h := range r.Hashes {
		if lower := strings.ToLower(h); lower != h {
			hashes := slices.Clone(r.Hashes)
			for j := i; j < len(hashes); j++ {
				hashes[j] = strings.ToLower(hashes[j])
			}
			r.Hashes = hashes
			break
		}
	}
	return r
}

// SignQuery selects signing log records. Zero fields match everything;
// the fields that are set must all match. Where says exactly how, once for
// every store.
type SignQuery struct {
	After     int64  // records with ID > After
	Limit     int    // at most this many; 0 or less: a default of 100
	Hash      string // records that signed this hash (hex, any letter case), one item of a batch is enough
	Key       string // records of this key: "token/alias", or an alias in any token
	Surface   string // records of this worker or key API: "worker/NAME", or the NAME alone; "dsm", "nethsm", …
	User      string // records of this user or client certificate (as recorded: "cert:…")
	Client    string // records from this client address
	RequestID string // records of this request ID
	Result    string // ResultOK: signed; ResultRefused: every refusal
	Since     time.Time
	Until     time.Time // records before Until (Since inclusive, Until exclusive)
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

// ErrBadQuery is wrapped by the errors of SignQuery.Check.
var ErrBadQuery = errors.New("bad signing log query")

// Check refuses a query whose fields cannot match as meant, with one
// sentence each: the admin API and `signet admin audit list` say the same.
func (q SignQuery) Check() error {
	bad := func(msg string) error { return &queryError{msg} }
	switch {
	case q.After < 0:
		return bad("the record number to list after must be 0 or more")
	case q.Hash != "" && !isHex(q.Hash):
		return bad("the hash must be hexadecimal digits, as sha256sum or openssl dgst -hex print it")
	case q.Result != "" && q.Result != ResultOK && q.Result != ResultRefused:
		return bad("the result must be " + ResultOK + " or " + ResultRefused)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		return bad("the end of the time range must be after its start")
	}
	return nil
}

type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }
func (e *queryError) Unwrap() error { return ErrBadQuery }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// SignField is a field of a signing log record that a query compares.
type SignField int

// The fields a query compares.
const (
	FieldID SignField = iota
	FieldTime
	FieldSurface
	FieldKey
	FieldUser
	FieldClient
	FieldRequestID
	FieldResult
	FieldHashes
)

// SignOp is how a condition compares a field with its value.
type SignOp int

// The comparisons. Time is compared in Unix nanoseconds, hashes in lower
// case.
const (
	OpAbove      SignOp = iota // field > value (ID)
	OpAtLeast                  // field >= value (time)
	OpBelow                    // field < value (time)
	OpEqual                    // field = value
	OpNotEqual                 // field <> value
	OpNameOrPath               // field = value, or field ends in "/" + value
	OpHas                      // one of the hashes = value
)

// SignCond is one condition of a query: the one definition of the search
// that the SQLite and PostgreSQL stores turn into SQL and Matches applies
// in memory.
type SignCond struct {
	Field SignField
	Op    SignOp
	Value any // int64 for FieldID and FieldTime, else string
}

// Where returns the conditions a record must all meet to be selected by q
// (Limit aside).
func (q SignQuery) Where() []SignCond {
	w := []SignCond{{FieldID, OpAbove, q.After}}
	if q.Hash != "" {
		w = append(w, SignCond{FieldHashes, OpHas, strings.ToLower(q.Hash)})
	}
	for _, c := range []struct {
		f  SignField
		op SignOp
		v  string
	}{
		{FieldKey, OpNameOrPath, q.Key},
		{FieldSurface, OpNameOrPath, q.Surface},
		{FieldUser, OpEqual, q.User},
		{FieldClient, OpEqual, q.Client},
		{FieldRequestID, OpEqual, q.RequestID},
	} {
		if c.v != "" {
			w = append(w, SignCond{c.f, c.op, c.v})
		}
	}
	switch q.Result {
	case ResultOK:
		w = append(w, SignCond{FieldResult, OpEqual, ResultOK})
	case ResultRefused:
		w = append(w, SignCond{FieldResult, OpNotEqual, ResultOK})
	}
	if !q.Since.IsZero() {
		w = append(w, SignCond{FieldTime, OpAtLeast, q.Since.UnixNano()})
	}
	if !q.Until.IsZero() {
		w = append(w, SignCond{FieldTime, OpBelow, q.Until.UnixNano()})
	}
	return w
}

// Limited returns q's limit, the default when it has none.
func (q SignQuery) Limited() int {
	if q.Limit <= 0 {
		return DefaultSearchLimit
	}
	return q.Limit
}

// Matches reports whether q selects r (Limit aside).
func (q SignQuery) Matches(r SignRecord) bool {
	for _, c := range q.Where() {
		if !c.Holds(r) {
			return false
		}
	}
	return true
}

// Holds reports whether r meets c.
func (c SignCond) Holds(r SignRecord) bool {
	if c.Field == FieldHashes {
		v, _ := c.Value.(string)
		return slices.ContainsFunc(r.Hashes, func(h string) bool { return strings.EqualFold(h, v) })
	}
	if n, ok := c.Value.(int64); ok {
		f := r.ID
		if c.Field == FieldTime {
			f = r.Time.UnixNano()
		}
		switch c.Op {
		case OpAbove:
			return f > n
		case OpAtLeast:
			return f >= n
		case OpBelow:
			return f < n
		}
		return false
	}
	v, _ := c.Value.(string)
	f := r.text(c.Field)
	switch c.Op {
	case OpEqual:
		return f == v
	case OpNotEqual:
		return f != v
	case OpNameOrPath:
		return f == v || strings.HasSuffix(f, "/"+v)
	}
	return false
}

// text returns r's text field f.
func (r SignRecord) text(f SignField) string {
	switch f {
	case FieldSurface:
		return r.Surface
	case FieldKey:
		return r.Key
	case FieldUser:
		return r.User
	case FieldClient:
		return r.Client
	case FieldRequestID:
		return r.RequestID
	case FieldResult:
		return r.Result
	}
	return ""
}
