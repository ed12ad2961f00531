package workers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
	"github.com/signet-project/signet/workers"
)

// defaultMaxPDFObjects is MAX_PDF_OBJECTS's default, as the schema declares
// it.
func defaultMaxPDFObjects(t *testing.T) int {
	t.Helper()
	p, ok := config.LookupProperty(config.PropMaxPDFObjects)
	n, err := strconv.Atoi(p.Default)
	if !ok || err != nil {
		t.Fatalf("MAX_PDF_OBJECTS has no integer default: %q", p.Default)
	}
	return n
}

// TestPDFObjectsOverDefault: a PDF of one object more than MAX_PDF_OBJECTS's
// default is refused, signing and validating, with 400 and a sentence that
// names the property, whether its cross-reference /Size says so or only
// its objects do; one at the default is read.
func TestPDFObjectsOverDefault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	limit := defaultMaxPDFObjects(t)
	over := padestest.ManyObjects(limit+1, false)
	cases := []struct {
		name, verb string
		w          workers.Worker
	}{
		{"PDFSigner", "signed", f.workerOf(t, config.KindPDFSigner, "")},
		{"PDFValidator", "validated", f.validator(t, config.KindPDFValidator)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := process(c.w, over, map[string]string{})
			wantErr(t, err, workers.ErrIllegalRequest, "The document cannot be "+c.verb+": the PDF has "+strconv.Itoa(limit+1)+" objects, more than this worker's limit of "+strconv.Itoa(limit)+" (MAX_PDF_OBJECTS): send a PDF with fewer objects, or ask the operator to raise MAX_PDF_OBJECTS.")
			if _, err := process(c.w, padestest.ManyObjects(limit, false), map[string]string{}); err != nil {
				t.Errorf("a PDF of %d objects: %v", limit, err)
			}
		})
	}
	if n := f.tok.signed.Load(); n != 1 {
		t.Errorf("%d signatures made, want 1 (the PDF at the limit)", n)
	}
}

// TestPDFMemoryBudget: two large PDFs sent at once to workers sharing a
// budget that holds one are parsed in turn: the second waits (an event of
// the budget) while the first holds its reservation, and both are signed
// or validated, as is a small PDF sent meanwhile. A PDF that cannot have
// its turn before its reading's deadline is answered 503 with a sentence,
// marked ErrBusy (web adds Retry-After).
func TestPDFMemoryBudget(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signer, validator := f.workerOf(t, config.KindPDFSigner, ""), f.validator(t, config.KindPDFValidator)
	big, small := padestest.ManyObjects(2000, false), onePage()
	cost := pades.Cost(2000, len(big))
	budget := workers.SetPDFBudget(cost+cost/2, signer, validator)

	type result struct {
		name string
		err  error
	}
	done := make(chan result, 3)
	send := func(name string, w workers.Worker, doc []byte) {
		go func() {
			_, err := process(w, doc, map[string]string{})
			done <- result{name, err}
		}()
	}
	send("signer", signer, big)
	send("validator", validator, big)
	// One takes the budget and is held in the Acquired event until the
	// test reads it; the other must wait for it.
	select {
	case n := <-budget.Waiting:
		if n != cost {
			t.Errorf("a PDF waits for %d bytes, want %d", n, cost)
		}
	case r := <-done:
		t.Fatalf("%s was read while the other PDF held the budget: nothing waited (%v)", r.name, r.err)
	}
	send("small", signer, small)
	for range 3 { // the first, then the second and the small one in turn
		<-budget.Acquired
	}
	for range 3 {
		if r := <-done; r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
		}
	}

	// A PDF whose wait ends before its turn gets 503, with a sentence
	// that says what ended it: the bound on a PDF's reading, or the
	// request's own deadline, shorter.
	held := workers.SetPDFBudget(cost, signer)
	release := held.Hold(cost)
	defer release()
	for _, c := range []struct {
		name string
		ctx  context.Context                                             // the request's
		read func(context.Context) (context.Context, context.CancelFunc) // nil: pdfReadTimeout
		want string
	}{
		{"the bound on a PDF's reading", context.Background(), func(ctx context.Context) (context.Context, context.CancelFunc) {
			return workers.PDFReadDeadline(ctx, time.Unix(0, 0))
		}, fmt.Sprintf("The server is parsing as many PDFs as its memory budget for them allows (%d MiB, estimated from their objects and sizes), and this one waited for its turn as long as a PDF may take to read (20s): retry later, or send PDFs with fewer objects.", cost>>20)},
		{"the request's deadline", expired{}, nil,
			fmt.Sprintf("The server is parsing as many PDFs as its memory budget for them allows (%d MiB, estimated from their objects and sizes), and this one's request reached its deadline after it had waited 0s for its turn, less than the 20s a PDF may wait: retry later, or send PDFs with fewer objects.", cost>>20)},
	} {
		t.Run(c.name, func(t *testing.T) {
			workers.SetPDFReadContext(signer, c.read)
			_, err := signer.Process(c.ctx, &workers.Request{Data: bytes.NewReader(small), Size: int64(len(small))})
			wantErr(t, err, workers.ErrUnavailable, c.want)
			if !errors.Is(err, workers.ErrBusy) {
				t.Errorf("the budget's 503 %v is not ErrBusy: it would have no Retry-After", err)
			}
			<-held.Waiting
		})
	}
}

// expired is a request's context whose deadline has passed, and which
// holds no value: what a client's short deadline is once it passes.
type expired struct{ context.Context }

func (expired) Deadline() (time.Time, bool) { return time.Unix(0, 0), true }
func (expired) Done() <-chan struct{}       { return closed }
func (expired) Err() error                  { return context.DeadlineExceeded }
func (expired) Value(any) any               { return nil }

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
