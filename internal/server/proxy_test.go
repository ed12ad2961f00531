package server

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/demo"
)

// TestTrustedProxiesReload: server trustedProxies in force is the one of
// the configuration in force: a proxy removed from it and reloaded is no
// longer believed (and one added is). The list was read once at start, so
// a proxy an operator stopped trusting (compromised, replaced) went on
// naming any client address and scheme it liked while the reload said ok.
func TestTrustedProxiesReload(t *testing.T) {
	dir := t.TempDir()
	files, _, err := demo.Bootstrap(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	const tlsSection = "server:\n  tls:\n    cert: tls.pem\n    key: tls.key\n"
	if !strings.Contains(string(b), tlsSection) {
		t.Fatalf("the demo configuration's server section changed: %.300s", b)
	}
	cfg := filepath.Join(dir, "proxy.yaml")
	write := func(server string) {
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), tlsSection, "server:\n"+server, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("  trustedProxies: [127.0.0.1]\n")
	addr, _ := runServer(t, cfg, dir, nil)
	do := func(method, path string, header http.Header) []byte {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("{}"))
		for k, v := range header {
			req.Header[k] = v
		}
		req.SetBasicAuth("admin", files.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
		}
		return body
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
			write(tt.server)
			do(http.MethodPost, "/admin/api/reload", http.Header{"Content-Type": {"application/json"}})
		}
		do(http.MethodGet, "/signserver/worker/CMSSigner?data=aGVsbG8=", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
		var log struct {
			Records []struct {
				ID     int64
				Client string
			}
		}
		if err := json.Unmarshal(do(http.MethodGet, "/admin/api/signlog", nil), &log); err != nil || len(log.Records) == 0 {
			t.Fatalf("%s: signing log: %v %+v", tt.name, err, log)
		}
		last := log.Records[0] // the newest
		for _, r := range log.Records {
			if r.ID > last.ID {
				last = r
			}
		}
		if got := last.Client; got != tt.client {
			t.Errorf("%s: the signing log's client is %q, want %q", tt.name, got, tt.client)
		}
	}
}
