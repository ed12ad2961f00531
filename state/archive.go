package state

import (
	"context"
	"time"
)

// ArchiveItem is what a worker with ARCHIVERS keeps of one request: the
// request and the answer it signed (ARCHIVE_OF_TYPE), as SignServer's
// database archiver does, to be looked up by request ID. A request or
// answer larger than the worker keeps is archived as its size and SHA-256
// only, so that archiving a large document costs no memory.
type ArchiveItem struct {
	RequestID string
	Time      time.Time // set by Put when zero
	Worker    string
	// Request and Response are the bytes kept; nil when the worker does
	// not archive that side or it was too large.
	Request  []byte
	Response []byte
	// RequestSize and RequestSHA256 (hex) describe the request whenever it
	// is archived, kept whole or not; likewise the response. Size -1 and
	// no hash: that side is not archived.
	RequestSize    int64
	RequestSHA256  string
	ResponseSize   int64
	ResponseSHA256 string
}

// Archive keeps archived requests and responses.
type Archive interface {
	// Put stores an item.
	Put(ctx context.Context, it ArchiveItem) error
	// Get returns the items of a request ID, oldest first (a client may
	// send the same request ID twice).
	Get(ctx context.Context, requestID string) ([]ArchiveItem, error)
	// Purge deletes the items of worker older than before, and returns how
	// many it deleted (the retention period).
	Purge(ctx context.Context, worker string, before time.Time) (int64, error)
}

// stamped returns it with its time as every store keeps it: now when it
// has none, in Unix nanoseconds, UTC.
func (it ArchiveItem) stamped() ArchiveItem {
	if it.Time.IsZero() {
		it.Time = time.Now()
	}
	it.Time = time.Unix(0, it.Time.UnixNano()).UTC()
	return it
}
