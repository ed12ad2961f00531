package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	adminapi "github.com/signet-project/signet/web/admin"
)

// TestReloadNamesRestartOnlySettings: a reload that changes server
// settings only a restart applies (the listen address, a limit) succeeds,
// and its audit record and the admin API's answer name them; one that
// changes none names nothing. The reload used to say ok and drop them
// without a word, and then its answer still did (only the record named
// them). An edit of a worker through the admin API reloads as well: its
// answer and the admin's own record of each (config.reload, config.set)
// name the same list, which only the server's record and the reload's
// answer did.
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
		// The state section is read once, at start: a cluster's database
		// added by a reload is not joined until the restart.
		{"a state section", "  maxInFlight: 100\nstate:\n  postgres:\n    url: {env: SIGNET_TEST_UNSET_URL}\n", "state"},
	} {
		setServer(tc.server)
		var res adminapi.ReloadResult
		if err := json.Unmarshal(call(http.MethodPost, "/admin/api/reload"), &res); err != nil || len(res.Workers) == 0 || res.RestartNeeded == nil {
			t.Fatalf("%s: the reload answered %+v, %v", tc.name, res, err)
		}
		if got := strings.Join(res.RestartNeeded, ", "); got != tc.want {
			t.Errorf("%s: the reload answered restartNeeded %q, want %q", tc.name, got, tc.want)
		}
		var set adminapi.ConfigChange
		body, _ := adminBodyCall(t, addr, password, http.MethodPut, "/admin/api/workers/CMSSigner/properties/KEYUSAGELIMIT", `{"value": "1000"}`)
		if err := json.Unmarshal(body, &set); err != nil || set.Name != "CMSSigner" || set.RestartNeeded == nil {
			t.Fatalf("%s: the property's edit answered %s, %v", tc.name, body, err)
		}
		if got := strings.Join(set.RestartNeeded, ", "); got != tc.want {
			t.Errorf("%s: the property's edit answered restartNeeded %q, want %q", tc.name, got, tc.want)
		}
		var page adminapi.AuditPage
		if err := json.Unmarshal(call(http.MethodGet, "/admin/api/audit?action=config.&limit=1000"), &page); err != nil {
			t.Fatal(err)
		}
		// The last record of each: the server's own of the edit's reload,
		// and the admin's of the reload and of the edit.
		last := map[string]adminapi.AuditEntry{}
		for _, e := range page.Entries {
			last[e.Actor+" "+e.Action] = e
		}
		for _, k := range []string{"system config.reload", "admin config.reload", "admin config.set"} {
			if e := last[k]; e.Outcome != "ok" || e.Details["restartNeeded"] != tc.want {
				t.Errorf("%s: the %s record is %q %q, want ok with restartNeeded %q", tc.name, k, e.Outcome, e.Details, tc.want)
			}
		}
	}
}

// TestReloadRefusesStateFiles: a reload refuses what config check refuses
// of the files the server opens at start (here an audit key that is a
// folder), at the line that names it, rather than answering ok and
// leaving the next start to fail; the running configuration stays, and a
// fixed file reloads.
func TestReloadRefusesStateFiles(t *testing.T) {
	addr, password, setServer := reloadableDemoServer(t, "  maxInFlight: 100\n")
	reload := func() (int, string) {
		code, body, _ := adminAnswer(t, addr, password, http.MethodPost, "/admin/api/reload", "{}", nil)
		return code, string(body)
	}
	setServer("  maxInFlight: 100\n  auditKey: " + t.TempDir() + "\n")
	if code, body := reload(); code != http.StatusBadRequest || !regexp.MustCompile(`endpoint\.yaml:\d+: The server cannot start: read the audit seal key`).MatchString(body) {
		t.Fatalf("reload with an audit key that is a folder: %d %s, want 400 at the line of endpoint.yaml that names it", code, body)
	}
	setServer("  maxInFlight: 100\n")
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload of the fixed file: %d %s", code, body)
	}
}
