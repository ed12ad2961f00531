package remote

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/tokens"
)

// TestAnswerTooLarge: an answer longer than MaxBody (a server that answers
// garbage without end) fails at once, with a sentence that says so and
// ErrOffline, and is not sent again. It was cut at MaxBody and the rest
// read until the attempt's timeout, then handed on as if whole.
func TestAnswerTooLarge(t *testing.T) {
	const maxBody = 1 << 10
	tests := []struct {
		name       string
		idempotent bool
	}{{"sign", false}, {"read", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := activeClient(t, time.Minute, maxBody, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(strings.Repeat("x", 2*maxBody)))
				w.(http.Flusher).Flush()
				<-r.Context().Done() // and more, until the client leaves
			})
			done := make(chan error, 1)
			go func() {
				_, _, err := c.Send(t.Context(), Request{Method: http.MethodPost, Path: "/sign", Idempotent: tt.idempotent})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, tokens.ErrOffline) || !strings.Contains(err.Error(), "more than 1024 bytes") {
					t.Errorf("Send = %v, want ErrOffline saying the answer is too large", err)
				}
			case <-time.After(20 * time.Second): // well before the attempt's timeout of a minute
				t.Fatal("Send read the endless answer until its timeout")
			}
			if hits.Load() != 1 {
				t.Errorf("the request was sent %d times, want once", hits.Load())
			}
		})
	}
}

// TestHungServerNotRetried: a server that takes a request and never
// answers costs one timeout, not one per attempt: a read (the probe a
// worker request runs when one is due) waited three timeouts and the
// pauses between them, 90 s with the default timeout, before the token
// said the server was unreachable. The error says the server did not
// answer in time.
func TestHungServerNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		idempotent bool
	}{{"sign", false}, {"read", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := activeClient(t, 100*time.Millisecond, 1<<10, func(_ http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			})
			_, _, err := c.Send(t.Context(), Request{Method: http.MethodGet, Path: "/health", Idempotent: tt.idempotent})
			if !errors.Is(err, tokens.ErrOffline) || !strings.Contains(err.Error(), "did not answer within 100ms") {
				t.Errorf("Send = %v, want ErrOffline saying the server did not answer in time", err)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("the request was sent %d times to a server that does not answer, want once", n)
			}
		})
	}
}

// activeClient is an Active token's Client of a test server that answers
// with handle, and the number of requests the server took.
func activeClient(t *testing.T, timeout time.Duration, maxBody int64, handle http.HandlerFunc) (*Client, *atomic.Int64) {
	t.Helper()
	hits := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	c := &Client{Server: "HSM", Base: srv.URL, HTTP: srv.Client(), Timeout: timeout, MaxBody: maxBody,
		Health: &Health{Prefix: "test token"}}
	c.Health.Reset(true, tokens.Status{State: tokens.Active})
	return c, hits
}
