package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/web/auth"
)

// TestRefusalRows: the audit rows of the refusals of clients that proved
// nothing (a cross-site request, wrong credentials, a throttled user) are
// at most auth.MaxRefusalRows a second, and hold at most
// clienttext.MaxRow bytes of the path, the origin and the claimed user
// name. Each is a durable write an anonymous client asks for: cross-site
// and throttled refusals were written for every request, with the client's
// text whole (40 kB a row).
func TestRefusalRows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	audit := state.NewMemory()
	h := New(Options{
		Audit:        audit,
		Now:          func() time.Time { return now },
		Throttle:     auth.NewThrottle(),
		Authenticate: func(user, pass string) Decision { return Denied },
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	e := echo.New()
	h.Register(e)
	long := strings.Repeat("x", 20000)
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
	}{
		{"cross-site", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example/"+long) }},
		{"wrong password, then throttled", func(r *http.Request) { r.SetBasicAuth(long, "guess") }},
	} {
		now = now.Add(time.Second) // a second of its own for each case's rows
		t.Run(tc.name, func(t *testing.T) {
			before, _ := audit.Entries(context.Background(), 0, 0)
			for range 20 {
				r := httptest.NewRequest(http.MethodGet, BasePath+"/workers/"+long, nil)
				tc.set(r)
				w := httptest.NewRecorder()
				e.ServeHTTP(w, r)
				if w.Code < 400 || w.Code >= 500 {
					t.Fatalf("status %d", w.Code)
				}
			}
			after, _ := audit.Entries(context.Background(), 0, 0)
			rows := after[len(before):]
			if len(rows) == 0 || len(rows) > auth.MaxRefusalRows {
				t.Errorf("%d audit rows for 20 refusals in one second, want 1 to %d", len(rows), auth.MaxRefusalRows)
			}
			const most = clienttext.MaxRow + 64 // the method, "https://evil.example/", "…"
			for _, r := range rows {
				size := len(r.Actor) + len(r.Target)
				for _, v := range r.Details {
					size = max(size, len(v))
				}
				if len(r.Actor) > most || len(r.Target) > most || size > 2*most {
					t.Errorf("a row holds the client's text whole: actor %d, target %d bytes, details %v", len(r.Actor), len(r.Target), len(r.Details))
				}
			}
		})
	}
}
