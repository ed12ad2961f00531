package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-project/signet/state"
)

// TestHeadAsGet: HEAD of every GET route of the admin API answers as its
// GET, without the body, and a 405 lists HEAD in Allow wherever GET is
// allowed. HEAD was answered 405 everywhere: the route table registered
// GET alone and the catch-all's Allow named GET alone.
func TestHeadAsGet(t *testing.T) {
	f := newFixture(t)
	params := strings.NewReplacer(":name", "Signer", ":token", "soft", ":alias", "signer", ":requestId", "nope")
	for _, r := range routes {
		if r.method != http.MethodGet {
			continue
		}
		p := params.Replace(r.path)
		get, _, _ := f.call(t, http.MethodGet, p, admin, "", "")
		head, body, _ := f.call(t, http.MethodHead, p, admin, "", "")
		if head != get || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want %d as GET, without a body", p, head, len(body), get)
		}
	}
	tests := []struct{ method, path, allow string }{
		{http.MethodPut, "/workers", "GET, HEAD, POST"},
		{http.MethodDelete, "/audit", "GET, HEAD"},
		{http.MethodPatch, "/tokens/soft/keys/signer", "GET, HEAD, DELETE"},
		{http.MethodGet, "/reload", "POST"},
		{http.MethodHead, "/reload", "POST"},
	}
	for _, tt := range tests {
		code, _, h := f.call(t, tt.method, tt.path, admin, "application/json", "{}")
		if code != http.StatusMethodNotAllowed || h.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tt.method, tt.path, code, h.Get("Allow"), tt.allow)
		}
	}
}

// TestHeadIsNoDownload: HEAD of an archived request answers as its GET
// (status and headers) but hands out no document, so it writes no
// archive.read row; GET writes one. HEAD was audited as a download of the
// archived request and response. The rule is that of every read: an audit
// row says what was done, and HEAD sends nothing.
func TestHeadIsNoDownload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.archive.Put(ctx, state.ArchiveItem{RequestID: "r1", Worker: "Signer", Request: []byte("doc"), RequestSize: 3, ResponseSize: -1}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method string
		rows   int // archive.read rows written
	}{
		{http.MethodHead, 0},
		{http.MethodGet, 1},
	}
	for _, tt := range tests {
		before := f.countAudit(t, "archive.read")
		code, body, h := f.call(t, tt.method, "/archive/r1", "auditor:secret", "", "")
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || (tt.method == http.MethodHead) != (len(body) == 0) {
			t.Errorf("%s /archive/r1: %d %q with %d bytes", tt.method, code, h.Get("Content-Type"), len(body))
		}
		if got := f.countAudit(t, "archive.read") - before; got != tt.rows {
			t.Errorf("%s /archive/r1 wrote %d archive.read rows, want %d", tt.method, got, tt.rows)
		}
	}
}

// countAudit counts the audit rows of action.
func (f *fixture) countAudit(t *testing.T, action string) int {
	t.Helper()
	es, err := f.audit.Entries(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}
