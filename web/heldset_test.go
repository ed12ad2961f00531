package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

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
	srv := web.New(web.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+l.Addr().String()+"/signserver/worker/G", "application/octet-stream", strings.NewReader("d"))
		if err != nil {
			answered <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
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
