package state

import (
	"context"
	"time"
)

// ArchiveItem is what a worker with ARCHIVERS keeps of one request: the
// request and the signature it answered with, as SignServer's database
// archiver does, to be looked up by request ID.
type ArchiveItem struct {
	RequestID string
	Time      time.Time // set by Put when zero
	Worker    string
	Request   []byte // nil when the worker keeps responses only
	Response  []byte // nil when the worker keeps requests only
}

// Archive keeps archived requests and responses.
type Archive interface {
	// Put stores an item.
	Put(ctx context.Context, it ArchiveItem) error
	// Get returns the items of a request ID (a batch has one per worker).
	Get(ctx context.Context, requestID string) ([]ArchiveItem, error)
	// Purge deletes the items of worker older than before, and returns how
	// many it deleted (the retention period).
	Purge(ctx context.Context, worker string, before time.Time) (int64, error)
}
