package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	adminapi "github.com/signet-project/signet/web/admin"
)

// TestAdminReloadSaysRestart: signet admin reload prints which changed
// server settings wait for a restart, as the admin API's answer names
// them, and nothing about a restart when none does. It printed
// "Configuration reloaded." alone.
func TestAdminReloadSaysRestart(t *testing.T) {
	t.Parallel()
	const note = "take effect when the server restarts"
	tests := []struct {
		name    string
		restart []string
		want    string // "" : the note is not printed
	}{
		{"none", []string{}, ""},
		{"listen and a limit", []string{"listen", "maxInFlight"}, note + ", and the ones it started with stay in force until then: listen, maxInFlight.\n"},
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != adminapi.BasePath+"/reload" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(adminapi.ReloadResult{Workers: []adminapi.WorkerStatus{{Name: "Signer", Status: "ACTIVE"}}, RestartNeeded: tt.restart})
			}))
			t.Cleanup(srv.Close)
			var out, errb bytes.Buffer
			if err := run(context.Background(), []string{"admin", "reload", "--url", srv.URL, "--password-file", pw}, &out, &errb); err != nil {
				t.Fatalf("signet admin reload: %v\n%s", err, errb.String())
			}
			got := out.String()
			if !strings.HasPrefix(got, "Configuration reloaded.\n") || !strings.Contains(got, "Signer") ||
				strings.Contains(got, note) != (tt.want != "") || !strings.Contains(got, tt.want) {
				t.Errorf("printed %q, want the note %q", got, tt.want)
			}
		})
	}
}

// TestAdminReloadRestartEndToEnd: against a running server, signet admin
// reload prints the changed server settings that wait for a restart, and
// signet admin audit list shows them in the admin's own record of the
// reload, as in the server's. The admin's record named none: only the
// server's did.
func TestAdminReloadRestartEndToEnd(t *testing.T) {
	e := newAdminEnv(t, false)
	cfg := filepath.Join(e.dir, "signet.yaml")
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const note = "take effect when the server restarts"
	for _, tc := range []struct {
		name, server string
		want         string // restartNeeded, "": none
	}{
		{"unchanged", "", ""},
		{"a limit", "server:\n  maxInFlight: 50\n", "maxInFlight"},
	} {
		if err := os.WriteFile(cfg, append([]byte(tc.server), base...), 0o644); err != nil {
			t.Fatal(err)
		}
		out := e.mustAdmin(t, "reload")
		if strings.Contains(out, note) != (tc.want != "") || !strings.Contains(out, "in force until then: "+tc.want) && tc.want != "" {
			t.Errorf("%s: signet admin reload printed %q, want the settings %q", tc.name, out, tc.want)
		}
		var page adminapi.AuditPage
		if err := json.Unmarshal([]byte(e.mustAdmin(t, "audit", "list", "--json", "--limit", "1000")), &page); err != nil {
			t.Fatal(err)
		}
		rows := map[string]adminapi.AuditEntry{} // the last of each actor
		for _, r := range page.Entries {
			if r.Action == "config.reload" {
				rows[r.Actor] = r
			}
		}
		for _, actor := range []string{"system", "admin"} {
			if r := rows[actor]; r.Outcome != "ok" || r.Details["restartNeeded"] != tc.want {
				t.Errorf("%s: the %s record of the reload is %q %q, want ok with restartNeeded %q", tc.name, actor, r.Outcome, r.Details, tc.want)
			}
		}
	}
}
