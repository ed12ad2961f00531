package ui

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/web/admin"
)

// TestLoginRefusals checks the login form without a browser: wrong
// password, a user without the admin role, a cross-site post, throttling.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	audit := state.NewMemory()
	u, err := New(Options{
		Admin: admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision {
			switch {
			case user == "admin" && pass == "right":
				return admin.Allowed
			case user == "operator" && pass == "right":
				return admin.Forbidden
			}
			return admin.Denied
		},
		Audit:  audit,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	u.Register(e)
	post := func(user, pass, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"user": {user}, "password": {pass}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	tests := []struct {
		name, user, pass, origin string
		code                     int
		cookie                   bool
	}{
		{"right", "admin", "right", "http://example.com", http.StatusSeeOther, true},
		{"cross-site", "admin", "right", "https://evil.example", http.StatusForbidden, false},
		{"not admin", "operator", "right", "", http.StatusForbidden, false},
		{"wrong", "admin", "wrong", "", http.StatusUnauthorized, false},
		{"unknown user", "nobody", "x", "", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		w := post(tt.user, tt.pass, tt.origin)
		if w.Code != tt.code || (len(w.Result().Cookies()) > 0) != tt.cookie {
			t.Errorf("%s: %d, cookies %v; want %d, cookie %v", tt.name, w.Code, w.Result().Cookies(), tt.code, tt.cookie)
		}
	}
	// After three more failures the pair is locked out: even the right
	// password gets 429 with Retry-After.
	for range 3 {
		post("admin", "wrong", "")
	}
	if w := post("admin", "right", ""); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after repeated failures: %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	es, _ := audit.Entries(t.Context(), 0, 0)
	if len(es) < len(tests) {
		t.Errorf("%d audit records for %d login attempts", len(es), len(tests))
	}
}
