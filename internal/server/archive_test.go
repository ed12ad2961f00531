package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	adminapi "github.com/signet-project/signet/web/admin"
)

// TestArchivePurge: the server archives what a worker with ARCHIVERS signs
// and purges it once it is older than ARCHIVE_RETENTION, at the purge ticks
// and as of their time (an injected clock): no sleep, no wall clock.
func TestArchivePurge(t *testing.T) {
	t.Parallel()
	p := newTLSPKI(t)
	st, err := soft.Create(soft.Options{Path: filepath.Join(p.dir, "ks"), Type: "PKCS12"}, "pin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GenerateKey(context.Background(), "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	p.write(t, map[string][]byte{"pin": []byte("pin\n")})
	s := serveTLS(t, p, fmt.Sprintf(`tokens:
  - name: soft
    type: soft
    properties: {KEYSTOREPATH: ks, KEYSTORETYPE: PKCS12}
    pin: {file: pin}
workers:
  - {name: Keep, id: 1, kind: PlainSigner, token: soft, key: k, properties: {AUTHTYPE: NOAUTH, ARCHIVERS: OldDatabaseArchiver, ARCHIVE_RETENTION: 2h}}
users:
  - {name: admin, roles: [admin], passwordHash: '%s'}
`, hash))
	do := func(method, path, id string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader("doc"))
		req.Header.Set("X-Request-ID", id)
		req.SetBasicAuth("admin", "secret")
		return send(t, http.DefaultClient, req)
	}
	if code, body := do("POST", "/signserver/worker/Keep", "doc-1"); code != 200 {
		t.Fatalf("sign: %d %s", code, body)
	}
	archived := func() bool {
		t.Helper()
		code, body := do("GET", "/admin/api/archive/doc-1", "")
		if code != 200 && code != 404 {
			t.Fatalf("archive: %d %s, want 200 or 404 (purged)", code, body)
		}
		var items []adminapi.ArchiveItem
		if code == 200 && (json.Unmarshal([]byte(body), &items) != nil || len(items) != 1 || items[0].Worker != "Keep" || items[0].ResponseSize <= 0) {
			t.Fatalf("archive: %s", body)
		}
		return code == 200
	}
	if !archived() {
		t.Fatal("the signature was not archived")
	}
	now := time.Now()
	for i, tt := range []struct {
		at   time.Time
		kept bool
	}{
		{now.Add(time.Hour), true},
		{now.Add(3 * time.Hour), false},
	} {
		s.purge <- tt.at
		s.events.wait(t, "archive purged", i+1)
		if got := archived(); got != tt.kept {
			t.Fatalf("purged as of %v: archived %v, want %v", tt.at.Sub(now), got, tt.kept)
		}
	}
	if code, body := do("GET", "/admin/api/audit?action=archive.&limit=100", ""); code != 200 || !strings.Contains(body, `"archive.purge"`) {
		t.Errorf("the purge is not in the audit log: %d %s", code, body)
	}
}
