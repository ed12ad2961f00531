package web

import (
	"crypto/tls"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	t.Parallel()
	_, proxy, _ := net.ParseCIDR("10.0.0.0/8")
	tests := []struct {
		name    string
		trusted []*net.IPNet
		peer    string
		xff     string
		want    string
	}{
		{"no proxy configured: header ignored", nil, "192.0.2.7:5000", "203.0.113.9", "192.0.2.7"},
		{"loopback peer is not trusted by default", nil, "127.0.0.1:5000", "203.0.113.9", "127.0.0.1"},
		{"untrusted peer: header ignored", []*net.IPNet{proxy}, "192.0.2.7:5000", "203.0.113.9", "192.0.2.7"},
		{"trusted proxy: client from the header", []*net.IPNet{proxy}, "10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"trusted proxy: a forged first hop is skipped", []*net.IPNet{proxy}, "10.1.2.3:5000", "198.51.100.1, 203.0.113.9", "203.0.113.9"},
	}
	for _, tt := range tests {
		s := New(Options{TrustedProxies: tt.trusted})
		s.Echo().GET("/ip", func(c echo.Context) error { return c.String(200, c.RealIP()) })
		req := httptest.NewRequest("GET", "/ip", nil)
		req.RemoteAddr = tt.peer
		req.Header.Set("X-Forwarded-For", tt.xff)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
			t.Errorf("%s: RealIP = %q (%d), want %q", tt.name, rec.Body.String(), rec.Code, tt.want)
		}
	}
}

// TestClientSchemeTrustsOnlyConfiguredProxies: whether the client's request
// was https (echo's Scheme, which the admin API's origin check and the UI's
// cookie read) comes from the connection, or from X-Forwarded-Proto or
// Forwarded proto= of a peer in server trustedProxies only: the rule of
// the client address. Behind a TLS-terminating proxy every form was
// refused as cross-site, and the session cookie was not Secure.
func TestClientSchemeTrustsOnlyConfiguredProxies(t *testing.T) {
	t.Parallel()
	_, proxy, _ := net.ParseCIDR("203.0.113.0/24")
	trusted := []*net.IPNet{proxy}
	tests := []struct {
		name    string
		trusted []*net.IPNet
		peer    string
		header  http.Header
		tls     bool
		want    string
	}{
		{"plain, no proxy", nil, "192.0.2.7:5000", nil, false, "http"},
		{"TLS, no proxy", nil, "192.0.2.7:5000", nil, true, "https"},
		{"no proxy configured: header ignored", nil, "192.0.2.7:5000", http.Header{"X-Forwarded-Proto": {"https"}}, false, "http"},
		{"loopback peer is not trusted by default", nil, "127.0.0.1:5000", http.Header{"X-Forwarded-Proto": {"https"}}, false, "http"},
		{"private peer is not trusted by default", trusted, "10.1.2.3:5000", http.Header{"X-Forwarded-Proto": {"https"}}, false, "http"},
		{"untrusted peer: Forwarded ignored", trusted, "192.0.2.7:5000", http.Header{"Forwarded": {"proto=https"}}, false, "http"},
		{"trusted proxy: X-Forwarded-Proto", trusted, "203.0.113.5:5000", http.Header{"X-Forwarded-Proto": {"https"}}, false, "https"},
		{"trusted proxy over IPv4-mapped IPv6", trusted, "[::ffff:203.0.113.5]:5000", http.Header{"X-Forwarded-Proto": {"HTTPS"}}, false, "https"},
		{"trusted proxy: the nearest X-Forwarded-Proto", trusted, "203.0.113.5:5000", http.Header{"X-Forwarded-Proto": {"https, http"}}, false, "http"},
		{"trusted proxy: Forwarded proto=", trusted, "203.0.113.5:5000", http.Header{"Forwarded": {`for=192.0.2.60;proto=https;by="[2001:db8::1]"`}}, false, "https"},
		{"trusted proxy: the nearest Forwarded element", trusted, "203.0.113.5:5000", http.Header{"Forwarded": {"proto=http", "for=192.0.2.60; Proto=\"https\""}}, false, "https"},
		{"trusted proxy: X-Forwarded-Proto before Forwarded", trusted, "203.0.113.5:5000", http.Header{"X-Forwarded-Proto": {"http"}, "Forwarded": {"proto=https"}}, false, "http"},
		{"trusted proxy without a header", trusted, "203.0.113.5:5000", nil, false, "http"},
		{"TLS whatever the proxy says", trusted, "203.0.113.5:5000", http.Header{"X-Forwarded-Proto": {"http"}}, true, "https"},
	}
	for _, tt := range tests {
		s := New(Options{TrustedProxies: tt.trusted})
		s.Echo().GET("/scheme", func(c echo.Context) error { return c.String(200, c.Scheme()) })
		req := httptest.NewRequest("GET", "/scheme", nil)
		req.RemoteAddr = tt.peer
		maps.Copy(req.Header, tt.header)
		if tt.tls {
			req.TLS = &tls.ConnectionState{}
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
			t.Errorf("%s: Scheme = %q (%d), want %q", tt.name, rec.Body.String(), rec.Code, tt.want)
		}
	}
}

