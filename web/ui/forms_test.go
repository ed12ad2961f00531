package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/workers"
)

type workerSource struct{ s *workers.Set }

func (w workerSource) Current() *workers.Set { return w.s }

// TestGenerateKeySize: a key size the form's list does not hold (typed
// into a crafted form) is refused and no key is made; the size was read
// as 0, the default, and a key of the default size generated.
func TestGenerateKeySize(t *testing.T) {
	t.Parallel()
	tok, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: "demo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	u, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{Workers: workerSource{workers.NewSet(nil, map[string]tokens.Token{"demo": tok})}}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	serve := func(method, path string, cookies []*http.Cookie, form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	cookies := serve(http.MethodPost, "/admin/login", nil, url.Values{"user": {"admin"}, "password": {"x"}}).Result().Cookies()
	s, ok := u.opts.Sessions.Get(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/admin/tokens", nil)
		r.AddCookie(cookies[0])
		return r
	}())
	if !ok {
		t.Fatal("no session after login")
	}
	for _, tc := range []struct{ algorithm, size string }{
		{"RSA", "abc"},
		{"RSA", "99999999999999999999"},
		{"ECDSA", "256bits"},
	} {
		w := serve(http.MethodPost, "/admin/tokens/demo/keys", cookies, url.Values{"csrf": {s.CSRF}, "alias": {"k"}, "algorithm": {tc.algorithm}, "size": {tc.size}})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s %s: %d, want 303", tc.algorithm, tc.size, w.Code)
		}
		page := serve(http.MethodGet, "/admin/tokens", cookies, nil).Body.String()
		if !strings.Contains(page, "The key size must be") {
			t.Errorf("%s %s: the page does not refuse the size", tc.algorithm, tc.size)
		}
		keys, err := tok.Keys(context.Background())
		if err != nil || len(keys) != 0 {
			t.Fatalf("%s %s: the token holds %d keys (%v), want none", tc.algorithm, tc.size, len(keys), err)
		}
	}
}
