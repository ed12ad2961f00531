package admin

import (
	"net/http"
	"strings"
	"testing"
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
