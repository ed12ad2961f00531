package dsm_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/signet-project/signet/web/dsm"
)

// TestHeadAsGet: HEAD of every GET route of the DSM API answers as its
// GET, without the body, and a 405 lists HEAD in Allow wherever GET is
// allowed. The routes were GET only, so HEAD was answered 405.
func TestHeadAsGet(t *testing.T) {
	f := newFixture(t)
	do := func(method, path string) (int, string, int) {
		req, _ := http.NewRequest(method, f.srv.URL+path, nil)
		req.SetBasicAuth(appUser, appSecret)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Allow"), len(body)
	}
	for _, p := range []string{"/sys/v1/health", "/crypto/v1/keys", "/crypto/v1/keys/" + dsm.KeyID("soft", "p256"), "/crypto/v1/keys/nope"} {
		get, _, _ := do(http.MethodGet, p)
		head, _, n := do(http.MethodHead, p)
		if head != get || n != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want %d as GET, without a body", p, head, n, get)
		}
	}
	tests := []struct{ method, path, allow string }{
		{http.MethodDelete, "/crypto/v1/keys", "OPTIONS, GET, HEAD"}, // in echo's order
		{http.MethodPost, "/sys/v1/health", "OPTIONS, GET, HEAD"},
		{http.MethodHead, "/crypto/v1/sign", "OPTIONS, POST"},
	}
	for _, tt := range tests {
		code, allow, _ := do(tt.method, tt.path)
		if code != http.StatusMethodNotAllowed || allow != tt.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tt.method, tt.path, code, allow, tt.allow)
		}
	}
}
