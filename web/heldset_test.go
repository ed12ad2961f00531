package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// setWorker reports the Set its request's context carries once released.
type setWorker struct {
	gateWorker
	saw chan *workers.Set
}

func (w *setWorker) Process(ctx context.Context, r *workers.Request) (*workers.Response, error) {
	resp, err := w.gateWorker.Process(ctx, r)
	w.saw <- workers.SetFrom(ctx)
	return resp, err
}

// TestRequestHoldsItsSet: what a request calls below web gets, in its
// context, the worker Set the request acquired, even once a reload has
// swapped in another: a vendor API's keys and the admin API's tokens are
// looked up there (Registry.In), so that no reload closes a token under
// them. They had used the Set in force, which a second reload during the
// request could retire and close.
func TestRequestHoldsItsSet(t *testing.T) {
	t.Parallel()
	w := &setWorker{gateWorker: gateWorker{name: "G", entered: make(chan struct{}), release: make(chan struct{})}, saw: make(chan *workers.Set, 1)}
	first := workers.NewSet([]workers.Worker{w}, nil)
	reg := workers.NewRegistry(first)
	addr, _ := serveRegistry(t, reg, web.Limits{})
	answered := statusOf(http.MethodPost, "http://"+addr+"/signserver/worker/G")
	<-w.entered
	reg.Swap(workers.NewSet([]workers.Worker{w}, nil)) // a reload
	reg.Swap(workers.NewSet([]workers.Worker{w}, nil)) // and another
	close(w.release)
	if got := <-w.saw; got != first {
		t.Errorf("the request's context carries %p, want the Set it acquired (%p)", got, first)
	}
	if code := <-answered; code != 200 {
		t.Errorf("status %d", code)
	}
}

// statusGate is a worker whose status check waits to be released, with a
// token of the Set it is built in: the check reads the token's state.
type statusGate struct {
	gateWorker
	tok     *closingToken
	checked chan bool // whether the token was open when the check ended
}

func (w *statusGate) Status(context.Context) workers.Status {
	w.entered <- struct{}{}
	<-w.release
	w.checked <- !w.tok.isClosed()
	return workers.Status{Active: true}
}

// closingToken is a token that records its Close.
type closingToken struct {
	tokens.Token
	closed chan struct{}
}

func (t *closingToken) Close() error { close(t.closed); return nil }

func (t *closingToken) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// TestHealthHoldsItsSet: the health check, which admit does not count,
// holds the worker Set it reads as a request does: a reload during the
// check closes the tokens it drops only once the check is done. It read
// the Set in force unheld, and one reload closed a token (a PKCS#11
// module finalized) under the workers' status checks, which then answered
// "the token was closed": the node reported unhealthy for every reload.
func TestHealthHoldsItsSet(t *testing.T) {
	t.Parallel()
	tok := &closingToken{closed: make(chan struct{})}
	w := &statusGate{gateWorker: gateWorker{name: "G", entered: make(chan struct{}), release: make(chan struct{})}, tok: tok, checked: make(chan bool, 1)}
	reg := workers.NewRegistry(workers.NewSet([]workers.Worker{w}, map[string]tokens.Token{"t": tok}))
	addr, stop := serveRegistry(t, reg, web.Limits{})
	answered := statusOf(http.MethodGet, "http://"+addr+"/signserver/healthcheck/signserverhealth")
	<-w.entered
	reg.Swap(workers.NewSet(nil, nil)) // a reload that drops the token
	close(w.release)
	if !<-w.checked {
		t.Error("the reload closed the token under the health check")
	}
	if code := <-answered; code != 200 {
		t.Errorf("status %d", code)
	}
	stop() // the server's stop waits for the check's handler to return
	select {
	case <-tok.closed:
	default:
		t.Error("the dropped token is still open after the health check")
	}
}

// statusOf sends a request with a small body (none for GET) in the
// background and gives its status, 0 for a transport error.
func statusOf(method, url string) <-chan int {
	answered := make(chan int, 1)
	go func() {
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader("d")
		}
		req, err := http.NewRequest(method, url, body)
		if err != nil {
			answered <- 0
			return
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	return answered
}
