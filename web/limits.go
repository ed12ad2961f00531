package web

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/workers"
)

// Limits bound the time and memory one client can take from the server.
// Every zero field takes its default (DefaultLimits); config's server
// section sets them.
type Limits struct {
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is the longest a request body may go without sending a
	// byte: a stalled upload is answered 408 and its connection closed.
	BodyTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, body included,
	// against a client that sends a byte now and then.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers to the end
	// of the response.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection without a request.
	IdleTimeout time.Duration
	// MaxConnections caps open connections; further ones wait in the
	// listen queue.
	MaxConnections int
	// MaxInFlight caps the requests admitted at once; one more is
	// answered 503 with Retry-After. Health and metrics are not counted,
	// nor a request while it waits on its body within the aside pool
	// (places, asidePool): it takes its place back unchecked once the
	// body comes, so up to MaxConnections more may be served at once.
	MaxInFlight int
	// MaxWorkerQueue caps the requests one worker takes at once; one more
	// is answered 503 with Retry-After. As for MaxInFlight, a request
	// waiting on its body is not counted, and one whose body comes is
	// served past the cap (TestAdmittedRequestIsServedPastTheQueueBound).
	MaxWorkerQueue int
	// MaxRequestMemory bounds what one request may hold in memory: a REST
	// body, a document embedded in its signature, the items of a batch.
	// Larger requests get 413 and a sentence that names the streaming way.
	MaxRequestMemory int64
	// RetryAfter is the Retry-After of a 503 for a full server or worker.
	RetryAfter time.Duration
}

// DefaultLimits are the limits of a server whose configuration says
// nothing: sized for the README's memory bound of 256 MiB.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	BodyTimeout:       30 * time.Second,
	ReadTimeout:       10 * time.Minute,
	WriteTimeout:      10 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxConnections:    1024,
	MaxInFlight:       256,
	MaxWorkerQueue:    128,
	MaxRequestMemory:  16 << 20,
	RetryAfter:        time.Second,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.BodyTimeout, d.BodyTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.RetryAfter, d.RetryAfter)
	if l.MaxConnections <= 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = d.MaxInFlight
	}
	if l.MaxWorkerQueue <= 0 {
		l.MaxWorkerQueue = d.MaxWorkerQueue
	}
	if l.MaxRequestMemory <= 0 {
		l.MaxRequestMemory = d.MaxRequestMemory
	}
	return l
}

// busy is a 503 for a server or worker at its limit, with Retry-After.
func (s *Server) busy(format string, args ...any) error {
	return &httpError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf(format, args...), retryAfter: s.retryAfterSeconds()}
}

// retryAfterSeconds is the Retry-After of a 503 for a server at a limit:
// its own (busy) or a worker's (workers.ErrBusy).
func (s *Server) retryAfterSeconds() int {
	return max(1, int(s.limits.RetryAfter.Round(time.Second)/time.Second))
}

// admit is the middleware that caps requests in flight. Health and metrics
// stay answerable when the server is full: they are how an operator sees it.
func (s *Server) admit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Path() {
		case pathHealth, pathMetrics:
			// Not counted, but holding their Set as any request does:
			// the health check reads its workers' tokens.
			return s.holdSet(c, next)
		}
		if n := s.inFlight.Add(1); n > int64(s.limits.MaxInFlight) {
			s.inFlight.Add(-1)
			return s.busy("The server is serving its limit of %d requests at once: retry after %s.", s.limits.MaxInFlight, s.limits.RetryAfter)
		}
		p := s.placesOf(c)
		p.hold(placeInFlight, &s.inFlight)
		defer p.leave(placeInFlight)
		return s.holdSet(c, next)
	}
}

