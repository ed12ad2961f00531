package workers

import (
	"context"
	"time"
)

// SetPDFReadContext makes the PDFSigner w bound each reading of a PDF with
// the contexts of f instead of pdfReadTimeout, so that a test can end one
// when an event happens.
func SetPDFReadContext(w Worker, f func(context.Context) (context.Context, context.CancelFunc)) {
	w.(*PDFSigner).readContext = f
}

// PDFBudget is a memory budget of its own for the PDF workers a test gives
// it, with the events of its reservations.
type PDFBudget struct {
	// Waiting receives the bytes of each reservation that must wait;
	// Acquired those of each reservation made, and its handler blocks
	// the reading until the test reads it.
	Waiting, Acquired chan int64
	// Hold reserves n bytes as a PDF would, until release is called.
	Hold func(n int64) (release func())
}

// SetPDFBudget gives the PDF workers ws (PDFSigner, PDFValidator) a budget
// of size bytes of their own instead of the server's, so that a test sees
// its reservations without the other tests' PDFs.
func SetPDFBudget(size int64, ws ...Worker) *PDFBudget {
	b := newPDFBudget(size)
	out := &PDFBudget{Waiting: make(chan int64, 16), Acquired: make(chan int64)}
	b.waiting = func(n int64) { out.Waiting <- n }
	b.acquired = func(n int64) { out.Acquired <- n }
	out.Hold = func(n int64) func() {
		if !b.sem.TryAcquire(n) {
			panic("the budget is not free")
		}
		return func() { b.sem.Release(n) }
	}
	for _, w := range ws {
		switch w := w.(type) {
		case *PDFSigner:
			w.limits = b.limits(w.limits)
		case *Validator:
			w.limits = b.limits(w.limits)
		}
	}
	return out
}

// WaitGoroutines waits until no more goroutines run than before (a
// goroutine that has called its WaitGroup's Done has yet to end), and
// fails t if they do not end.
var WaitGoroutines = waitGoroutines

// PDFReadDeadline is a reading's context that ends at d as the bound on a
// PDF's reading (pdfReadTimeout) does, for SetPDFReadContext.
func PDFReadDeadline(ctx context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadlineCause(ctx, d, errPDFReadTimeout)
}
