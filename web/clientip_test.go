package web

import (
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
