package web

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/tokens"
)

// HeaderRequestID carries the request ID in requests and responses.
const HeaderRequestID = "X-Request-ID"

// requestInfo is what the handlers tell the observe middleware about one
// request, for its log line and metrics.
type requestInfo struct {
	id     string
	worker string // the worker's configured name, never client input
	user   string // who the worker's AUTHTYPE let in: user name or client certificate
	items  int
	body   *limitedBody
	msg    string // the sentence sent with an error status
	cause  error  // an unexpected error, logged in full
	places places // in the server's limits, given back while the body is awaited
}

const infoKey = "signet.requestInfo"

func infoOf(c echo.Context) *requestInfo {
	info, _ := c.Get(infoKey).(*requestInfo)
	return info
}

// RequestID returns the ID of the request c serves, for handlers mounted
// through Echo.
func RequestID(c echo.Context) string {
	if info := infoOf(c); info != nil {
		return info.id
	}
	return ""
}

// requestID honours an incoming X-Request-ID that is short and made of
// characters safe in logs and headers, and otherwise makes a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(HeaderRequestID); id != "" && len(id) <= 64 {
		ok := true
		for _, c := range id {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	return newRequestID()
}

// newRequestID returns a random (version 4) UUID drawn from math/rand/v2,
// the runtime's ChaCha8 generator seeded from the system's entropy, not
// from crypto/rand as uuid.NewString does: a request ID must be unique, not
// secret (BenchmarkNewRequestID: about 270 ns against 390, under load).
func newRequestID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant RFC 9562
	return u.String()
}

// limitedBody is a request body under http.MaxBytesReader that counts the
// bytes read and remembers whether the limit was hit, so that the answer is
// 413 even when a layer below reported the read error in its own words.
//
// Before each read it moves the connection's read deadline to BodyTimeout
// from now, never past ReadTimeout from the start of the request: a body
// that stalls is cut off, and marked stalled for a 408.
type limitedBody struct {
	r       io.ReadCloser
	size    int64 // Content-Length, -1 when unknown
	n       int64
	tooBig  bool
	stalled bool
	broken  error   // another read error: the client sent a truncated body
	places  *places // stand aside while a read waits on the client

	rc       *http.ResponseController // nil: no deadlines (tests)
	idle     time.Duration
	deadline time.Time // the request's last moment to be read
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.rc != nil {
		d := time.Now().Add(b.idle)
		if d.After(b.deadline) {
			d = b.deadline
		}
		b.rc.SetReadDeadline(d) // an error: the conn has no deadlines to set
	}
	b.places.standAside(b.n)
	n, err := b.r.Read(p)
	b.places.back()
	b.n += int64(n)
	if err == io.EOF && b.rc != nil {
		// The body is read: no deadline may cut the connection's
		// background read while the handler works on, for net/http would
		// cancel the request's context. After another error the deadline
		// stays, so that net/http's discarding of the rest of the body
		// does not wait on the client either.
		b.rc.SetReadDeadline(time.Time{})
		b.rc = nil
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil, err == io.EOF:
	case errors.As(err, &mbe):
		b.tooBig = true
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.stalled = true
	default:
		b.broken = err
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// WriteTo copies the rest of the body to w with a buffer sized to the body:
// io.Copy would otherwise allocate 32 KiB for every request, however small
// (a client-side digest is 32 bytes), which was most of the allocation of a
// single-document request. Large bodies get 64 KiB, for fewer reads.
func (b *limitedBody) WriteTo(w io.Writer) (int64, error) {
	size := 64 << 10
	if b.size >= 0 && b.size < int64(size) {
		size = int(max(b.size, 511)) + 1 // +1: the read that sees EOF
	}
	buf := make([]byte, size)
	var written int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, werr
			}
			if m != n {
				return written, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
	}
}

// observe is the outermost middleware: it assigns the request ID, limits the
// body, renders errors, and then logs the request and counts it.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		r := c.Request()
		info := &requestInfo{id: requestID(r)}
		info.places.pool, info.places.changed = &s.aside, s.placesChanged
		c.Set(infoKey, info)
		c.Response().Header().Set(HeaderRequestID, info.id)
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")

		var err error
		if r.ContentLength > s.max {
			err = &http.MaxBytesError{Limit: s.max}
		} else {
			// The underlying writer, not echo's wrapper, so that net/http
			// closes the connection after a body over the limit.
			info.body = &limitedBody{
				r:        http.MaxBytesReader(c.Response().Writer, r.Body, s.max),
				size:     r.ContentLength,
				rc:       http.NewResponseController(c.Response().Writer),
				idle:     s.limits.BodyTimeout,
				deadline: start.Add(s.limits.ReadTimeout),
				places:   &info.places,
			}
			r.Body = info.body
			err = next(c)
			if rc := info.body.rc; rc != nil {
				// The handler left the body unread: net/http reads on
				// to discard it, and a stalled client must not hold it.
				rc.SetReadDeadline(time.Now().Add(s.limits.BodyTimeout))
			}
		}
		if err != nil {
			c.Error(err)
		}

		status := c.Response().Status
		endpoint := endpointNames[c.Path()]
		if endpoint == "" {
			endpoint = "other"
			if c.Path() != "" && status != http.StatusNotFound {
				endpoint = c.Path() // a mounted route: a template, bounded
			}
		}
		elapsed := time.Since(start)
		s.metrics.observe(info.worker, endpoint, status, info.items, elapsed)

		line := requestLine{
			id:         info.id,
			method:     r.Method,
			path:       r.URL.Path,
			client:     c.RealIP(),
			user:       cmp.Or(info.user, tokens.CallerFrom(c.Request().Context()).User), // "" when anonymous
			worker:     info.worker,
			items:      info.items,
			status:     status,
			durationMS: float64(elapsed.Microseconds()) / 1000,
			bytesOut:   c.Response().Size,
			err:        info.msg,
		}
		if info.body != nil {
			line.bytesIn = info.body.n
		}
		if info.cause != nil {
			line.cause = info.cause.Error()
		}
		logRequest(r.Context(), s.log, &line)
		return nil
	}
}

// panicError is a recovered panic: a 500 with a generic sentence for the
// client, the value and stack for the log.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

// recoverer turns a panic in a handler into a 500 with a generic sentence;
// the panic and its stack go to the log only.
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err = &panicError{value: v, stack: debug.Stack()}
			}
		}()
		return next(c)
	}
}
