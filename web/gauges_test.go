package web_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// partWorker reads n bytes of the body, then panics or answers, leaving
// the rest unread.
type partWorker struct {
	name   string
	n      int64
	panics bool
}

func (w *partWorker) Name() string                          { return w.name }
func (w *partWorker) ID() int                               { return 6 }
func (w *partWorker) Kind() string                          { return "Part" }
func (w *partWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (w *partWorker) Process(_ context.Context, r *workers.Request) (*workers.Response, error) {
	io.CopyN(io.Discard, r.Data, w.n)
	if w.panics {
		panic("boom mid-body")
	}
	return &workers.Response{Data: []byte("ok"), Items: 1}, nil
}

// gaugeServer serves the workers under lim with an upload limit of 64
// bytes, and a route mounted through Echo that reads its
// JSON body as the DSM and NetHSM APIs do (under admit, no worker queue).
// It returns the server's address and its gauges, asked over TLS with h2.
func gaugeServer(t *testing.T, h2 bool, lim web.Limits) (string, *gauges) {
	t.Helper()
	ws := []workers.Worker{
		&fakeWorker{name: "W"},
		&fakeWorker{name: "P", panics: true},
		&partWorker{name: "Half", n: 1},
		&partWorker{name: "HalfPanic", n: 1, panics: true},
		&failWorker{name: "F", err: workers.Illegal("The document is not what F signs: send another.")},
	}
	srv := web.New(web.Options{Registry: workers.NewRegistry(workers.NewSet(ws, nil)), Logger: slog.New(slog.DiscardHandler), MaxUploadSize: 64, Limits: lim})
	g := &gauges{client: http.DefaultClient, changed: srv.WatchPlaces()}
	srv.Echo().POST("/api/v1/vendor", func(c echo.Context) error {
		b, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, 32))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "The body could not be read: send it whole.")
		}
		return c.Blob(http.StatusOK, "application/json", b)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var cfg *tls.Config
	g.base = "http://" + l.Addr().String()
	if h2 {
		// httptest's certificate and a client that trusts it.
		ts := httptest.NewUnstartedServer(nil)
		ts.EnableHTTP2 = true
		ts.StartTLS()
		cfg = ts.TLS.Clone()
		g.client, g.base = ts.Client(), "https://"+l.Addr().String()
		ts.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ctx, l, cfg) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), g
}

