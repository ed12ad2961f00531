package main

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestVendorKeyOfOfflineToken: with the demo token deactivated, a key of
// it is not served by the NetHSM and DSM APIs, and the 404 names the
// offline token and the fix, activating it; the sentence was "No key with
// ID signer-p256: check the KeyID", for a KeyID that was right. Active
// again, the key signs.
func TestVendorKeyOfOfflineToken(t *testing.T) {
	t.Parallel()
	s, files := demoWithLimitedUser(t)
	pin, err := os.ReadFile(files.PIN)
	if err != nil {
		t.Fatal(err)
	}
	c := vendorClient{t: t, base: s.url, rt: http.DefaultTransport}
	sum := sha256.Sum256([]byte("doc"))
	hash := base64.StdEncoding.EncodeToString(sum[:])
	const says = "crypto token demo is offline and may hold it; activate it, or check the"
	if code, body := c.do(http.MethodPost, "/admin/api/tokens/demo/deactivate", "admin:"+vendorPassword, "", struct{}{}); code != http.StatusOK {
		t.Fatalf("deactivate: %d %s", code, body)
	}
	for _, tt := range []struct {
		name, method, path, auth string
		body                     any
		code                     int
	}{
		{"NetHSM sign", http.MethodPost, "/api/v1/keys/signer-p256/sign", "operator", map[string]string{"mode": "ECDSA", "message": hash}, http.StatusNotFound},
		{"NetHSM key", http.MethodGet, "/api/v1/keys/signer-p256", "operator", nil, http.StatusNotFound},
		{"DSM sign", http.MethodPost, "/crypto/v1/sign", "demo", map[string]any{"key": map[string]string{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": hash}, http.StatusNotFound},
		{"DSM batch item", http.MethodPost, "/crypto/v1/keys/batch/sign", "demo", []any{map[string]any{"key": map[string]string{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": hash}}, http.StatusOK},
		{"DSM key", http.MethodGet, "/crypto/v1/keys/0494c5e7-afd7-5f7a-95cc-5034e369c65e", "demo", nil, http.StatusNotFound},
	} {
		code, body := c.do(tt.method, tt.path, tt.auth+":"+vendorPassword, "", tt.body)
		if code != tt.code || !strings.Contains(string(body), says) {
			t.Errorf("%s: %d %s, want %d saying %q", tt.name, code, body, tt.code, says)
		}
	}
	if code, body := c.do(http.MethodPost, "/admin/api/tokens/demo/activate", "admin:"+vendorPassword, "", map[string]string{"pin": strings.TrimSpace(string(pin))}); code != http.StatusOK {
		t.Fatalf("activate: %d %s", code, body)
	}
	if code, body := c.do(http.MethodPost, "/api/v1/keys/signer-p256/sign", "operator:"+vendorPassword, "", map[string]string{"mode": "ECDSA", "message": hash}); code != http.StatusOK {
		t.Errorf("sign once the token is active again: %d %s", code, body)
	}
}
