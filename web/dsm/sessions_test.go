package dsm

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
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

// TestBearerEndsWhenAppChanges: a bearer token lives only as long as what
// its login proved holds. A rotated secret, the dsm role taken away or the
// app removed (a changed Stamp) refuses the tokens issued before, instead
// of letting them sign until they expire.
func TestBearerEndsWhenAppChanges(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	stamps := map[string]string{}
	stamp := func(user string) string { mu.Lock(); defer mu.Unlock(); return stamps[user] }
	setStamp := func(s string) { mu.Lock(); stamps["app"] = s; mu.Unlock() }
	h := New(Options{Authenticate: func(string, string) error { return nil }, Stamp: stamp})
	e := echo.New()
	h.Register(e)
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	for _, tt := range []struct {
		name  string
		after string // the stamp after the change; "" for a removed app
		code  int
	}{
		{"nothing changed", "v1", http.StatusOK},
		{"secret rotated, role or rules changed", "v2", http.StatusUnauthorized},
		{"app removed", "", http.StatusUnauthorized},
	} {
		setStamp("v1")
		req := httptest.NewRequest(http.MethodPost, "/sys/v1/session/auth", nil)
		req.SetBasicAuth("app", "secret")
		rec := serve(req)
		var body authResponse
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.AccessToken == "" {
			t.Fatalf("%s: login %d %s", tt.name, rec.Code, rec.Body)
		}
		setStamp(tt.after)
		req = httptest.NewRequest(http.MethodGet, "/crypto/v1/keys", nil)
		req.Header.Set("Authorization", "Bearer "+body.AccessToken)
		if got := serve(req); got.Code != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, got.Code, got.Body, tt.code)
		}
	}
}
