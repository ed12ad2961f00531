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
