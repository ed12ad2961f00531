package web_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// gateWorker reports each request it starts on entered and holds it until
// release is closed.
type gateWorker struct {
	name    string
	entered chan struct{}
	release chan struct{}
}

func (w *gateWorker) Name() string                          { return w.name }
func (w *gateWorker) ID() int                               { return 9 }
func (w *gateWorker) Kind() string                          { return "Gate" }
func (w *gateWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (w *gateWorker) Process(ctx context.Context, r *workers.Request) (*workers.Response, error) {
	io.Copy(io.Discard, r.Data)
	w.entered <- struct{}{}
	<-w.release
	return &workers.Response{Data: []byte("ok"), Items: 1}, nil
}

func serveLimits(t *testing.T, lim web.Limits, ws ...workers.Worker) string {
	t.Helper()
	addr, _ := watchLimits(t, lim, ws...)
	return addr
}

// watchLimits is serveLimits with the server's gauges to wait on.
func watchLimits(t *testing.T, lim web.Limits, ws ...workers.Worker) (string, *gauges) {
	t.Helper()
	addr, g, _ := serveWatched(t, workers.NewRegistry(workers.NewSet(ws, nil)), lim)
	return addr, g
}

// serveRegistry serves reg with lim on loopback until the test ends, or
// until stop, which waits for the server's handlers to return.
func serveRegistry(t *testing.T, reg *workers.Registry, lim web.Limits) (addr string, stop func()) {
	t.Helper()
	addr, _, stop = serveWatched(t, reg, lim)
	return addr, stop
}

// serveWatched is serveRegistry with the server's gauges to wait on.
func serveWatched(t *testing.T, reg *workers.Registry, lim web.Limits) (string, *gauges, func()) {
	t.Helper()
	srv := web.New(web.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler), Limits: lim})
	g := &gauges{client: http.DefaultClient, changed: srv.WatchPlaces()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.base = "http://" + l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return l.Addr().String(), g, stop
}

// TestBusyAnswers503WithRetryAfter: a server at its in-flight cap, or a
// worker at its queue bound, answers 503 with Retry-After and a sentence,
// while health stays answerable (issue 14: there was no cap).
func TestBusyAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lim  web.Limits
		want string
	}{
		{"server in-flight cap", web.Limits{MaxInFlight: 2, MaxWorkerQueue: 100}, "limit of 2 requests at once"},
		{"worker queue bound", web.Limits{MaxInFlight: 100, MaxWorkerQueue: 2}, "Worker G is serving its limit of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &gateWorker{name: "G", entered: make(chan struct{}), release: make(chan struct{})}
			addr := serveLimits(t, tc.lim, w)
			url := "http://" + addr + "/signserver/worker/G"
			done := make(chan int, 2)
			for range 2 {
				go func() {
					resp, err := http.Post(url, "application/octet-stream", strings.NewReader("d"))
					if err != nil {
						done <- 0
						return
					}
					resp.Body.Close()
					done <- resp.StatusCode
				}()
				<-w.entered
			}
			resp, err := http.Post(url, "application/octet-stream", strings.NewReader("d"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), tc.want) {
				t.Errorf("third request: %d Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
			h, err := http.DefaultClient.Get("http://" + addr + "/signserver/healthcheck/signserverhealth")
			if err != nil {
				t.Fatal(err)
			}
			h.Body.Close()
			if h.StatusCode != 200 {
				t.Errorf("health while full: %d", h.StatusCode)
			}
			close(w.release)
			for range 2 {
				if c := <-done; c != 200 {
					t.Errorf("a held request ended %d", c)
				}
			}
		})
	}
}

// rawExchange sends raw bytes on a new connection and returns what the
// server answers until it closes the connection.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // a failing server, not the test's timing
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// TestStalledBodyIsCutOff: a body that stops arriving is answered 408 and
// its connection closed at BodyTimeout (issue 14: stalled bodies were held
// open forever).
func TestStalledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	addr := serveLimits(t, web.Limits{BodyTimeout: 100 * time.Millisecond}, &fakeWorker{name: "W"})
	start := time.Now()
	got := rawExchange(t, addr, "POST /signserver/worker/W HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nonly ten b")
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.Contains(got, "stalled") {
		t.Fatalf("answer %q", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cut off after %s", d)
	}
}