// exchange sends req on a connection of its own, closes its writing half
// when half, and returns the status of the server's answer.
func exchange(t *testing.T, addr, req string, half bool) int {
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
	if half {
		c.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGaugesReadZeroAfterEveryRequest: whatever way a request ends (served,
// refused, over the upload limit, stalled, truncated, its body left unread,
// a panic before or in the middle of its body), it gives back every place
// it held: signet_requests_in_flight and signet_requests_awaiting_body read
// 0 once it is answered, and its worker's queue has its place again. A
// count that leaked would refuse valid requests with 503 for good.
func TestGaugesReadZeroAfterEveryRequest(t *testing.T) {
	t.Parallel()
	addr, g := gaugeServer(t, false, web.Limits{MaxInFlight: 1, MaxWorkerQueue: 1, BodyTimeout: 200 * time.Millisecond})
	post := func(path, ctype, headers, body string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\n%s\r\n%s", path, ctype, headers, body)
	}
	sized := func(body string) string { return fmt.Sprintf("Content-Length: %d\r\n", len(body)) }
	const chunked = "Transfer-Encoding: chunked\r\n"
	form := "workerName=W&data=doc"
	rest := `{"data":"ZG9j"}`
	for _, tc := range []struct {
		name string
		req  string
		half bool // the client closes its writing half: a truncated body
		want int
	}{
		{"worker servlet", post("/signserver/worker/W", "application/octet-stream", sized("doc"), "doc"), false, 200},
		{"process servlet form", post("/signserver/process", "application/x-www-form-urlencoded", sized(form), form), false, 200},
		{"REST", post("/signserver/rest/v1/workers/W/process", "application/json", sized(rest), rest), false, 200},
		{"mounted route reading JSON", post("/api/v1/vendor", "application/json", sized(rest), rest), false, 200},
		{"mounted route, body over its own limit", post("/api/v1/vendor", "application/json", sized(strings.Repeat("a", 40)), strings.Repeat("a", 40)), false, 400},
		{"worker refuses", post("/signserver/worker/F", "application/octet-stream", sized("doc"), "doc"), false, 400},
		{"unknown worker, body unread", post("/signserver/worker/Nope", "application/octet-stream", sized("doc"), "doc"), false, 404},
		{"body left unread", post("/signserver/worker/Half", "application/octet-stream", sized("0123456789"), "0123456789"), false, 200},
		{"panic before the body", post("/signserver/worker/P", "application/octet-stream", sized("doc"), "doc"), false, 500},
		{"panic in the middle of the body", post("/signserver/worker/HalfPanic", "application/octet-stream", sized("0123456789"), "0123456789"), false, 500},
		{"Content-Length over the upload limit", post("/signserver/worker/W", "application/octet-stream", "Content-Length: 100\r\n", ""), false, 413},
		{"chunked body over the upload limit", post("/signserver/worker/W", "application/octet-stream", chunked, "64\r\n"+strings.Repeat("a", 100)+"\r\n0\r\n\r\n"), false, 413},
		{"stalled body", post("/signserver/worker/W", "application/octet-stream", "Content-Length: 10\r\n", "only "), false, 408},
		{"stalled body, REST", post("/signserver/rest/v1/workers/W/process", "application/json", "Content-Length: 20\r\n", `{"data":`), false, 408},
		{"truncated body", post("/signserver/worker/W", "application/octet-stream", "Content-Length: 10\r\n", "only "), true, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: a place the first left held, of the one there is in
			// the server and in the worker's queue, would refuse the
			// second with 503.
			for i := range 2 {
				if got := exchange(t, addr, tc.req, tc.half); got != tc.want {
					t.Errorf("request %d: status %d, want %d", i+1, got, tc.want)
				}
				g.wait(t, "signet_requests_in_flight", 0)
				g.wait(t, "signet_requests_awaiting_body", 0)
			}
		})
	}
}

// TestHTTP2StreamsStandAsideUpToMaxConnections: over HTTP/2 (web/tlsconf
// serves h2), many streams of one connection can wait on their bodies at
// once; at most MaxConnections of them stand aside and the others keep
// their places, a stream the client resets mid-body gives its places back,
// and once every stream has ended both gauges read 0.
func TestHTTP2StreamsStandAsideUpToMaxConnections(t *testing.T) {
	t.Parallel()
	_, g := gaugeServer(t, true, web.Limits{MaxConnections: 2, MaxInFlight: 3, BodyTimeout: time.Minute})
	client, base := g.client, g.base
	type stream struct {
		w      *io.PipeWriter
		cancel context.CancelFunc
		done   chan string
	}
	var streams []stream
	for range 4 {
		r, w := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/signserver/worker/W", r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		s := stream{w: w, cancel: cancel, done: make(chan string, 1)}
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				s.done <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			s.done <- fmt.Sprintf("%s %d %s", resp.Proto, resp.StatusCode, b)
		}()
		if _, err := io.WriteString(w, "part "); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	defer func() {
		for _, s := range streams {
			s.cancel()
		}
	}()
	g.wait(t, "signet_requests_awaiting_body", 2)
	g.wait(t, "signet_requests_in_flight", 2)

	// One place of MaxInFlight is left for a valid request.
	resp, err := client.Post(base+"/signserver/worker/W", "application/octet-stream", strings.NewReader("valid"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("a valid request beside four waiting streams: %s %d %q", resp.Proto, resp.StatusCode, b)
	}

	streams[0].cancel() // reset mid-body
	if got := <-streams[0].done; strings.Contains(got, " 200 ") {
		t.Errorf("a stream reset mid-body was answered %s", got)
	}
	for _, s := range streams[1:] {
		io.WriteString(s.w, "whole")
		s.w.Close()
		if got := <-s.done; got != "HTTP/2.0 200 signed:part whole" {
			t.Errorf("a stream once its body came: %s", got)
		}
	}
	g.wait(t, "signet_requests_awaiting_body", 0)
	g.wait(t, "signet_requests_in_flight", 0)
}
