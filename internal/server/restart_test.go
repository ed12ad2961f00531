package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	adminapi "github.com/signet-project/signet/web/admin"
)

// TestReloadNamesRestartOnlySettings: a reload that changes server
// settings only a restart applies (the listen address, a limit) succeeds,
// and its audit record and the admin API's answer name them; one that
// changes none names nothing. The reload used to say ok and drop them
// without a word, and then its answer still did (only the record named
// them).
func TestReloadNamesRestartOnlySettings(t *testing.T) {
	addr, password, setServer := reloadableDemoServer(t, "  maxInFlight: 100\n")
	call := func(method, path string) []byte {
		body, _ := adminCall(t, addr, password, method, path, nil)
		return body
	}
	for _, tc := range []struct {
		name, server string
		want         string // the record's restartNeeded
	}{
		{"unchanged", "  maxInFlight: 100\n", ""},
		{"a limit and the address", "  maxInFlight: 50\n  listen: 127.0.0.1:1\n  trustedProxies: [10.0.0.1]\n", "listen, maxInFlight"},
	} {
		setServer(tc.server)
		var res adminapi.ReloadResult
		if err := json.Unmarshal(call(http.MethodPost, "/admin/api/reload"), &res); err != nil || len(res.Workers) == 0 || res.RestartNeeded == nil {
			t.Fatalf("%s: the reload answered %+v, %v", tc.name, res, err)
		}
		if got := strings.Join(res.RestartNeeded, ", "); got != tc.want {
			t.Errorf("%s: the reload answered restartNeeded %q, want %q", tc.name, got, tc.want)
		}
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
