package admin

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web"
)

func TestCrossSiteRefused(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ header, value string }{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", f.srv.URL+BasePath+"/tokens/soft/deactivate", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(tt.header, tt.value)
		req.SetBasicAuth("admin", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %s: status %d, want 403", tt.header, tt.value, resp.StatusCode)
		}
	}
	if st := f.soft.Status(context.Background()); st.State.String() != "ACTIVE" {
		t.Fatal("a cross-site request deactivated the token")
	}
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	if len(es) != 2 || es[0].Action != "admin.refused" || es[0].Details["reason"] != "cross-site request" {
		t.Fatalf("audit of cross-site requests: %+v", es)
	}
}

func TestRemoveUsedKeyWithForce(t *testing.T) {
	f := newFixture(t)
	// force takes true or false: another value is refused before anything
	// is removed, of a key no worker uses too.
	if _, err := f.soft.GenerateKey(context.Background(), "spare", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/tokens/soft/keys/spare?force=maybe", "/tokens/soft/keys/spare?force=yes", "/tokens/soft/keys/spare?force=true&force=false", "/tokens/soft/keys/signer?force=1"} {
		code, body, _ := f.call(t, "DELETE", path, admin, "", "")
		if code != http.StatusBadRequest || !strings.Contains(string(body), "Query parameter force must be true or false") {
			t.Errorf("DELETE %s: %d %s, want 400", path, code, body)
		}
		if _, err := f.soft.Signer(context.Background(), "spare"); err != nil {
			t.Fatalf("DELETE %s removed the key: %v", path, err)
		}
	}
	// Without force: 409, naming both ways to force it (the API's query
	// parameter and the command's flag, which is what signet admin prints).
	if code, body, _ := f.call(t, "DELETE", "/tokens/soft/keys/signer", admin, "", ""); code != http.StatusConflict ||
		!strings.Contains(string(body), "force=true") || !strings.Contains(string(body), "signet admin keys remove --force") {
		t.Errorf("remove a used key without force: %d %s, want 409 naming force=true and --force", code, body)
	}
	if code, body, _ := f.call(t, "DELETE", "/tokens/soft/keys/signer?force=true", admin, "", ""); code != http.StatusNoContent {
		t.Fatalf("remove with force: %d %s", code, body)
	}
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	last := es[len(es)-1]
	if last.Action != "key.remove" || last.Outcome != "ok" || last.Details["force"] != "true" || last.Details["workers"] != "Signer" {
		t.Fatalf("audit of a forced removal: %+v", last)
	}
}

// TestSameOriginBehindProxy: a page of https://signet.example behind a
// TLS-terminating proxy calls the admin API, which Signet serves plain
// http. The Origin's https is the client's request's scheme when a proxy
// of server trustedProxies says so (X-Forwarded-Proto, Forwarded); every
// such call was refused as cross-site. A peer that is not a trusted proxy
// is not believed.
func TestSameOriginBehindProxy(t *testing.T) {
	f := newFixture(t)
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32") // the test server's client
	_, other, _ := net.ParseCIDR("198.51.100.0/24")
	tests := []struct {
		name    string
		trusted *net.IPNet
		header  http.Header
		origin  string
		code    int
	}{
		{"trusted proxy, X-Forwarded-Proto", loopback, http.Header{"X-Forwarded-Proto": {"https"}}, "https", http.StatusOK},
		{"trusted proxy, Forwarded", loopback, http.Header{"Forwarded": {"proto=https"}}, "https", http.StatusOK},
		{"trusted proxy, plain http", loopback, nil, "http", http.StatusOK},
		{"trusted proxy, no https said", loopback, nil, "https", http.StatusForbidden},
		{"untrusted peer claiming https", other, http.Header{"X-Forwarded-Proto": {"https"}}, "https", http.StatusForbidden},
	}
	for _, tt := range tests {
		s := web.New(web.Options{TrustedProxies: []*net.IPNet{tt.trusted}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		f.h.Register(s.Echo())
		srv := httptest.NewServer(s.Handler())
		req, _ := http.NewRequest("POST", srv.URL+BasePath+"/audit/verify", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", tt.origin+"://"+srv.Listener.Addr().String())
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		maps.Copy(req.Header, tt.header)
		req.SetBasicAuth("auditor", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.code)
		}
		// A page of this host under the other scheme is what a proxy
		// Signet does not know looks like: the refusal names the fix.
		if tt.code == http.StatusForbidden && !strings.Contains(string(body), "trustedProxies") {
			t.Errorf("%s: %s, want the sentence naming server trustedProxies", tt.name, body)
		}
	}
}