// TestClientIPAsEcho: the client address of the one proxy rule is the one
// echo's X-Forwarded-For extractor, trusting the same ranges and nothing
// else, found before.
func TestClientIPAsEcho(t *testing.T) {
	t.Parallel()
	var nets []*net.IPNet
	for _, c := range []string{"10.0.0.0/8", "2001:db8:1::/48", "::ffff:198.51.100.0/120"} {
		_, n, _ := net.ParseCIDR(c)
		nets = append(nets, n)
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range nets {
		opts = append(opts, echo.TrustIPRange(n))
	}
	want, got := echo.ExtractIPFromXFFHeader(opts...), newProxies(nets).clientIP
	peers := []string{"10.1.2.3:5000", "[2001:db8:1::5]:443", "[::ffff:10.1.2.3]:80", "198.51.100.9:1", "192.0.2.7:5000", "127.0.0.1:1", "[fe80::1%eth0]:1", "10.1.2.3", "garbage", ""}
	xffs := [][]string{nil, {""}, {"203.0.113.9"}, {"198.51.100.1, 203.0.113.9"}, {" [2001:DB8::9] "}, {"::ffff:203.0.113.9"},
		{"203.0.113.9", "10.0.0.1"}, {"10.0.0.2, 10.0.0.1"}, {"[10.0.0.2]"}, {"x, 10.0.0.1"}, {"203.0.113.9,,10.0.0.1"}, {"2001:db8:1::7, 2001:db8:2::7%1"}, {"2001:db8:1::7"}}
	for _, peer := range peers {
		for _, xff := range xffs {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = peer
			if xff != nil {
				r.Header["X-Forwarded-For"] = xff
			}
			if w, g := want(r), got(r); w != g {
				t.Errorf("peer %q, X-Forwarded-For %q: %q, echo found %q", peer, xff, g, w)
			}
		}
	}
}

// TestProxyRuleAllocatesNothing: the client address and scheme are asked
// on every request (the request log, the audit, the origin check), behind
// a trusted proxy too: echo's extractor allocated several times a request.
func TestProxyRuleAllocatesNothing(t *testing.T) {
	_, n, _ := net.ParseCIDR("10.0.0.0/8")
	p := newProxies([]*net.IPNet{n})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9, 10.0.0.1")
	r.Header.Set("Forwarded", "for=203.0.113.9;proto=https")
	if a := testing.AllocsPerRun(100, func() { p.clientIP(r); p.scheme(r) }); a != 0 {
		t.Errorf("the client address and scheme allocate %v times a request", a)
	}
}

// TestAsideBudgetLargest: the largest maxRequestMemory config takes (4
// EiB) still gives the requests awaiting their body a positive budget of
// twice it, at most MaxInt64: 2 × 4 EiB overflowed to a negative budget,
// and no request stood aside.
func TestAsideBudgetLargest(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ mem, want int64 }{
		{1 << 20, 2 << 20},
		{1 << 62, math.MaxInt64 - 1},
	} {
		s := New(Options{Limits: Limits{MaxRequestMemory: tt.mem}})
		if s.aside.budget != tt.want {
			t.Errorf("maxRequestMemory %d: budget %d, want %d", tt.mem, s.aside.budget, tt.want)
		}
	}
}
