package dsm_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/web/dsm"
)

// TestSessionsBoundedAtTheEndpoint: through HTTP, logins past MaxSessions
// end the oldest sessions, whose bearer tokens are then refused, while the
// newest ones still work (issue 14: DSM sessions were unbounded).
func TestSessionsBoundedAtTheEndpoint(t *testing.T) {
	t.Parallel()
	const bound = 3
	h := dsm.New(dsm.Options{MaxSessions: bound,
		Keys:         dsm.KeySourceFunc(func(context.Context) []dsm.Key { return nil }),
		Authenticate: apiKeys("app:secret")})
	e := echo.New()
	h.Register(e)
	srv := httptest.NewServer(e)
	defer srv.Close()
	login := func() string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/sys/v1/session/auth", nil)
		req.SetBasicAuth("app", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 || a.AccessToken == "" {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		return a.AccessToken
	}
	use := func(bearer string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/crypto/v1/keys", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var bearers []string
	for range 2 * bound {
		bearers = append(bearers, login())
	}
	for i, b := range bearers {
		want := http.StatusOK
		if i < len(bearers)-bound {
			want = http.StatusUnauthorized // ended by a login at the bound
		}
		if got := use(b); got != want {
			t.Errorf("session %d of %d (bound %d): %d, want %d", i+1, len(bearers), bound, got, want)
		}
	}
}
