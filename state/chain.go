package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"slices"
	"time"
)

// Hash returns the hash of an audit record: SHA-256 over a canonical,
// length-prefixed encoding of Seq, Time (Unix nanoseconds), Actor, Action,
// Target, Outcome, the Details sorted by name, and Prev. Every backend
// chains records with it, so a log can be checked whatever stores it.
func Hash(e Entry) []byte {
	h := sha256.New()
	var n [8]byte
	num := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	field := func(b []byte) {
		num(uint64(len(b)))
		h.Write(b)
	}
	h.Write([]byte("signet-audit-v1\x00"))
	num(uint64(e.Seq))
	num(uint64(e.Time.UnixNano()))
	for _, s := range []string{e.Actor, e.Action, e.Target, e.Outcome} {
		field([]byte(s))
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	num(uint64(len(keys)))
	for _, k := range keys {
		field([]byte(k))
		field([]byte(e.Details[k]))
	}
	field(e.Prev)
	return h.Sum(nil)
}

// EntryColumns are the audit table's columns in the order ScanEntry reads
// them; every store selects them so.
const EntryColumns = "seq, time, actor, action, target, outcome, details, prev, hash"

// ScanEntry reads one audit record from a row of EntryColumns, time in
// Unix nanoseconds, through the row's Scan (database/sql's and pgx's have
// the same shape).
func ScanEntry(scan func(dest ...any) error) (Entry, error) {
	var e Entry
	var nanos int64
	var details string
	if err := scan(&e.Seq, &nanos, &e.Actor, &e.Action, &e.Target, &e.Outcome, &details, &e.Prev, &e.Hash); err != nil {
		return Entry{}, err
	}
	e.Time = time.Unix(0, nanos).UTC()
	e.Details = StoredDetails(details)
	return e, nil
}

// StoredDetails decodes the details of a record as the backends store
// them, a JSON object. Text that is not JSON any more (an edited column) is
// kept under the name "", so that Verify reports the record's hash
// mismatch rather than failing to read it.
func StoredDetails(text string) map[string]string {
	var d map[string]string
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		return map[string]string{"": text}
	}
	return d
}
