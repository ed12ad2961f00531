package state

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Memory is an Audit kept in memory, hash-chained with Hash like the
// persistent store. It is for tests and for programs that embed the admin
// API without a database: its records are lost when the process ends. It is
// safe for concurrent use.
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
	e.Hash = Hash(e)
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

// Verify checks the whole chain; the error is a *ChainError naming the first
// record out of place.
func (m *Memory) Verify(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := make([]byte, sha256.Size)
	for i, e := range m.entries {
		switch {
		case e.Seq != int64(i)+1:
			return &ChainError{Seq: int64(i) + 1, Reason: fmt.Sprintf("record number %d stands in its place: a record was deleted or moved", e.Seq)}
		case !slices.Equal(e.Prev, prev):
			return &ChainError{Seq: e.Seq, Reason: "it does not hold the hash of the record before: a record was deleted or moved"}
		case !slices.Equal(e.Hash, Hash(e)):
			return &ChainError{Seq: e.Seq, Reason: "its hash does not match its contents: it was edited"}
		}
		prev = e.Hash
	}
	return nil
}

// MemoryLog is a SigningLog kept in memory, for tests and embedded use. It
// is safe for concurrent use.
type MemoryLog struct {
	mu   sync.Mutex
	recs []SignRecord
}

var _ SigningLog = (*MemoryLog)(nil)

// Record stores r.
func (m *MemoryLog) Record(ctx context.Context, r SignRecord) (SignRecord, error) {
	if err := ctx.Err(); err != nil {
		return r, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r = r.Stored()
	r.ID = int64(len(m.recs)) + 1
	r.Hashes = slices.Clone(r.Hashes)
	m.recs = append(m.recs, r)
	return r, nil
}

// Search returns the records q selects.
func (m *MemoryLog) Search(ctx context.Context, q SignQuery) ([]SignRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := q.Limited()
	var out []SignRecord
	for _, r := range m.recs {
		if len(out) == limit {
			break
		}
		if q.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// MemoryCounters are key usage Counters kept in memory, for tests and
// embedded use. They are safe for concurrent use.
type MemoryCounters struct {
	mu sync.Mutex
	n  map[string]int64
}

var _ Counters = (*MemoryCounters)(nil)

// NewMemoryCounters returns counters that are all zero.
func NewMemoryCounters() *MemoryCounters { return &MemoryCounters{n: map[string]int64{}} }

// Reserve adds n to key's count unless limit >= 0 and it would pass it.
func (m *MemoryCounters) Reserve(ctx context.Context, key string, n, limit int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit >= 0 && m.n[key]+n > limit {
		return m.n[key], fmt.Errorf("key %s has made %d of its %d signatures: %w", key, m.n[key], limit, ErrLimit)
	}
	m.n[key] += n
	return m.n[key], nil
}

// Count returns key's count.
func (m *MemoryCounters) Count(ctx context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[key], nil
}

// MemoryArchive is an Archive kept in memory, for tests and embedded use.
// It is safe for concurrent use.
type MemoryArchive struct {
	mu    sync.Mutex
	items []ArchiveItem
}

var _ Archive = (*MemoryArchive)(nil)

// Put stores it.
func (m *MemoryArchive) Put(ctx context.Context, it ArchiveItem) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	it = it.stamped()
	it.Request, it.Response = slices.Clone(it.Request), slices.Clone(it.Response)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items = append(m.items, it)
	return nil
}

// Get returns the items of requestID, oldest first.
func (m *MemoryArchive) Get(_ context.Context, requestID string) ([]ArchiveItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ArchiveItem
	for _, it := range m.items {
		if it.RequestID == requestID {
			out = append(out, it)
		}
	}
	return out, nil
}

// Purge deletes the items of worker older than before.
func (m *MemoryArchive) Purge(_ context.Context, worker string, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.items)
	m.items = slices.DeleteFunc(m.items, func(it ArchiveItem) bool { return it.Worker == worker && it.Time.Before(before) })
	return int64(n - len(m.items)), nil
}