// holdSet serves c holding the worker set in force, so that a reload
// closes the tokens it drops only once this request is done. Its context
// carries it (workers.WithSet), so that what the request calls below web
// (the health check's status checks, a vendor API's keys, the admin API's
// tokens) uses the Set it holds, not one swapped in since
// (TestRequestHoldsItsSet, TestHealthHoldsItsSet).
func (s *Server) holdSet(c echo.Context, next echo.HandlerFunc) error {
	set, release := s.reg.Acquire()
	defer release()
	r := c.Request()
	c.SetRequest(r.WithContext(workers.WithSet(r.Context(), set)))
	return next(c)
}

// setOf returns the worker set the request acquired, or the one in force.
func (s *Server) setOf(c echo.Context) *workers.Set {
	return s.reg.In(c.Request().Context())
}

// workerQueues counts the requests each worker serves or waits on.
type workerQueues struct {
	m sync.Map // worker name → *atomic.Int64
}

// enter takes a place in the worker's queue and returns its count, or
// reports false when it is full. The caller holds the place (places.hold)
// and leaves it by the count.
func (q *workerQueues) enter(name string, limit int) (*atomic.Int64, bool) {
	v, _ := q.m.Load(name)
	if v == nil {
		v, _ = q.m.LoadOrStore(name, new(atomic.Int64))
	}
	n := v.(*atomic.Int64)
	if n.Add(1) > int64(limit) {
		n.Add(-1)
		return nil, false
	}
	return n, true
}

// The places a request can hold, by index in places.held.
const (
	placeInFlight = iota // one of MaxInFlight
	placeQueue           // one of its worker's MaxWorkerQueue
	placeKinds
)

// places are the places a request holds in the server's limits. While the
// request waits on its client's body it stands aside: it gives its places
// back, and takes them again, unchecked, once the read returns. A request
// is admitted once, on arrival, and the limits count the requests the
// server works on or holds for a worker; a client that sends its body
// slowly, or stalls it until BodyTimeout, keeps no other client's request
// out. Before, 130 stalled uploads filled a worker's queue, and 256 the
// server's, each for BodyTimeout (TestStalledBodiesHoldNoPlace).
//
// The requests standing aside are bounded by an asidePool: in number, and
// in the body they have read, which they may hold in memory.
//
// A mutex, not atomics alone, because a worker may read the body in a
// goroutine of its own while the handler leaves its places.
type places struct {
	mu      sync.Mutex
	held    [placeKinds]*atomic.Int64 // nil: not held
	pool    *asidePool                // nil: never stands aside
	changed func()                    // Server.placesChanged
	out     bool                      // standing aside now
	charged int64                     // the body bytes charged to the pool while out
}

// asidePool is the server's count of the requests standing aside and of
// the body they have read between them.
//
// At most MaxConnections requests stand aside, the most HTTP/1.1 can have
// reading a body: HTTP/2 streams, many to a connection, cannot take the
// requests in memory past MaxInFlight + MaxConnections. And they have read
// at most 2 × MaxRequestMemory (32 MiB by default) between them: a request
// may hold what it has read (a REST body, a batch's items), and without
// this bound 1,024 clients that each send 15 MiB and stall would hold 15
// GiB without a place, where the in-flight cap kept them to 256
// (TestStandAsideBounds). A request the pool has no room for keeps its
// places while it reads, as every request did before: stalling the server
// again costs a client the pool's bytes, sent, and then its limits.
type asidePool struct {
	n, bytes     atomic.Int64
	most, budget int64
}

// hold records a place the request has taken (its count already
// incremented).
func (p *places) hold(kind int, n *atomic.Int64) {
	p.mu.Lock()
	p.held[kind] = n
	if p.out {
		n.Add(-1) // taken while aside: given back with the others
	}
	p.mu.Unlock()
	p.notify()
}

// notify tells Server.placesChanged, if set, that the counts changed.
func (p *places) notify() {
	if p.changed != nil {
		p.changed()
	}
}

// leave gives a place back for good.
func (p *places) leave(kind int) {
	p.mu.Lock()
	if n := p.held[kind]; n != nil && !p.out {
		n.Add(-1)
	}
	p.held[kind] = nil
	p.mu.Unlock()
	p.notify()
}

