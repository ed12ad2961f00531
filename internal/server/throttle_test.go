package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestThrottleIsSharedByTheAdminSurfaces checks that the admin API and the
// admin UI's login count the failures of one user and address together:
// with a throttle each, the failures on one surface did not lock the other,
// so a guesser got the free failures of both, and the right password
// guessed on the UI while the API was locked out got in.
func TestThrottleIsSharedByTheAdminSurfaces(t *testing.T) {
	addr, password := demoServer(t, "")
	base := "http://" + addr
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	api := func(pass string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/workers", nil)
		req.SetBasicAuth("admin", pass)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ui := func(pass string) int {
		form := url.Values{"user": {"admin"}, "password": {pass}}
		req, _ := http.NewRequest(http.MethodPost, base+"/admin/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		name string
		try  func(string) int
		pass string
		want int
	}{
		{"API failure 1 (free)", api, "wrong", http.StatusUnauthorized},
		{"API failure 2 (free)", api, "wrong", http.StatusUnauthorized},
		{"API failure 3 (free)", api, "wrong", http.StatusUnauthorized},
		{"UI failure 4 (locks out)", ui, "wrong", http.StatusUnauthorized},
		{"UI right password while locked out", ui, password, http.StatusTooManyRequests},
		{"API right password while locked out", api, password, http.StatusTooManyRequests},
	}
	for _, s := range steps { // in order: each counts
		if got := s.try(s.pass); got != s.want {
			t.Errorf("%s: %d, want %d", s.name, got, s.want)
		}
	}
}
