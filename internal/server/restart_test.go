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
	adminapi "github.com/signet-project/signet/web/admin"
)

// TestReloadNamesRestartOnlySettings: a reload that changes server
// settings only a restart applies (the listen address, a limit) succeeds,
// and its audit record names them; one that changes none names nothing.
// The reload used to say ok and drop them without a word.
func TestReloadNamesRestartOnlySettings(t *testing.T) {
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
	cfg := filepath.Join(dir, "restart.yaml")
	write := func(server string) {
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), tlsSection, "server:\n"+server, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("  maxInFlight: 100\n")
	addr, _ := runServer(t, cfg, dir, nil)
	call := func(method, path string) []byte {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
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
	for _, tc := range []struct {
		name, server string
		want         string // the record's restartNeeded
	}{
		{"unchanged", "  maxInFlight: 100\n", ""},
		{"a limit and the address", "  maxInFlight: 50\n  listen: 127.0.0.1:1\n  trustedProxies: [10.0.0.1]\n", "listen, maxInFlight"},
	} {
		write(tc.server)
		call(http.MethodPost, "/admin/api/reload")
		var page adminapi.AuditPage
		if err := json.Unmarshal(call(http.MethodGet, "/admin/api/audit?action=config.reload&limit=1000"), &page); err != nil {
			t.Fatal(err)
		}
		var last adminapi.AuditEntry // the server's own record of the reload (the admin API's names the request)
		for _, e := range page.Entries {
			if e.Details["workers"] != "" {
				last = e
			}
		}
		if last.Outcome != "ok" || last.Details["restartNeeded"] != tc.want {
			t.Errorf("%s: the reload's record is %s %q, want ok with restartNeeded %q", tc.name, last.Outcome, last.Details, tc.want)
		}
	}
}
