package dsm

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestSessionsBoundedAndExpiredInOrder: bearer sessions are bounded (a
// login at the bound ends the oldest), and expired ones are dropped from
// the front of the age list at the next login, without a scan of all
// sessions (issue 14: unbounded, and swept by a full scan per login).
func TestSessionsBoundedAndExpiredInOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := New(Options{TokenTTL: time.Minute, MaxSessions: 3, Now: func() time.Time { return now },
		Authenticate: func(string, string) error { return nil }})
	e := echo.New()
	login := func() {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/sys/v1/session/auth", nil)
		req.SetBasicAuth("app", "secret")
		rec := httptest.NewRecorder()
		if err := h.auth(e.NewContext(req, rec)); err != nil || rec.Code != 200 {
			t.Fatalf("login: %v %d", err, rec.Code)
		}
	}
	count := func() (int, int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.sessions), len(h.byAge)
	}
	for range 5 {
		login()
	}
	if s, a := count(); s != 3 || a != 3 {
		t.Errorf("after 5 logins with MaxSessions 3: %d sessions, %d age entries; want 3, 3", s, a)
	}
	now = now.Add(time.Minute)
	login()
	if s, a := count(); s != 1 || a != 1 {
		t.Errorf("after expiry and one login: %d sessions, %d age entries; want 1, 1", s, a)
	}
	// Terminated sessions leave age entries; they stay bounded too.
	for range 20 {
		login()
		h.mu.Lock()
		clear(h.sessions)
		h.mu.Unlock()
	}
	if _, a := count(); a > 2*3 {
		t.Errorf("%d age entries after logins and terminations; want at most %d", a, 2*3)
	}
}
