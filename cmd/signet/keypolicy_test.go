package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/internal/demo"
	adminapi "github.com/signet-project/signet/web/admin"
)

// keyPolicyConfig serves the demo keystore over the demo's HTTPS
// certificate with the TSA key tsa-p256 limited to %d signatures in its
// token's keys section: the TimeStampSigner, a PlainSigner, the DSM API
// (user app) and the NetHSM API (user op) all sign with it.
const keyPolicyConfig = `server:
  tls: {cert: tls.pem, key: tls.key}
tokens:
  - name: demo
    type: soft
    properties: {KEYSTOREPATH: keystore, KEYSTORETYPE: PKCS12}
    pin: {file: keystore.pin}
    keys:
      tsa-p256: {KEYUSAGELIMIT: %d}
workers:
  - name: TSA
    id: 1
    kind: TimeStampSigner
    token: demo
    key: tsa-p256
    properties: {AUTHTYPE: NOAUTH, DEFAULTTSAPOLICYOID: 1.2.3.4.1, ACCEPTEDALGORITHMS: SHA256}
  - name: Plain
    id: 2
    kind: PlainSigner
    token: demo
    key: tsa-p256
    properties: {AUTHTYPE: NOAUTH, SIGNATUREALGORITHM: SHA256withECDSA}
users:
  - {name: admin, roles: [admin], passwordHash: '%[2]s'}
  - {name: op, roles: [operator], passwordHash: '%[2]s'}
  - {name: app, roles: [dsm], passwordHash: '%[2]s'}
`

// TestKeyUsageLimitEverySurface: a key with KEYUSAGELIMIT N signs exactly N
// times across the worker endpoint, the TSA, the DSM API and the NetHSM API
// under concurrent clients, still refuses after a restart, and the signing
// log holds every one of the N signatures and the refusals.
func TestKeyUsageLimitEverySurface(t *testing.T) {
	t.Parallel()
	const limit = 40
	data := t.TempDir()
	if _, _, err := demo.Bootstrap(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	cfg := filepath.Join(data, "limited.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, keyPolicyConfig, limit, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--data", data, "--config", cfg)
	if !strings.HasPrefix(s.url, "https://") {
		t.Fatalf("the server listens on %s, want HTTPS", s.url)
	}

	surfaces := []struct {
		name string
		sign func(i int) (int, string)
	}{
		{"worker", func(i int) (int, string) {
			return post(t, s.url+"/signserver/worker/Plain", "", "application/octet-stream", fmt.Appendf(nil, "document %d", i))
		}},
		{"tsa", func(i int) (int, string) {
			d := sha256.Sum256(fmt.Appendf(nil, "stamp %d", i))
			q, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: d[:], Certificates: true}).Marshal()
			code, body := post(t, s.url+"/signserver/worker/TSA", "", "application/timestamp-query", q)
			if code == http.StatusOK {
				resp, err := timestamp.ParseResponse([]byte(body))
				if err != nil { // a rejection (granted=false) is not a signature
					return http.StatusServiceUnavailable, err.Error()
				}
				_ = resp
			}
			return code, body
		}},
		{"dsm", func(i int) (int, string) {
			d := sha256.Sum256(fmt.Appendf(nil, "dsm %d", i))
			items := []map[string]any{{"key": map[string]any{"name": "tsa-p256"}, "hash_alg": "SHA256", "hash": base64.StdEncoding.EncodeToString(d[:])}}
			b, _ := json.Marshal(items)
			code, body := post(t, s.url+"/crypto/v1/keys/batch/sign", "app:pw", "application/json", b)
			if code != http.StatusOK {
				return code, body
			}
			var out []struct {
				Status int `json:"status"`
			}
			if json.Unmarshal([]byte(body), &out) != nil || len(out) != 1 {
				return 500, body
			}
			return out[0].Status, body
		}},
		{"nethsm", func(i int) (int, string) {
			d := sha256.Sum256(fmt.Appendf(nil, "nethsm %d", i))
			b, _ := json.Marshal(map[string]string{"mode": "ECDSA", "message": base64.StdEncoding.EncodeToString(d[:])})
			return post(t, s.url+"/api/v1/keys/tsa-p256/sign", "op:pw", "application/json", b)
		}},
	}
	var signed atomic.Int64
	perSurface := make([]atomic.Int64, len(surfaces))
	var wg sync.WaitGroup
	for c := range 8 { // 8 concurrent clients, each on every surface in turn
		wg.Go(func() {
			for i := c; i < 4*limit; i += 8 {
				k := i % len(surfaces)
				code, body := surfaces[k].sign(i)
				switch {
				case code == http.StatusOK:
					signed.Add(1)
					perSurface[k].Add(1)
				case code == http.StatusServiceUnavailable || code == http.StatusForbidden || code == http.StatusPreconditionFailed:
					// the limit (NetHSM says 403), or an OFFLINE worker
				default:
					t.Errorf("%s: %d %s", surfaces[k].name, code, body)
				}
			}
		})
	}
	wg.Wait()
	if signed.Load() != limit {
		t.Fatalf("%d signatures across the surfaces, want exactly KEYUSAGELIMIT %d", signed.Load(), limit)
	}
	for k := range surfaces {
		if perSurface[k].Load() == 0 {
			t.Errorf("surface %s made no signature: the test does not mix the surfaces", surfaces[k].name)
		}
	}

	// After a restart the key stays at its limit, on every surface.
	s.stop(t)
	s = startServer(t, "--data", data, "--config", cfg)
	for _, sf := range surfaces {
		if code, body := sf.sign(1000); code == http.StatusOK {
			t.Fatalf("%s signed after a restart past the limit: %s", sf.name, body)
		}
	}

	// The signing log: every signature, and the refusals after.
	code, body := get(t, s.url+"/admin/api/signlog?key=demo/tsa-p256&limit=1000", "admin:pw")
	if code != http.StatusOK {
		t.Fatalf("signlog: %d %s", code, body)
	}
	var page adminapi.SignLogPage
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatal(err)
	}
	var logged, refused int
	seen := map[string]bool{}
	for _, r := range page.Records {
		seen[strings.SplitN(r.Surface, "/", 2)[0]] = true
		if r.Result == "ok" {
			logged += len(r.Hashes)
			if r.KeyID == "" || r.Client == "" || r.RequestID == "" || r.DigestAlg != "SHA-256" {
				t.Errorf("incomplete record %+v", r)
			}
			continue
		}
		if strings.Contains(r.Result, "usage limit") {
			refused++
		}
	}
	if logged != limit || refused < len(surfaces) {
		t.Fatalf("the signing log holds %d signatures and %d limit refusals, want %d and at least %d", logged, refused, limit, len(surfaces))
	}
	for _, want := range []string{"worker", "dsm", "nethsm"} {
		if !seen[want] {
			t.Errorf("no signing log record of surface %s (seen %v)", want, seen)
		}
	}
	// Found by the hash it signed.
	d := sha256.Sum256([]byte("nethsm 1000"))
	code, body = get(t, s.url+"/admin/api/signlog?hash="+fmt.Sprintf("%x", d), "admin:pw")
	if code != http.StatusOK || !strings.Contains(body, `"surface":"nethsm"`) || !strings.Contains(body, `"user":"op"`) {
		t.Fatalf("signlog by hash: %d %s", code, body)
	}
}

func post(t *testing.T, url, auth, ctype string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	if u, p, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(u, p)
	}
	return do(t, req)
}

func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if u, p, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(u, p)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
