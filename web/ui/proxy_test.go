package ui

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/web/admin"
)

// TestFormsBehindProxy: behind a reverse proxy that terminates TLS, the
// browser's Origin is https while Signet is served plain http. A proxy
// of server trustedProxies saying so (X-Forwarded-Proto or Forwarded) makes
// the login form and the forms after it same-origin and the session cookie
// Secure; every form was refused as cross-site, and the cookie was sent
// without Secure. A peer that is not a trusted proxy is not believed.
func TestFormsBehindProxy(t *testing.T) {
	t.Parallel()
	_, proxy, _ := net.ParseCIDR("192.0.2.1/32") // httptest.NewRequest's RemoteAddr
	_, other, _ := net.ParseCIDR("198.51.100.0/24")
	tests := []struct {
		name    string
		trusted *net.IPNet
		header  http.Header
		origin  string
		code    int // of the login form and of the logout form after it
		secure  bool
	}{
		{"trusted proxy, X-Forwarded-Proto", proxy, http.Header{"X-Forwarded-Proto": {"https"}}, "https://example.com", http.StatusSeeOther, true},
		{"trusted proxy, Forwarded", proxy, http.Header{"Forwarded": {"for=203.0.113.9;proto=https"}}, "https://example.com", http.StatusSeeOther, true},
		{"trusted proxy, plain http", proxy, http.Header{"X-Forwarded-Proto": {"http"}}, "http://example.com", http.StatusSeeOther, false},
		{"trusted proxy, https page posting to http", proxy, http.Header{"X-Forwarded-Proto": {"http"}}, "https://example.com", http.StatusForbidden, false},
		{"untrusted peer claiming https", other, http.Header{"X-Forwarded-Proto": {"https"}}, "https://example.com", http.StatusForbidden, false},
		{"untrusted peer over http", other, http.Header{"X-Forwarded-Proto": {"https"}}, "http://example.com", http.StatusSeeOther, false},
	}
	for _, tt := range tests {
		srv := web.New(web.Options{TrustedProxies: []*net.IPNet{tt.trusted}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		u, err := New(Options{Admin: admin.New(admin.Options{}), Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		u.Register(srv.Echo())
		post := func(path string, form url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", tt.origin)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			for k, v := range tt.header {
				r.Header[k] = v
			}
			for _, c := range cookies {
				r.AddCookie(c)
			}
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, r)
			return w
		}
		w := post("/admin/login", url.Values{"user": {"admin"}, "password": {"x"}}, nil)
		cookies := w.Result().Cookies()
		if w.Code != tt.code {
			t.Errorf("%s: login form answered %d, want %d", tt.name, w.Code, tt.code)
			continue
		}
		// A page of this host under the other scheme is what a proxy
		// Signet does not know looks like: the refusal names the fix.
		if w.Code == http.StatusForbidden && !strings.Contains(w.Body.String(), "trustedProxies") {
			t.Errorf("%s: the 403 page does not name server trustedProxies", tt.name)
		}
		if w.Code != http.StatusSeeOther {
			continue
		}
		if len(cookies) != 1 || cookies[0].Secure != tt.secure {
			t.Errorf("%s: session cookie %v, want Secure %v", tt.name, cookies, tt.secure)
			continue
		}
		r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
		r.AddCookie(cookies[0])
		s, ok := u.opts.Sessions.Get(r)
		if !ok {
			t.Fatalf("%s: no session after login", tt.name)
		}
		w = post("/admin/logout", url.Values{"csrf": {s.CSRF}}, cookies)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login" {
			t.Errorf("%s: logout form answered %d %q, want 303 to the login page", tt.name, w.Code, w.Header().Get("Location"))
		}
		if c := w.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 || c[0].Secure != tt.secure {
			t.Errorf("%s: logout cookie %v, want it cleared with Secure %v", tt.name, c, tt.secure)
		}
	}
}

// TestHSTS: every UI answer to an https request (over TLS to Signet, or
// said so by a trusted proxy that terminates it) carries
// Strict-Transport-Security, so that an attacker on the network cannot
// later serve the login page over plain http to a browser that has seen
// it; a plain http answer does not (a browser ignores it there), nor one
// to a peer that only claims https. It had none.
func TestHSTS(t *testing.T) {
	t.Parallel()
	_, proxy, _ := net.ParseCIDR("192.0.2.1/32") // httptest.NewRequest's RemoteAddr
	srv := web.New(web.Options{TrustedProxies: []*net.IPNet{proxy}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	u, err := New(Options{Admin: admin.New(admin.Options{}), Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	u.Register(srv.Echo())
	tests := []struct {
		name, method, path string
		tls                bool
		remote             string // "": httptest's, a trusted proxy
		header             http.Header
		hsts               bool
	}{
		{"login page over TLS", http.MethodGet, "/admin/login", true, "", nil, true},
		{"redirect to login over TLS", http.MethodGet, "/admin/tokens", true, "", nil, true},
		{"style sheet over TLS", http.MethodGet, "/admin/static/signet.css", true, "", nil, true},
		{"refused login over TLS", http.MethodPost, "/admin/login", true, "", nil, true},
		{"login page behind a trusted proxy of https", http.MethodGet, "/admin/login", false, "", http.Header{"X-Forwarded-Proto": {"https"}}, true},
		{"login page over http", http.MethodGet, "/admin/login", false, "", nil, false},
		{"login page to an untrusted peer claiming https", http.MethodGet, "/admin/login", false, "198.51.100.7:4000", http.Header{"X-Forwarded-Proto": {"https"}}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.tls {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true}
		}
		if tt.remote != "" {
			r.RemoteAddr = tt.remote
		}
		for k, v := range tt.header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		got := w.Header().Get("Strict-Transport-Security")
		if tt.hsts && got != strictTransportSecurity || !tt.hsts && got != "" {
			t.Errorf("%s (%d): Strict-Transport-Security %q, want it %v", tt.name, w.Code, got, tt.hsts)
		}
	}
}
