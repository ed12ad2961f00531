package workers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
)

// archiver keeps what a worker with ARCHIVERS signs, as SignServer's
// OldDatabaseArchiver: per request ID, the request and/or the answer
// (ARCHIVE_OF_TYPE) in the state database. A batch is one request: its
// batch request and its batch answer are one item. A side larger than
// config.ArchiveMaxKept is archived as its size and SHA-256 only: the
// request is hashed as the worker reads it, never held a second time.
type archiver struct {
	store             state.Archive
	request, response bool
	now               func() time.Time
	retention         time.Duration // ARCHIVE_RETENTION; 0: kept for ever
}

// newArchiver returns the archiver of a worker's properties, nil when it
// does not archive.
func newArchiver(p config.Properties, store state.Archive, now func() time.Time) *archiver {
	if len(p.List(config.PropArchivers)) == 0 {
		return nil
	}
	what := p.String(config.PropArchiveOfType)
	return &archiver{store: store, now: now, retention: p.Duration(config.PropArchiveRetention),
		request:  what == config.ArchiveRequest || what == config.ArchiveRequestAndResponse,
		response: what == config.ArchiveResponse || what == config.ArchiveRequestAndResponse}
}

// archived runs process and archives the request and the answer it
// returns. An answer that cannot be archived is not handed out: the worker
// promised to keep what it signs.
func (b *base) archived(ctx context.Context, req *Request, process func(context.Context, *Request) (*Response, error)) (*Response, error) {
	a := b.archive
	if a == nil {
		return process(ctx, req)
	}
	if a.store == nil {
		return nil, Unavailable(nil, "Worker %s archives what it signs (ARCHIVERS), but this server keeps no archive: start it with a data folder or a state database.", b.name)
	}
	var tee *keeper
	if a.request {
		tee = newKeeper(req.Data, req.Size)
		r := *req
		r.Data = tee
		req = &r
	}
	resp, err := process(ctx, req)
	if err != nil {
		return nil, err
	}
	it := state.ArchiveItem{RequestID: req.ID, Time: a.now(), Worker: b.name, RequestSize: -1, ResponseSize: -1}
	if tee != nil {
		// What the worker left unread (trailing bytes of a batch) is
		// hashed too: the archive describes the whole request.
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return nil, readError(err)
		}
		it.Request, it.RequestSize, it.RequestSHA256 = tee.result()
	}
	if a.response {
		it.ResponseSize = int64(len(resp.Data))
		sum := sha256.Sum256(resp.Data)
		it.ResponseSHA256 = hex.EncodeToString(sum[:])
		if it.ResponseSize <= config.ArchiveMaxKept {
			it.Response = resp.Data
		}
	}
	if err := a.store.Put(context.WithoutCancel(ctx), it); err != nil {
		return nil, Unavailable(err, "Worker %s signed, but the archive (ARCHIVERS) could not keep the request, so the answer is withheld: retry; the server log says why.", b.name)
	}
	resp.ArchiveID = req.ID
	return resp, nil
}

// keeper reads through r, hashing everything and keeping the bytes while
// they are at most config.ArchiveMaxKept (all of them, or none: a request
// larger than that is archived by its hash). A request whose size is known
// to be larger is not kept from its first byte.
type keeper struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	keep bool
	kept bytes.Buffer
}

func newKeeper(r io.Reader, size int64) *keeper {
	return &keeper{r: r, h: sha256.New(), keep: size <= config.ArchiveMaxKept}
}

func (k *keeper) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.h.Write(p[:n])
	k.n += int64(n)
	switch {
	case k.keep && k.n <= config.ArchiveMaxKept:
		k.kept.Write(p[:n])
	case k.keep:
		k.keep, k.kept = false, bytes.Buffer{} // too large to keep: let it go
	}
	return n, err
}

// result returns the bytes kept (nil when the request was too large), the
// size and the hex SHA-256 of everything read.
func (k *keeper) result() ([]byte, int64, string) {
	var kept []byte
	if k.keep {
		kept = k.kept.Bytes()
		if kept == nil {
			kept = []byte{}
		}
	}
	return kept, k.n, hex.EncodeToString(k.h.Sum(nil))
}

// archiverOf is a worker with an archive: every signing kind, through base.
type archiverOf interface{ archiving() *archiver }

func (b *base) archiving() *archiver { return b.archive }

// PurgeArchive deletes from the archive the items of each worker of set
// that are older than its ARCHIVE_RETENTION at now, and returns how many
// it deleted. The server calls it periodically (internal/server), with its
// clock.
func PurgeArchive(ctx context.Context, set *Set, now time.Time) (int64, error) {
	var total int64
	var errs []error
	for _, w := range set.Workers() {
		aw, ok := w.(archiverOf)
		if !ok {
			continue
		}
		a := aw.archiving()
		if a == nil || a.store == nil || a.retention <= 0 {
			continue
		}
		n, err := a.store.Purge(ctx, w.Name(), now.Add(-a.retention))
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}