// standAside gives the places back for a read of the body, of which read
// bytes have come so far, unless the request holds none or the pool has
// no room for it.
func (p *places) standAside(read int64) {
	if p.pool == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out || (p.held[placeInFlight] == nil && p.held[placeQueue] == nil) {
		return
	}
	if p.pool.n.Add(1) > p.pool.most {
		p.pool.n.Add(-1)
		return
	}
	if p.pool.bytes.Add(read) > p.pool.budget {
		p.pool.bytes.Add(-read)
		p.pool.n.Add(-1)
		return
	}
	for _, n := range p.held {
		if n != nil {
			n.Add(-1)
		}
	}
	p.out, p.charged = true, read
	p.notify()
}

// back takes the places given back by standAside again.
func (p *places) back() {
	p.mu.Lock()
	was := p.out
	if p.out {
		for _, n := range p.held {
			if n != nil {
				n.Add(1)
			}
		}
		p.pool.bytes.Add(-p.charged)
		p.pool.n.Add(-1)
		p.out, p.charged = false, 0
	}
	p.mu.Unlock()
	if was {
		p.notify()
	}
}

// placesOf returns the places of the request c serves; outside observe,
// places of its own, which never stand aside.
func (s *Server) placesOf(c echo.Context) *places {
	if info := infoOf(c); info != nil {
		return &info.places
	}
	return &places{changed: s.placesChanged}
}

// limitListener caps the connections open at once: Accept waits for a
// closed connection when the cap is reached, so that the kernel's listen
// queue, not the server's memory, holds the excess.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

// limitConn gives its place back once closed, and rewrites net/http's own
// bare error answers (sent before any handler runs) into a sentence.
type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// Write replaces the body of net/http's own error answers. net/http writes
// them in one Write, "HTTP/1.1 <code> <text>\r\n<headers>\r\n\r\n<text>",
// without the Date header and request ID that every answer of a handler
// has.
func (c *limitConn) Write(p []byte) (int, error) {
	if out, ok := rewriteBareError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// bareErrors are the sentences for net/http's own answers, by status.
var bareErrors = map[string]string{
	"400": "The request is malformed HTTP (%s): send a valid HTTP/1.1 request with a non-negative Content-Length.",
	"431": "The request headers exceed the server's limit: send shorter headers (cookies, metadata belong in the body).",
	"501": "The request uses a transfer encoding the server does not support (%s): send the body with Content-Length or chunked.",
	"505": "The HTTP version is not supported (%s): use HTTP/1.1.",
}

// rewriteBareError returns p with its body replaced by a sentence when p is
// one of net/http's bare error answers.
func rewriteBareError(p []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(p) < len(proto)+3 || string(p[:len(proto)]) != proto {
		return nil, false
	}
	code := string(p[len(proto) : len(proto)+3])
	format, ok := bareErrors[code]
	if !ok {
		return nil, false
	}
	end := bytes.Index(p, []byte("\r\n\r\n"))
	if end < 0 || bytes.Contains(p[:end], []byte("\r\nDate: ")) || bytes.Contains(p[:end], []byte("\r\n"+http.CanonicalHeaderKey(HeaderRequestID)+": ")) {
		return nil, false
	}
	detail := string(p[end+4:])
	if i := len(code) + 1; len(detail) > i && detail[:len(code)] == code {
		detail = detail[i:] // "400 Bad Request: why" → "Bad Request: why"
	}
	msg := format
	if strings.Contains(format, "%s") {
		msg = fmt.Sprintf(format, detail)
	}
	msg += "\n"
	out := make([]byte, 0, end+len(msg)+64)
	out = append(out, p[:len(proto)+3]...)
	out = append(out, ' ')
	out = append(out, http.StatusText(atoi(code))...)
	out = append(out, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(msg)), 10)
	out = append(out, "\r\nConnection: close\r\n\r\n"...)
	return append(out, msg...), true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
