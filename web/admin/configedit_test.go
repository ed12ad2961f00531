package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/workers"
)

const editTestYAML = `tokens:
  - name: soft
    type: soft
    properties:
      KEYSTOREPATH: ks
      KEYSTORETYPE: PEM

workers:
  # Detached CMS.
  - name: Signer
    id: 3
    kind: CMSSigner
    token: soft
    key: signer
    properties:
      DETACHEDSIGNATURE: true # detached
`

// TestConfigRoutes drives the configuration routes in process (Call), as
// the web UI does.
func TestConfigRoutes(t *testing.T) {
	t.Parallel()
	h, file := newEditHandler(t, state.NewMemory())
	who := Caller{User: "admin", Remote: "192.0.2.1"}
	ctx := context.Background()
	tests := []struct {
		name         string
		method, path string
		in           any
		code         int    // 0: success
		says         string // in the error, or in the file after success
		fileChanges  bool
	}{
		{"set", http.MethodPut, "/workers/Signer/properties/KEYUSAGELIMIT", PropertyRequest{Value: "7"}, 0, "      KEYUSAGELIMIT: 7\n", true},
		{"set keeps comments", http.MethodPut, "/workers/signer/properties/DETACHEDSIGNATURE", PropertyRequest{Value: "false"}, 0, "DETACHEDSIGNATURE: false # detached\n", true},
		{"typo", http.MethodPut, "/workers/Signer/properties/DETACHEDSIGNATUR", PropertyRequest{Value: "true"}, 400, "did you mean DETACHEDSIGNATURE", false},
		{"bad value", http.MethodPut, "/workers/Signer/properties/KEYUSAGELIMIT", PropertyRequest{Value: "lots"}, 400, "KEYUSAGELIMIT", false},
		{"unknown worker", http.MethodPut, "/workers/Nobody/properties/DISABLED", PropertyRequest{Value: "true"}, 404, "Nobody", false},
		// An empty value is the same as leaving the property out: it was
		// written as KEYUSAGELIMIT: "" and answered as set.
		{"set empty", http.MethodPut, "/workers/Signer/properties/KEYUSAGELIMIT", PropertyRequest{Value: " "}, 400, "remove it with DELETE", false},
		{"set without value", http.MethodPut, "/workers/Signer/properties/CONTENTOID", nil, 400, "body is empty", false},
		// A value or name of more than one line was a 500.
		{"set value of two lines", http.MethodPut, "/workers/Signer/properties/CONTENTOID", PropertyRequest{Value: "1.2\n3"}, 400, "must be one line", false},
		{"add name of two lines", http.MethodPost, "/workers", NewWorkerRequest{Name: "A\nB", Kind: "PlainSigner"}, 400, "must be one line", false},
		{"set with value null", http.MethodPut, "/workers/Signer/properties/CONTENTOID", map[string]any{"value": nil}, 400, "remove it with DELETE", false},
		{"remove unset", http.MethodDelete, "/workers/Signer/properties/CONTENTOID", nil, 404, "nothing to remove", false},
		{"remove", http.MethodDelete, "/workers/Signer/properties/KEYUSAGELIMIT", nil, 0, "", true},
		{"add worker", http.MethodPost, "/workers", NewWorkerRequest{Name: "Plain", Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH"}}, 0, "  - name: Plain\n    id: 4\n", true},
		{"add unknown kind", http.MethodPost, "/workers", NewWorkerRequest{Name: "X", Kind: "XSigner"}, 400, "Unknown worker kind", false},
		{"unknown worker, long name", http.MethodGet, "/workers/" + strings.Repeat("w", 5000) + "/properties", nil, 404, `No worker named or numbered "` + strings.Repeat("w", 128) + `"… in`, false},
		{"remove long property", http.MethodDelete, "/workers/Signer/properties/" + strings.Repeat("P", 5000), nil, 404, `does not set "` + strings.Repeat("P", 128) + `"… in its file`, false},
		{"add long kind", http.MethodPost, "/workers", NewWorkerRequest{Name: "X", Kind: strings.Repeat("K", 5000)}, 400, `Unknown worker kind "` + strings.Repeat("K", 128) + `"…: use`, false},
		{"add duplicate", http.MethodPost, "/workers", NewWorkerRequest{Name: "Plain", Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH"}}, 400, "already used", false},
		// The name is written without the spaces around it: the answer
		// looked the name up with them, a 404 for the worker just added.
		// Two spellings of one property: which of them was written
		// depended on the order of a Go map, AUTHTYPE NOAUTH or not.
		{"add property twice", http.MethodPost, "/workers", NewWorkerRequest{Name: "Twice", Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH", "authtype ": "USERNAME_PASSWORD"}}, 400, `name the same property: keep one`, false},
		{"add name with spaces around", http.MethodPost, "/workers", NewWorkerRequest{Name: " Spaced ", Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH"}}, 0, "  - name: Spaced\n", true},
	}
	for _, tt := range tests { // in order: each step builds on the file before
		before, _ := os.ReadFile(file)
		err := h.Call(ctx, who, tt.method, tt.path, tt.in, nil)
		after, _ := os.ReadFile(file)
		var ae *APIError
		switch {
		case tt.code == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.code != 0 && (!errors.As(err, &ae) || ae.Status != tt.code || !strings.Contains(ae.Message, tt.says)):
			t.Errorf("%s: %v, want %d saying %q", tt.name, err, tt.code, tt.says)
		case tt.code == 0 && !strings.Contains(string(after), tt.says):
			t.Errorf("%s: the file does not hold %q:\n%s", tt.name, tt.says, after)
		}
		if changed := string(before) != string(after); changed != tt.fileChanges {
			t.Errorf("%s: file changed = %v, want %v", tt.name, changed, tt.fileChanges)
		}
		if ae != nil && len(ae.Message) > 512 {
			t.Errorf("%s: the error repeats the request whole: %.600q", tt.name, ae.Message)
		}
		if ae != nil && tt.code == 400 && tt.name != "add unknown kind" && tt.name != "add long kind" && !strings.HasPrefix(tt.name, "set empty") && !strings.HasPrefix(tt.name, "set with") && !strings.HasPrefix(tt.name, "set without") && tt.name != "add property twice" && !strings.HasSuffix(tt.name, "of two lines") && (len(ae.Problems) == 0 || !strings.HasPrefix(ae.Problems[0], file+":")) {
			t.Errorf("%s: problems %q do not name file:line", tt.name, ae.Problems)
		}
	}
	if !strings.Contains(mustRead(t, file), "  # Detached CMS.\n") {
		t.Error("the worker's comment was lost")
	}
	var wc WorkerConfig
	if err := h.Call(ctx, who, http.MethodGet, "/workers/Plain/properties", nil, &wc); err != nil || wc.ID != 4 || wc.Kind != "PlainSigner" {
		t.Errorf("the added worker reads back as %+v (%v)", wc, err)
	}
}

// TestConcurrentAddWorker adds workers without an ID at once: each gets
// its own ID and none is refused.
func TestConcurrentAddWorker(t *testing.T) {
	t.Parallel()
	h, _ := newEditHandler(t, nil)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := NewWorkerRequest{Name: fmt.Sprintf("Plain%d", i), Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH"}}
			errs[i] = h.Call(context.Background(), Caller{User: "admin"}, http.MethodPost, "/workers", req, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if got := len(h.opts.Config().Workers); got != n+1 {
		t.Errorf("%d workers configured, want %d", got, n+1)
	}
}

func mustRead(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAuditSearchAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := state.NewMemory()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i, e := range []state.Entry{
		{Actor: "admin", Action: "token.activate", Target: "token/demo", Outcome: "ok", Details: map[string]string{"remote": "10.0.0.1"}},
		{Actor: "admin", Action: "key.generate", Target: "token/demo/key/a", Outcome: "ok", Details: map[string]string{"remote": "10.0.0.2"}},
		{Actor: "alice", Action: "worker.try", Target: "worker/CAdESSigner", Outcome: "ok", Details: map[string]string{"remote": "10.0.0.1", "worker": "CAdESSigner"}},
		{Actor: "admin", Action: "key.remove", Target: "token/demo/key/a", Outcome: "ok", Details: map[string]string{"remote": "10.0.0.1"}},
	} {
		e.Time = t0.Add(time.Duration(i) * time.Hour)
		if _, err := m.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	h := New(Options{Audit: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	who := Caller{User: "admin"}
	tests := []struct {
		query string
		seqs  []int64
	}{
		{"", []int64{1, 2, 3, 4}},
		{"action=key.", []int64{2, 4}},
		{"action=key.remove", []int64{4}},
		{"actor=alice", []int64{3}},
		{"worker=CAdESSigner", []int64{3}},
		{"remote=10.0.0.1", []int64{1, 3, 4}},
		{"from=2026-01-01T13:00:00Z&to=2026-01-01T14:00", []int64{2, 3}},
		{"remote=10.0.0.1&limit=2", []int64{1, 3}},
		{"remote=10.0.0.1&after=3", []int64{4}},
	}
	for _, tt := range tests {
		var p AuditPage
		if err := h.Call(ctx, who, http.MethodGet, "/audit?"+tt.query, nil, &p); err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var got []int64
		for _, e := range p.Entries {
			got = append(got, e.Seq)
		}
		if len(got) != len(tt.seqs) || (len(got) > 0 && (got[0] != tt.seqs[0] || got[len(got)-1] != tt.seqs[len(tt.seqs)-1])) {
			t.Errorf("audit?%s = %v, want %v", tt.query, got, tt.seqs)
		}
	}
	var v VerifyResult
	if err := h.Call(ctx, who, http.MethodGet, "/audit/verify", nil, &v); err != nil || !v.Intact || v.CheckedAt.IsZero() {
		t.Fatalf("verify = %+v, %v", v, err)
	}
	var again VerifyResult
	if err := h.Call(ctx, who, http.MethodGet, "/audit/verify", nil, &again); err != nil || !again.CheckedAt.Equal(v.CheckedAt) {
		t.Errorf("GET /audit/verify ran the check again (%v, %v)", again.CheckedAt, v.CheckedAt)
	}
	if err := h.Call(ctx, who, http.MethodGet, "/audit?from=yesterday", nil, nil); err == nil {
		t.Error("a bad time was accepted")
	}
}

// newEditHandler returns a handler over a configuration file of its own
// holding editTestYAML, reloaded after each edit as the server does, with
// audit (nil: none).
func newEditHandler(t *testing.T, audit state.Audit) (*Handler, string) {
	t.Helper()
	return newRestartEditHandler(t, audit, nil)
}

// newRestartEditHandler is newEditHandler whose reloads report restart
// (restartNeeded) as the server's do.
func newRestartEditHandler(t *testing.T, audit state.Audit, restart []string) (*Handler, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "signet.yaml")
	if err := os.WriteFile(file, []byte(editTestYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg atomic.Pointer[config.Config]
	load := func(context.Context) error {
		c, err := config.Load(file)
		if err == nil {
			cfg.Store(c)
		}
		return err
	}
	if err := load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return New(Options{
		Workers: &source{workers.NewSet(nil, nil)},
		Config:  cfg.Load,
		Reload:  func(ctx context.Context) ([]string, error) { return restart, load(ctx) },
		Audit:   audit,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}), file
}

// TestEditsSayRestart: every admin route that reloads the configuration
// (POST /reload and the edits of a worker: PUT and DELETE of a property,
// POST /workers) answers restartNeeded as the reload returned it, an empty
// list when there is none, and its audit row names them as the server's
// own config.reload row does. Only POST /reload's answer named them: the
// edits reloaded and said nothing, and no admin row did.
func TestEditsSayRestart(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name, method, path string
		in                 any
		action             string
	}{
		{"set", http.MethodPut, "/workers/Signer/properties/KEYUSAGELIMIT", PropertyRequest{Value: "7"}, "config.set"},
		{"remove", http.MethodDelete, "/workers/Signer/properties/KEYUSAGELIMIT", nil, "config.remove"},
		{"add", http.MethodPost, "/workers", NewWorkerRequest{Name: "Plain", Kind: "PlainSigner", Token: "soft", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH"}}, "config.add"},
		{"reload", http.MethodPost, "/reload", map[string]any{}, "config.reload"},
	}
	for _, tc := range []struct {
		name    string
		restart []string
		detail  string // the audit row's restartNeeded, "": none
	}{
		{"none", nil, ""},
		{"listen and a limit", []string{"listen", "maxInFlight"}, "listen, maxInFlight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			audit := state.NewMemory()
			h, _ := newRestartEditHandler(t, audit, tc.restart)
			for _, st := range steps {
				var got struct {
					Name          string    `json:"name"`
					RestartNeeded *[]string `json:"restartNeeded"`
				}
				if err := h.Call(context.Background(), Caller{User: "admin"}, st.method, st.path, st.in, &got); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if got.RestartNeeded == nil || strings.Join(*got.RestartNeeded, ", ") != tc.detail {
					t.Errorf("%s answered restartNeeded %v, want [%s]", st.name, got.RestartNeeded, tc.detail)
				}
				if st.action != "config.reload" && got.Name == "" {
					t.Errorf("%s: the answer no longer holds the worker's configuration", st.name)
				}
				es, err := audit.Entries(context.Background(), 0, 1000)
				if err != nil || len(es) == 0 {
					t.Fatalf("%s: no audit row (%v)", st.name, err)
				}
				row := es[len(es)-1]
				if row.Action != st.action || row.Outcome != "ok" || row.Details["restartNeeded"] != tc.detail {
					t.Errorf("%s: the audit row is %s %s %q, want %s ok with restartNeeded %q", st.name, row.Action, row.Outcome, row.Details, st.action, tc.detail)
				}
			}
		})
	}
}

// TestEditOfChangedFile: an edit of what the file no longer holds (the
// loser of two DELETEs of one property, which both read the configuration
// before the winner wrote; or a file edited by hand since the server read
// it) is a 404 that says what happened and what to do, and writes
// nothing. The loser was told only "Worker Signer does not set property
// DETACHEDSIGNATURE in its file.", which reads as a bug of the server.
func TestEditOfChangedFile(t *testing.T) {
	t.Parallel()
	const removedProperty = `tokens:
  - name: soft
    type: soft
    properties:
      KEYSTOREPATH: ks
      KEYSTORETYPE: PEM

workers:
  - name: Signer
    id: 3
    kind: CMSSigner
    token: soft
    key: signer
`
	const removedWorker = `tokens:
  - name: soft
    type: soft
    properties:
      KEYSTOREPATH: ks
      KEYSTORETYPE: PEM
`
	tests := []struct {
		name, since  string // since: the file as another request or a hand left it
		method, path string
		in           any
		says         string
	}{
		{"remove a property removed since", removedProperty, http.MethodDelete, "/workers/Signer/properties/DETACHEDSIGNATURE", nil,
			"Worker Signer does not set property DETACHEDSIGNATURE in its file: it was changed since the server read it (by another request, or by hand); read the worker's properties again, after POST /reload if the file was edited by hand."},
		{"remove a property of a worker removed since", removedWorker, http.MethodDelete, "/workers/Signer/properties/DETACHEDSIGNATURE", nil,
			"Worker Signer is not in this file: it was changed since the server read it"},
		{"set a property of a worker removed since", removedWorker, http.MethodPut, "/workers/Signer/properties/KEYUSAGELIMIT", PropertyRequest{Value: "7"},
			"Worker Signer is not in this file: it was changed since the server read it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, file := newEditHandler(t, nil)
			if err := os.WriteFile(file, []byte(tt.since), 0o600); err != nil {
				t.Fatal(err)
			}
			err := h.Call(context.Background(), Caller{User: "admin"}, tt.method, tt.path, tt.in, nil)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !strings.HasPrefix(ae.Message, tt.says) {
				t.Errorf("%v, want 404 saying %q", err, tt.says)
			}
			if got := mustRead(t, file); got != tt.since {
				t.Errorf("the refused edit wrote the file:\n%s", got)
			}
		})
	}
}

// TestConcurrentRemoveProperty removes one property twice at once: one
// request removes it, the other is a 404 that says nothing is left to
// remove, whichever order they run in.
func TestConcurrentRemoveProperty(t *testing.T) {
	t.Parallel()
	h, file := newEditHandler(t, nil)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			errs[i] = h.Call(context.Background(), Caller{User: "admin"}, http.MethodDelete, "/workers/Signer/properties/DETACHEDSIGNATURE", nil, nil)
		})
	}
	wg.Wait()
	if errs[0] != nil && errs[1] != nil || errs[0] == nil && errs[1] == nil {
		t.Fatalf("want one removal and one refusal: %v, %v", errs[0], errs[1])
	}
	var ae *APIError
	if loser := errors.Join(errs...); !errors.As(loser, &ae) || ae.Status != http.StatusNotFound ||
		!strings.Contains(ae.Message, "nothing to remove") && !strings.Contains(ae.Message, "read the worker's properties again") {
		t.Errorf("the loser: %v, want a 404 that says what happened and what to do", loser)
	}
	if strings.Contains(mustRead(t, file), "DETACHEDSIGNATURE") {
		t.Error("the property is still in the file")
	}
}
