package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/signet-project/signet/web"
)

// TestTrustedProxiesReload: server trustedProxies in force is the one of
// the configuration in force: a proxy removed from it and reloaded is no
// longer believed (and one added is). The list was read once at start, so
// a proxy an operator stopped trusting (compromised, replaced) went on
// naming any client address and scheme it liked while the reload said ok.
func TestTrustedProxiesReload(t *testing.T) {
	addr, password, setServer := reloadableDemoServer(t, "  trustedProxies: [127.0.0.1]\n")
	do := func(method, path string, header http.Header) ([]byte, http.Header) {
		return adminCall(t, addr, password, method, path, header)
	}
	tests := []struct {
		name, server string // "" keeps the configuration
		client       string // the signing log's client of a request from the loopback peer saying X-Forwarded-For 203.0.113.9
	}{
		{"trusted at start", "", "203.0.113.9"},
		{"removed, reloaded", "  trustedProxies: []\n", "127.0.0.1"},
		{"added again, reloaded", "  trustedProxies: [127.0.0.1]\n", "203.0.113.9"},
	}
	for _, tt := range tests {
		if tt.server != "" {
			setServer(tt.server)
			do(http.MethodPost, "/admin/api/reload", nil)
		}
		_, h := do(http.MethodGet, "/signserver/worker/CMSSigner?data=aGVsbG8=", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		var log struct{ Records []struct{ Client string } }
		body, _ := do(http.MethodGet, "/admin/api/signlog?requestId="+url.QueryEscape(h.Get(web.HeaderRequestID)), nil)
		if err := json.Unmarshal(body, &log); err != nil || len(log.Records) != 1 {
			t.Fatalf("%s: signing log of request %s: %v %s", tt.name, h.Get(web.HeaderRequestID), err, body)
		}
		if got := log.Records[0].Client; got != tt.client {
			t.Errorf("%s: the signing log's client is %q, want %q", tt.name, got, tt.client)
		}
	}
}