// TestBareErrorsCarryASentence: net/http's own answers to a malformed
// request carry a sentence (issue 14: they were bare status text).
func TestBareErrorsCarryASentence(t *testing.T) {
	t.Parallel()
	addr := serveLimits(t, web.Limits{}, &fakeWorker{name: "W"})
	for _, tc := range []struct {
		name, req, status, want string
	}{
		{"negative Content-Length", "POST /signserver/worker/W HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "400", "non-negative Content-Length"},
		{"overflowing Content-Length", "POST /signserver/worker/W HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", "400", "malformed HTTP"},
		{"2 MB header", "GET /signserver/healthcheck/signserverhealth HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "431", "shorter headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, addr, tc.req)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
			if err != nil {
				t.Fatalf("%q: %v", got, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if fmt.Sprint(resp.StatusCode) != tc.status || !strings.Contains(string(b), tc.want) || !strings.HasSuffix(string(b), ".\n") {
				t.Errorf("%d %q, want %s and %q", resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}

// TestRESTMemoryBound: a REST body over the request memory bound is
// refused with 413 whether or not it announces its length (issue 14: a
// 100 MB REST body cost 400 MB).
func TestRESTMemoryBound(t *testing.T) {
	t.Parallel()
	addr := serveLimits(t, web.Limits{MaxRequestMemory: 1 << 20}, &fakeWorker{name: "W"})
	body := `{"data":"` + strings.Repeat("A", 2<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // no length: sent chunked
		}
		resp, err := http.Post("http://"+addr+"/signserver/rest/v1/workers/W/process", "application/json", r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || !strings.Contains(string(b), "maxRequestMemory") {
			t.Errorf("chunked %v: %d %s", chunked, resp.StatusCode, b)
		}
	}
}

// TestConnectionCap: connections over MaxConnections wait for a place.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	addr := serveLimits(t, web.Limits{MaxConnections: 1}, &fakeWorker{name: "W"})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// The first connection is served (so it holds the only place).
	io.WriteString(first, "GET /signserver/healthcheck/signserverhealth HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(first), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Get("http://" + addr + "/signserver/healthcheck/signserverhealth")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("a second connection was served while the first held the only place (err %v)", err)
	case <-time.After(200 * time.Millisecond): // proving a negative needs a bound
	}
	first.Close()
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

// TestStalledUnreadBodyIsCutOff: a request refused before its body is read
// (an unknown worker) does not let net/http wait on the rest of a stalled
// body forever.
func TestStalledUnreadBodyIsCutOff(t *testing.T) {
	t.Parallel()
	addr := serveLimits(t, web.Limits{BodyTimeout: 100 * time.Millisecond}, &fakeWorker{name: "W"})
	got := rawExchange(t, addr, "POST /signserver/worker/Nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nonly ten b")
	if !strings.HasPrefix(got, "HTTP/1.1 404 ") {
		t.Fatalf("answer %q", got)
	}
}

// TestWorkerBusyAnswersRetryAfter: a worker's 503 for a limit of the
// server's own (the PDF memory budget: workers.ErrBusy) carries Retry-After
// as the server's own limits do; a 503 for a part that is down does not.
func TestWorkerBusyAnswersRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		err   error
		retry string
	}{
		{"PDF memory budget", workers.Unavailable(errors.Join(workers.ErrBusy, context.DeadlineExceeded), "The server is parsing as many PDFs as its memory budget for them allows: retry later."), "1"},
		{"token offline", workers.Unavailable(errors.New("token t is offline"), "The worker's token is offline: activate it."), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := serveLimits(t, web.Limits{}, &failWorker{name: "F", err: tc.err})
			resp, err := http.Post("http://"+addr+"/signserver/worker/F", "application/octet-stream", strings.NewReader("d"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != tc.retry || !strings.Contains(string(b), tc.err.Error()) {
				t.Errorf("%d Retry-After %q %q, want 503 Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), b, tc.retry, tc.err)
			}
		})
	}
}

// failWorker answers every request with err.
type failWorker struct {
	name string
	err  error
}

func (w *failWorker) Name() string                          { return w.name }
func (w *failWorker) ID() int                               { return 8 }
func (w *failWorker) Kind() string                          { return "Fail" }
func (w *failWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (w *failWorker) Process(_ context.Context, r *workers.Request) (*workers.Response, error) {
	io.Copy(io.Discard, r.Data)
	return nil, w.err
}

// TestStalledBodiesHoldNoPlace: requests whose bodies stall hold no place
// in the server's in-flight cap or their worker's queue while they wait,
// so that a valid request is still served; once their bodies arrive they
// are served too, and every place is given back. Before, two stalled
// uploads filled a limit of two for BodyTimeout, and a valid request got
// 503 (seen in make soak: 130 stalled uploads against maxWorkerQueue 128).
func TestStalledBodiesHoldNoPlace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		lim  web.Limits
	}{
		{"server in-flight cap", web.Limits{MaxInFlight: 2, MaxWorkerQueue: 100}},
		{"worker queue bound", web.Limits{MaxInFlight: 100, MaxWorkerQueue: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.lim.BodyTimeout = time.Minute // the stall outlasts the test
			addr, g := watchLimits(t, tc.lim, &fakeWorker{name: "W"})
			const head = "POST /signserver/worker/W HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n"
			var stalled []net.Conn
			for range 2 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second)) // a failing server, not the test's timing
				if _, err := io.WriteString(c, head+"only "); err != nil {
					t.Fatal(err)
				}
				stalled = append(stalled, c)
			}
			g.wait(t, "signet_requests_awaiting_body", 2)

			resp, err := http.Post("http://"+addr+"/signserver/worker/W", "application/octet-stream", strings.NewReader("valid"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("a valid request beside two stalled ones: %d %q", resp.StatusCode, b)
			}

			for _, c := range stalled {
				if _, err := io.WriteString(c, "half."); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || string(b) != "signed:only half." {
					t.Errorf("a stalled request once its body came: %d %q", resp.StatusCode, b)
				}
			}
			g.wait(t, "signet_requests_awaiting_body", 0)
			g.wait(t, "signet_requests_in_flight", 0)
		})
	}
}

// gauges are a served server's gauges, as /metrics shows them, and the
// event of their change (web.Server.WatchPlaces).
type gauges struct {
	client  *http.Client
	base    string // http://host:port or https://host:port
	changed <-chan struct{}
}

// wait waits until the server's gauge name reads want on /metrics, reading
// it again on each change of the server's places: a request's handler
// gives its places back after its answer is sent, so the client has it
// before the gauges read 0.
func (g *gauges) wait(t *testing.T, name string, want int) {
	t.Helper()
	line := fmt.Sprintf("\n%s %d\n", name, want)
	timeout := time.After(20 * time.Second) // a failing server, not the test's timing
	for {
		resp, err := g.client.Get(g.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), line) {
			return
		}
		select {
		case <-g.changed:
			continue
		case <-timeout:
		}
		for l := range strings.Lines(string(b)) {
			if strings.HasPrefix(l, name+" ") {
				t.Fatalf("%s reads %s, want %d", name, strings.TrimSpace(strings.TrimPrefix(l, name)), want)
			}
		}
		t.Fatalf("%s is not in /metrics", name)
	}
}

// TestAdmittedRequestIsServedPastTheQueueBound: a request whose body
// arrives after its worker's queue filled in the meantime is served, not
// refused: it was admitted on arrival, and takes its place back unchecked,
// so a worker can serve more than MaxWorkerQueue at once (at most
// MaxConnections more), as Limits.MaxWorkerQueue says.
func TestAdmittedRequestIsServedPastTheQueueBound(t *testing.T) {
	t.Parallel()
	w := &gateWorker{name: "G", entered: make(chan struct{}), release: make(chan struct{})}
	addr, g := watchLimits(t, web.Limits{MaxWorkerQueue: 1, BodyTimeout: time.Minute}, w)
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.SetDeadline(time.Now().Add(20 * time.Second)) // a failing server, not the test's timing
	if _, err := io.WriteString(stalled, "POST /signserver/worker/G HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nonly "); err != nil {
		t.Fatal(err)
	}
	g.wait(t, "signet_requests_awaiting_body", 1)

	done := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/signserver/worker/G", "application/octet-stream", strings.NewReader("d"))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-w.entered // the queue of one is full

	if _, err := io.WriteString(stalled, "half."); err != nil {
		t.Fatal(err)
	}
	answer := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(stalled), nil)
		if err != nil {
			answer <- err.Error()
			return
		}
		resp.Body.Close()
		answer <- resp.Status
	}()
	select {
	case <-w.entered: // both in the worker at once
	case got := <-answer:
		t.Fatalf("the admitted request, its body come, with its worker's queue full: %s", got)
	}
	close(w.release)
	if got := <-answer; got != "200 OK" {
		t.Errorf("the admitted request: %s", got)
	}
	if got := <-done; got != 200 {
		t.Errorf("the request that filled the queue: %d", got)
	}
}

