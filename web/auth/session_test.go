package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	ss := NewSessions("s", "/admin/", time.Minute, 0)
	ss.now = func() time.Time { return now }

	rec := httptest.NewRecorder()
	s := ss.Start(rec, httptest.NewRequest("POST", "/admin/login", nil), false, "admin", "")
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.Path != "/admin/" {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over http, path /admin/", cookie)
	}
	rec2 := httptest.NewRecorder()
	ss.Start(rec2, httptest.NewRequest("POST", "/admin/login", nil), true, "admin", "")
	if c := rec2.Result().Cookies(); !c[len(c)-1].Secure {
		t.Error("the cookie over https is not Secure")
	}

	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/admin/dashboard", nil)
		r.AddCookie(cookie)
		return r
	}
	if got, ok := ss.Get(req()); !ok || got != s {
		t.Fatal("the session is not found by its cookie")
	}
	tests := []struct {
		name string
		form url.Values
		want bool
	}{
		{"right token", url.Values{CSRFField: {s.CSRF}}, true},
		{"no token", url.Values{}, false},
		{"wrong token", url.Values{CSRFField: {s.CSRF + "x"}}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/admin/x", strings.NewReader(tt.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := s.ValidCSRF(r); got != tt.want {
			t.Errorf("%s: ValidCSRF = %v, want %v", tt.name, got, tt.want)
		}
	}

	now = now.Add(59 * time.Second)
	if _, ok := ss.Get(req()); !ok {
		t.Fatal("the session ended before its idle timeout")
	}
	now = now.Add(61 * time.Second)
	if _, ok := ss.Get(req()); ok {
		t.Fatal("the session outlived its idle timeout")
	}

	s = ss.Start(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), false, "admin", "")
	_ = s
	rec = httptest.NewRecorder()
	ss.End(rec, req(), false)
	if _, ok := ss.Get(req()); ok {
		t.Fatal("a session is found after End")
	}
}

// TestSessionLifetime: a session ends MaxLifetime after its login however
// busy it is, as well as after its idle timeout. A session used more
// often than its idle timeout lived for ever: a cookie taken once (a
// shared browser, a stolen copy) stayed good as long as it was used.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		idle, lifetime time.Duration
		every          time.Duration // a request this often after login
		lasts          time.Duration // the session's last good request
	}{
		{"busy: the lifetime ends it", time.Minute, time.Hour, 30 * time.Second, time.Hour - 30*time.Second},
		{"idle before the lifetime", time.Minute, time.Hour, 2 * time.Minute, 0},
		{"defaults", 0, 0, 10 * time.Minute, DefaultMaxLifetime - 10*time.Minute},
	}
	for _, tt := range tests {
		start := time.Unix(1e9, 0)
		now := start
		ss := NewSessions("s", "/admin/", tt.idle, tt.lifetime)
		ss.now = func() time.Time { return now }
		rec := httptest.NewRecorder()
		ss.Start(rec, httptest.NewRequest("POST", "/admin/login", nil), false, "admin", "")
		r := httptest.NewRequest("GET", "/admin/dashboard", nil)
		r.AddCookie(rec.Result().Cookies()[0])
		var last time.Duration
		for i := 1; i < 1000; i++ {
			now = start.Add(time.Duration(i) * tt.every)
			if _, ok := ss.Get(r); !ok {
				break
			}
			last = now.Sub(start)
		}
		if last != tt.lasts {
			t.Errorf("%s: the last good request came %s after login, want %s", tt.name, last, tt.lasts)
		}
	}
}
