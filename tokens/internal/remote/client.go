package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Client sends the API requests of one remote token: each with a timeout,
// retried where that is safe, an unreachable server recorded in Health.
type Client struct {
	// Server names the server in messages: "DSM", "NetHSM".
	Server string
	// Base is the API's URL, without trailing slash; request paths are
	// added to it.
	Base string
	// HTTP sends the requests; it should not follow redirects
	// (NoRedirects).
	HTTP *http.Client
	// Timeout bounds each attempt.
	Timeout time.Duration
	// MaxBody is the most bytes of an answer that are read.
	MaxBody int64
	// Health is set Offline when the server cannot be reached.
	Health *Health
}

// Request is one API request.
type Request struct {
	Method, Path string
	// Accept is the Accept header; Authorization the Authorization header,
	// none when empty.
	Accept, Authorization string
	// Body is sent as application/json when not nil.
	Body []byte
	// Idempotent requests (reads, authentication) are retried on network
	// errors and 502/503/504 answers. Others (a signature) are retried only
	// when no connection was made, so that nothing is done twice.
	Idempotent bool
}

// Attempts is how often Send tries a request at most.
const Attempts = 3

// Send sends req, retrying as req.Idempotent allows, and returns the status
// and body of the last answer. When no answer came it sets Health Offline
// (the server is unreachable) and returns an error wrapping
// tokens.ErrOffline, or the context's error once ctx is done.
func (c *Client) Send(ctx context.Context, req Request) (int, []byte, error) {
	var lastErr error
	reason := func() string { return fmt.Sprintf("is unreachable (%v)", Cause(lastErr)) }
	for i := range Attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			case <-time.After(time.Duration(i) * 100 * time.Millisecond):
			}
		}
		status, body, sent, err := c.once(ctx, req)
		if errors.Is(err, errTooLarge) {
			// The server answers, but not as its API does: sending again
			// would get the same.
			return 0, nil, c.Health.Offline(fmt.Sprintf("the %s at %s answered more than %d bytes, which no answer of its API is", c.Server, c.Base, c.MaxBody))
		}
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, ctx.Err() // the caller gave up: says nothing about the server
			}
			lastErr = err
			if errors.Is(err, context.DeadlineExceeded) {
				// The attempt's timeout: a server that took the request and
				// does not answer would make every attempt wait as long.
				reason = func() string { return fmt.Sprintf("did not answer within %v", c.Timeout) }
				break
			}
			if req.Idempotent || !sent {
				continue
			}
			break
		}
		switch status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if req.Idempotent && i < Attempts-1 {
				continue
			}
		}
		return status, body, nil
	}
	return 0, nil, c.Health.Offline(fmt.Sprintf("the %s at %s %s", c.Server, c.Base, reason()))
}

// once sends one request. sent reports whether a connection was obtained,
// that is whether any byte of the request may have left.
func (c *Client) once(ctx context.Context, r Request) (status int, body []byte, sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	var gotConn atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, r.Method, c.Base+r.Path, rd)
	if err != nil {
		return 0, nil, false, err
	}
	req.Header.Set("Accept", r.Accept)
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, gotConn.Load(), err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, c.MaxBody+1))
	if err != nil {
		return 0, nil, true, err
	}
	if int64(len(body)) > c.MaxBody {
		// Not an answer of the API: the connection is closed rather than
		// read to its end, which a server sending without end never gives.
		return 0, nil, true, errTooLarge
	}
	io.Copy(io.Discard, resp.Body) // keep the connection reusable
	return resp.StatusCode, body, true, nil
}

// errTooLarge is the error of an answer longer than MaxBody.
var errTooLarge = errors.New("answer too large")

// Error returns the HTTPError of an answer.
func (c *Client) Error(status int, body []byte) *HTTPError {
	return &HTTPError{Server: c.Server, Status: status, Message: ErrorMessage(body)}
}

// HTTPError is an error answer of the server.
type HTTPError struct {
	Server  string // "DSM", "NetHSM"
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s answered %d %s", e.Server, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s answered %d: %s", e.Server, e.Status, e.Message)
}

// IsStatus reports whether err wraps an HTTPError with that status.
func IsStatus(err error, status int) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.Status == status
}

// AuthError is an answer that refuses the token's credentials (401, 403):
// the token cannot work with them.
type AuthError struct{ HTTPError }

func (e *AuthError) Unwrap() error { return &e.HTTPError }

// ErrorMessage extracts the message of an error body (JSON {"error"} or
// {"message"}, or text), shortened.
func ErrorMessage(body []byte) string {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error
		if msg == "" {
			msg = e.Message
		}
	}
	if len(msg) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(msg[cut]) { // FuzzErrorMessage: not inside a character
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// Cause strips the URL wrapper of a client error: the URL is in the reason.
func Cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
