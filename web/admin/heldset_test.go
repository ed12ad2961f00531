package admin

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// TestReadsUseTheRequestsSet: GET /tokens, /workers and /workers/{name}
// read the worker Set their request holds (web's admit put it in the
// context), as GET /tokens/{token} and the key routes do, not the Set a
// reload swapped in since: that Set no request holds, and a second reload
// closed its tokens under their Keys, Status and Chain calls. They read
// the Set in force: the dropped Set's token and worker were missing, the
// new one's listed.
func TestReadsUseTheRequestsSet(t *testing.T) {
	t.Parallel()
	set := func(tok, worker string, id int) *workers.Set {
		st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), tok), Type: soft.TypePEM, Name: tok}, "")
		if err != nil {
			t.Fatal(err)
		}
		ws := []workers.Worker{&fakeWorker{name: worker, id: id, tok: tok, alias: "k", t: st}}
		return workers.NewSet(ws, map[string]tokens.Token{tok: st})
	}
	reg := workers.NewRegistry(set("held", "Held", 1))
	held, release := reg.Acquire()
	defer release()
	ctx := workers.WithSet(context.Background(), held)
	reg.Swap(set("later", "Later", 2)) // a reload during the request
	h := New(Options{Workers: reg})
	for _, tc := range []struct {
		path, want string
	}{
		{"/tokens", `[{"name":"held"`},
		{"/workers", `[{"name":"Held"`},
		{"/workers/Held", `{"name":"Held"`},
		{"/tokens/held", `{"name":"held"`},
	} {
		code, _, body := h.Do(ctx, Caller{User: "admin"}, "GET", tc.path, "", nil)
		if code != 200 || len(body) < len(tc.want) || string(body[:len(tc.want)]) != tc.want {
			t.Errorf("GET %s: %d %s, want the request's Set (%s…)", tc.path, code, body, tc.want)
		}
	}
}

// closingToken is a token that records its Close.
type closingToken struct {
	tokens.Token
	closed chan struct{}
}

func (t *closingToken) Close() error { close(t.closed); return nil }

// gateWorker's status check waits to be released and reports whether its
// token was still open when it ended.
type gateWorker struct {
	fakeWorker
	tok              *closingToken
	entered, release chan struct{}
	open             chan bool
}

func (w *gateWorker) Status(context.Context) workers.Status {
	w.entered <- struct{}{}
	<-w.release
	select {
	case <-w.tok.closed:
		w.open <- false
	default:
		w.open <- true
	}
	return workers.Status{Active: true}
}

// TestGaugesHoldTheirSet: a scrape of the status gauges, which no request
// holds a Set for, holds the Set it reads: a reload during it closes the
// tokens it drops only after. It read the Set in force unheld, and the
// reload closed a token under the workers' status checks.
func TestGaugesHoldTheirSet(t *testing.T) {
	t.Parallel()
	tok := &closingToken{closed: make(chan struct{})}
	w := &gateWorker{fakeWorker: fakeWorker{name: "G", id: 1}, tok: tok,
		entered: make(chan struct{}), release: make(chan struct{}), open: make(chan bool, 1)}
	reg := workers.NewRegistry(workers.NewSet([]workers.Worker{w}, map[string]tokens.Token{"t": tok}))
	g := New(Options{Workers: reg}).Collector()
	ch := make(chan prometheus.Metric, 16)
	done := make(chan struct{})
	go func() { g.Collect(ch); close(done) }()
	<-w.entered
	reg.Swap(workers.NewSet(nil, nil)) // a reload that drops the token
	close(w.release)
	if !<-w.open {
		t.Error("the reload closed the token under the scrape's status check")
	}
	<-done
	select {
	case <-tok.closed:
	default:
		t.Error("the dropped token is still open after the scrape")
	}
}
