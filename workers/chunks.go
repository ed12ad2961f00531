package workers

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/tokens"
)

// inChunks calls f on contiguous ranges that split [0, n), on one
// goroutine per CPU in parallel: the per-item work of a batch besides
// signing (signed attributes, DER and base64 encoding) would otherwise run
// on one core while the others wait. Small batches run on the caller's
// goroutine, which always takes ranges too.
func inChunks(n int, f func(lo, hi int)) { newChunks(n, f).run() }

// minChunk is the fewest items a goroutine takes at once: fewer cost more
// to share than to do on one core.
const minChunk = 64

// chunks is the ranges of [0, n) that the goroutines of inChunks, or
// of a standby, take in turn. The goroutines take the next range as they
// finish one (about eight per goroutine, at least minChunk items), so that
// a goroutine the machine's other load holds back delays the batch by one
// range rather than by its whole share, as one range per CPU did.
type chunks struct {
	n, size int
	helpers int // goroutines to run work besides the caller's
	next    atomic.Int64
	f       func(lo, hi int)
}

func newChunks(n int, f func(lo, hi int)) *chunks {
	p := max(min(runtime.GOMAXPROCS(0), n/minChunk), 1)
	return &chunks{n: n, size: max(minChunk, n/(8*p)), helpers: p - 1, f: f}
}

// run calls f on every range, on this goroutine and c.helpers goroutines
// it starts, and returns once all have returned.
func (c *chunks) run() {
	if c.helpers == 0 {
		c.f(0, c.n)
		return
	}
	var wg sync.WaitGroup
	for range c.helpers {
		wg.Go(c.work)
	}
	c.work()
	wg.Wait()
}

// work calls f on ranges until none is left.
func (c *chunks) work() {
	for {
		lo := int(c.next.Add(int64(c.size))) - c.size
		if lo >= c.n {
			return
		}
		c.f(lo, min(lo+c.size, c.n))
	}
}

// How a standby helper waits for its work: it keeps its core for
// standbyHold, the usual gap between a batch's last signature and the
// start of its answer (tens of µs), then yields it to other goroutines
// (runtime.Gosched) between looks until standbySpin, and then blocks. A
// helper that yields from the start went to Go's global run queue and was
// often picked up late by the other core; one that kept its core all along
// starved the signing it waits for when the server had more batches than
// cores (REST batches of 1000, 4 clients: 4 % fewer items/s).
const (
	standbyHold = 100 * time.Microsecond
	standbySpin = 2 * time.Millisecond
)

// A standby is the goroutines that help write a batch's answer, started
// while the batch's last items are signing rather than once the answer is
// ready to be written, and given it as soon as the signatures exist.
//
// Measured in pipeline-batch-p256 on a 2-core virtual machine, a goroutine
// started once the signing had returned ran 0.34 ms later on average: the
// core that had signed beside the caller had gone idle, and the kernel
// took that long to wake it. Started by the goroutines that sign, as each
// finds no item left (tokens.SignTrace), a helper begins on a core that is
// still running and waits there (standbyHold, standbySpin). In a server it
// is given the answer while the key's guard records the signatures
// (SignTrace.Signed), so that the answer's encoding runs during the signing
// log's commit: one client sending REST batches of 1000 one after another
// got 3–6 % more items/s (p50 0.7–1 ms less, of 22); with 4 clients, whose
// batches keep both cores busy, it was the same as before.
type standby struct {
	most  int                    // helpers at most
	left  atomic.Int32           // helpers still to start
	job   atomic.Pointer[func()] // the helpers' work, once given
	ended atomic.Bool            // no work will be given
	once  sync.Once              // closes ready
	ready chan struct{}          // closed when the work is given or will not be
	wg    sync.WaitGroup
}

// newStandby returns a standby of up to most helpers, none started: as
// many as the work has ranges for besides the caller's (chunks.helpers),
// so that a small batch on a machine of many cores does not start a helper
// per core that would find nothing to do. Its end must be called
// (deferred) however the batch ends.
func newStandby(most int) *standby {
	s := &standby{most: most, ready: make(chan struct{})}
	s.left.Store(int32(s.most))
	return s
}

// start starts a helper unless all are started, and reports whether it did.
func (s *standby) start() bool {
	if s.left.Add(-1) < 0 {
		return false
	}
	s.wg.Go(func() {
		for t := time.Now(); ; {
			if f := s.job.Load(); f != nil {
				(*f)()
				return
			}
			if s.ended.Load() {
				return
			}
			d := time.Since(t)
			if d >= standbySpin {
				break
			}
			if d >= standbyHold {
				runtime.Gosched()
			}
		}
		<-s.ready
		if f := s.job.Load(); f != nil {
			(*f)()
		}
	})
	return true
}

// signerDone is the tokens.SignTrace hook that starts the helpers.
func (s *standby) signerDone() { s.start() }

// give gives work to the helpers, and starts those not started yet; it
// does not wait. work must be safe to call more times than it has work
// for. It is given once.
func (s *standby) give(work func()) {
	s.job.Store(&work)
	s.once.Do(func() { close(s.ready) })
	for s.start() {
		// one helper more each time, until every one has started
	}
}

// join calls the work given on this goroutine too, and returns once every
// helper has returned.
func (s *standby) join() {
	if f := s.job.Load(); f != nil {
		(*f)()
	}
	s.wg.Wait()
}

// end releases the helpers of a batch that ends without work for them (a
// refused batch, a failed signature): it waits for them to stop, so that a
// batch leaves no goroutine behind. After join it does nothing.
func (s *standby) end() {
	s.ended.Store(true)
	s.once.Do(func() { close(s.ready) })
	s.wg.Wait()
}

// trace is the tokens.SignTrace of a batch whose answer the standby helps
// write: its helpers are started as the signing goroutines run out of
// items, and given the answer to write (a.work) as soon as the signatures
// exist, while the key's guard records them.
func (s *standby) trace(a *batchAnswer) *tokens.SignTrace {
	return &tokens.SignTrace{
		SignerDone: s.signerDone,
		Signed: func(res []tokens.Result) {
			if a.signed(res) {
				s.give(a.work)
			}
		},
	}
}
