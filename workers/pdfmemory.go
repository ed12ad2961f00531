package workers

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/signet-project/signet/formats/pades"
)

// PDFMemoryBudget is the memory, in bytes, that the PDFs the server parses
// at once may take, as pades.Cost estimates it (objects × BytesPerObject
// plus the file): half of the Go runtime's default soft memory limit
// (internal/server.DefaultMemoryLimit, 192 MiB), so that a burst of large
// PDFs leaves the rest to the requests in flight and the server under the
// README's 256 MiB of RSS. It is declared here, once; the default of
// MAX_PDF_OBJECTS (config's schema) is sized so that the largest PDF a
// worker accepts at the default limits (maxRequestMemory's 16 MiB,
// MAX_PDF_OBJECTS objects) fits in it, which TestPDFBudgetFitsDefaults
// (internal/server) holds.
const PDFMemoryBudget = 96 << 20

// ErrBusy is in the cause of an ErrUnavailable error when the server is at
// a limit of its own (the PDF memory budget) rather than a part being down:
// web answers it with Retry-After, as it does its own limits.
var ErrBusy = errors.New("the server is at a limit of its own")

// pdfMemory is the server's one PDFMemoryBudget, shared by every PDF
// worker of every worker set (a reload builds new workers, not a new
// budget).
var pdfMemory = newPDFBudget(PDFMemoryBudget)

// pdfBudget is a weighted semaphore over the estimated memory of the PDFs
// being parsed. A PDF whose estimate is not free waits, for as long as its
// reading may take (pdfReadTimeout, counted from before the wait) or its
// request allows, if less, and is
// then answered 503 (ErrBusy: with Retry-After): a burst of large PDFs is
// taken in turn instead of all at once. Small PDFs pass beside the ones
// being parsed while they fit and none waits; once one waits, those after
// it wait too, in turn (the semaphore is first come, first served), so
// that a large PDF is not starved by a stream of small ones.
type pdfBudget struct {
	sem  *semaphore.Weighted
	size int64
	// waiting and acquired are test hooks (export_test.go): called when a
	// reservation must wait, and when it has been made.
	waiting, acquired func(bytes int64)
}

func newPDFBudget(size int64) *pdfBudget {
	return &pdfBudget{sem: semaphore.NewWeighted(size), size: size}
}

// limits returns lim reserving from b.
func (b *pdfBudget) limits(lim pades.Limits) pades.Limits {
	lim.Reserve = b.reserve
	return lim
}

// reserve takes n bytes of the budget, waiting until ctx is done. A PDF
// estimated over the whole budget (MAX_PDF_OBJECTS raised past it) takes
// the whole budget: it waits for the others and is parsed alone, rather
// than never.
func (b *pdfBudget) reserve(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), b.size)
	if !b.sem.TryAcquire(n) {
		if b.waiting != nil {
			b.waiting(n)
		}
		start := time.Now()
		if err := b.sem.Acquire(ctx, n); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil, err // the client is gone: nobody reads the answer
			}
			// The wait ends at the reading's bound (pdfReadContext), or
			// sooner at its request's own deadline: the sentence says
			// which, not the bound whatever ended it.
			const busy = "The server is parsing as many PDFs as its memory budget for them allows (%d MiB, estimated from their objects and sizes), and "
			if errors.Is(context.Cause(ctx), errPDFReadTimeout) {
				return nil, Unavailable(errors.Join(ErrBusy, err), busy+"this one waited for its turn as long as a PDF may take to read (%s): retry later, or send PDFs with fewer objects.", b.size>>20, pdfReadTimeout)
			}
			return nil, Unavailable(errors.Join(ErrBusy, err), busy+"this one's request reached its deadline after it had waited %s for its turn, less than the %s a PDF may wait: retry later, or send PDFs with fewer objects.", b.size>>20, time.Since(start).Round(100*time.Millisecond), pdfReadTimeout)
		}
	}
	if b.acquired != nil {
		b.acquired(n)
	}
	var once bool
	return func() {
		if !once {
			once = true
			b.sem.Release(n)
		}
	}, nil
}
