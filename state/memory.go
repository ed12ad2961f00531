package state

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// errMemoryTampered reports that the audit chain does not verify: a record was
// edited, deleted or reordered.
var errMemoryTampered = errors.New("audit log tampered with")

// Memory is an Audit kept in memory, hash-chained like the persistent
// store. It is for tests and for servers started without a data folder:
// its records are lost when the process ends. It is safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	entries []Entry
	now     func() time.Time
}

var _ Audit = (*Memory)(nil)

// NewMemory returns an empty in-memory audit log.
func NewMemory() *Memory { return &Memory{now: time.Now} }

// Append stores e as the next record.
func (m *Memory) Append(ctx context.Context, e Entry) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e.Seq = int64(len(m.entries)) + 1
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	e.Time = e.Time.UTC()
	e.Details = maps.Clone(e.Details)
	e.Prev = make([]byte, sha256.Size)
	if n := len(m.entries); n > 0 {
		e.Prev = slices.Clone(m.entries[n-1].Hash)
	}
	e.Hash = memoryHash(e)
	m.entries = append(m.entries, e)
	return e, nil
}

// Entries returns up to limit records with Seq > after, oldest first.
// A limit of zero or less means all of them.
func (m *Memory) Entries(ctx context.Context, after int64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	start := min(max(after, 0), int64(len(m.entries)))
	out := slices.Clone(m.entries[start:])
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Verify checks the whole chain.
func (m *Memory) Verify(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := make([]byte, sha256.Size)
	for i, e := range m.entries {
		if e.Seq != int64(i)+1 || !slices.Equal(e.Prev, prev) || !slices.Equal(e.Hash, memoryHash(e)) {
			return fmt.Errorf("audit record %d: %w", i+1, errMemoryTampered)
		}
		prev = e.Hash
	}
	return nil
}

// memoryHash returns the SHA-256 hash of a record's fields and of Prev, in
// an unambiguous length-prefixed encoding (details sorted by key).
func memoryHash(e Entry) []byte {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	field([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Target))
	field([]byte(e.Outcome))
	keys := slices.Sorted(maps.Keys(e.Details))
	binary.BigEndian.PutUint64(n[:], uint64(len(keys)))
	h.Write(n[:])
	for _, k := range keys {
		field([]byte(k))
		field([]byte(e.Details[k]))
	}
	field(e.Prev)
	return h.Sum(nil)
}