// TestStandAsideBounds: the requests standing aside have read at most 2 ×
// MaxRequestMemory of body between them; a stalled request past that keeps
// its place, so that clients cannot pin memory without bound by sending
// bodies and stalling (1,024 of 15 MiB each would have held 15 GiB). The
// request that stood aside and the one that kept its place are both
// served once their bodies come.
func TestStandAsideBounds(t *testing.T) {
	t.Parallel()
	lim := web.Limits{MaxInFlight: 1, MaxRequestMemory: 1024, BodyTimeout: time.Minute}
	addr, g := watchLimits(t, lim, &fakeWorker{name: "W"})
	stall := func(sent int) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second)) // a failing server, not the test's timing
		head := "POST /signserver/worker/W HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 3000\r\n\r\n"
		if _, err := io.WriteString(c, head+strings.Repeat("a", sent)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	small := stall(600) // 600 of the budget's 2048 bytes: stands aside
	g.wait(t, "signet_requests_awaiting_body", 1)
	g.wait(t, "signet_requests_in_flight", 0)
	large := stall(1500) // 600 + 1500 > 2048: keeps its place
	g.wait(t, "signet_requests_in_flight", 1)
	g.wait(t, "signet_requests_awaiting_body", 1)

	resp, err := http.Post("http://"+addr+"/signserver/worker/W", "application/octet-stream", strings.NewReader("valid"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "limit of 1 requests") {
		t.Errorf("a valid request beside a stalled one past the pool: %d %q, want 503", resp.StatusCode, b)
	}

	for _, s := range []struct {
		c    net.Conn
		sent int
	}{{small, 600}, {large, 1500}} {
		if _, err := io.WriteString(s.c, strings.Repeat("b", 3000-s.sent)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(s.c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the request that had sent %d bytes, once its body came: %d", s.sent, resp.StatusCode)
		}
	}
	g.wait(t, "signet_requests_awaiting_body", 0)
	g.wait(t, "signet_requests_in_flight", 0)
}
