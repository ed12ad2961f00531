package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidatorsAuthorizeClients: a validator's AUTHTYPE is enforced on
// every surface that reaches it, as a signer's is. With the demo's
// validators set to USERNAME_PASSWORD for the user admin, a client
// without credentials, or with a wrong password, is refused (401), on the
// servlet, the process servlet and REST; admin's password gets in. They
// validated anyone's documents, fetching the CRLs the documents named.
func TestValidatorsAuthorizeClients(t *testing.T) {
	t.Parallel()
	dir, withServer, password := demoFolder(t)
	y := withServer("")
	for _, kind := range []string{"CMSValidator", "PDFValidator"} {
		old := "    kind: " + kind + "\n    properties:\n      AUTHTYPE: NOAUTH\n"
		if !strings.Contains(y, old) {
			t.Fatalf("the demo configuration's %s changed: %.200s", kind, y[strings.Index(y, "kind: "+kind):])
		}
		y = strings.Replace(y, old, "    kind: "+kind+"\n    users: [admin]\n    properties:\n      AUTHTYPE: USERNAME_PASSWORD\n", 1)
	}
	cfg := filepath.Join(dir, "validators.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := runServer(t, cfg, dir, nil)
	tests := []struct {
		name, path, ctype, body string
		user, pass              string
		want                    int
	}{
		{"CMSValidator servlet, anonymous", "/signserver/worker/CMSValidator", "application/json", `{"signature":"AA=="}`, "", "", http.StatusUnauthorized},
		{"CMSValidator servlet, wrong password", "/signserver/worker/CMSValidator", "application/json", `{"signature":"AA=="}`, "admin", "wrong", http.StatusUnauthorized},
		{"PDFValidator servlet, anonymous", "/signserver/worker/PDFValidator", "application/pdf", "%PDF-1.7\n", "", "", http.StatusUnauthorized},
		{"PDFValidator process servlet, anonymous", "/signserver/process?workerName=PDFValidator&data=x", "application/x-www-form-urlencoded", "", "", "", http.StatusUnauthorized},
		{"PDFValidator REST, anonymous", "/signserver/rest/v1/workers/PDFValidator/process", "application/json", `{"data":"JVBERi0xLjcK","encoding":"BASE64"}`, "", "", http.StatusUnauthorized},
		{"CMSValidator servlet, admin", "/signserver/worker/CMSValidator", "application/json", `{"signature":"AA=="}`, "admin", password, http.StatusOK},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", tt.ctype)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, body, tt.want)
		}
	}
}
