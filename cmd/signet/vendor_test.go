package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/dsm/dsmtest"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
	"github.com/signet-project/signet/workers"
)

// vendorPassword is Signet A's demo password in the vendor tests.
const vendorPassword = "vendor-test-secret"

// signet is a Signet run in process on a data folder and address the test
// chooses, so that it can be stopped and started again on the same port.
type signet struct{ *server }

// runSignet launches signet serve --data data --listen listen args….
func runSignet(t testing.TB, data, listen string, args ...string) *signet {
	t.Helper()
	return &signet{launch(t, data, listen, args...)}
}

// metric reads one counter from the server's /metrics.
func (s *signet) metric(t *testing.T, name string) int64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// remoteConfig is Signet B's configuration: a dsm and a nethsm token on
// Signet A's demo key signer-p256, and a CAdES worker on each.
const remoteConfig = `tokens:
  - name: viadsm
    type: dsm
    properties:
      URL: %[1]s
      CABUNDLE: %[3]s
      USER: demo
      MAXBATCHSIZE: %[2]d
      CHAINDIR: chains
      TIMEOUT: 10s
    pin: {file: secret}
  - name: vianethsm
    type: nethsm
    properties:
      URL: %[1]s
      CABUNDLE: %[3]s
      USER: operator
      KEYIDS: signer-p256
      TIMEOUT: 10s
    pin: {file: secret}
workers:
  - name: DSMCAdES
    id: 1
    kind: CAdESSigner
    token: viadsm
    key: signer-p256
    properties: &props
      AUTHTYPE: NOAUTH
      DETACHEDSIGNATURE: true
      CLIENTSIDEHASHING: true
      BATCHSIGNING: true
      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256
  - name: NetHSMCAdES
    id: 2
    kind: CAdESSigner
    token: vianethsm
    key: signer-p256
    properties: *props
`

// demoData returns a new data folder whose demo password is password, as
// $SIGNET_DEMO_PASSWORD would choose it at first start; the environment,
// which parallel tests share, is left alone.
func demoData(t testing.TB, password string) string {
	t.Helper()
	dir := t.TempDir()
	f := demo.FilesIn(dir)
	if _, err := demo.EnsurePassword(f.PasswordHash, f.PasswordFile, password); err != nil {
		t.Fatal(err)
	}
	return dir
}

// vendorPair starts Signet A (demo configuration, serving the DSM and
// NetHSM APIs) and Signet B whose workers sign through A.
func vendorPair(t testing.TB, maxBatch int) (a, b *signet) {
	t.Helper()
	a = runSignet(t, demoData(t, vendorPassword), "127.0.0.1:0")
	// A's password as A keeps it: $SIGNET_DEMO_PASSWORD, which make bench
	// sets for the whole benchmark process, wins over demoData's.
	pw, err := os.ReadFile(demo.FilesIn(a.data).PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(pw))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "chains"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The DSM API holds no certificates: B reads the chain from a file,
	// here A's certificate of the key as the NetHSM API serves it.
	req, _ := http.NewRequest(http.MethodGet, a.url+"/api/v1/keys/signer-p256/cert", nil)
	req.SetBasicAuth("operator", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET cert: %d %s", resp.StatusCode, chain)
	}
	files := map[string]string{
		"chains/signer-p256.pem": string(chain),
		"secret":                 password + "\n",
		"signet.yaml":            fmt.Sprintf(remoteConfig, a.url, maxBatch, filepath.Join(a.data, "demo-ca.pem")),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b = runSignet(t, filepath.Join(dir, "data"), "127.0.0.1:0", "--config", filepath.Join(dir, "signet.yaml"))
	return a, b
}

// vendorDocs returns n distinct documents.
func vendorDocs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "document %d of the remote batch\n", i)
	}
	return out
}

// postBatch sends docs' SHA-256 digests as one SignServer batch to worker.
func postBatch(t testing.TB, s *signet, worker string, docs [][]byte) (int, []byte) {
	return postBatchMeta(t, s, worker, docs, nil)
}

// postBatchMeta is postBatch with request metadata.
func postBatchMeta(t testing.TB, s *signet, worker string, docs [][]byte, meta map[string]string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(workerURL(s.url, worker, meta), "application/json", bytes.NewReader(hashBatchBody(docs)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// remoteBatch sends docs' SHA-256 digests as one SignServer batch to worker
// and returns the signatures in order.
func remoteBatch(t testing.TB, s *signet, worker string, docs [][]byte) [][]byte {
	t.Helper()
	code, raw := postBatch(t, s, worker, docs)
	if code != http.StatusOK {
		t.Fatalf("batch to %s: %d %s", worker, code, raw)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.Signatures) != len(docs) {
		t.Fatalf("%d signatures for %d documents", len(br.Signatures), len(docs))
	}
	sigs := make([][]byte, len(docs))
	for i, sg := range br.Signatures {
		if sg.CustomIdentifier != strconv.Itoa(i) {
			t.Fatalf("signature %d is for item %q", i, sg.CustomIdentifier)
		}
		sigs[i] = sg.Signature
	}
	return sigs
}

// opensslSample is how many signatures of a large batch openssl checks;
// Signet's own verifier checks every one.
const opensslSample = 16

// verifyBatch checks every detached CAdES signature of a batch: each with
// Signet's own verifier (the signature over its document, the
// signing-certificate-v2 attribute, a path from the signer to the CA), and
// an even sample of them, the first and last included, with openssl cms
// -verify -cades (one process per signature costs about 20 ms of CPU, so
// openssl on all of a 1000-item batch took most of this package's time).
func verifyBatch(t *testing.T, sigs, docs [][]byte, caFile string) {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	for i := range sigs {
		if err := verifyCAdES(sigs[i], docs[i], roots); err != nil {
			t.Fatalf("signature %d: %v", i, err)
		}
	}
	last := -1
	for k := range opensslSample {
		i := k * (len(sigs) - 1) / (opensslSample - 1) // 0 … len(sigs)-1
		if i == last {
			continue
		}
		last = i
		if err := opensslVerify(t, sigs[i], docs[i], caFile, true); err != nil {
			t.Fatalf("openssl cms -verify -cades rejects signature %d: %v", i, err)
		}
	}
	// The checks can fail: a signature over another document is refused.
	if err := verifyCAdES(sigs[0], docs[1], roots); err == nil {
		t.Fatal("Signet's verifier accepts signature 0 over document 1")
	}
	if err := opensslVerify(t, sigs[0], docs[1], caFile, true); err == nil {
		t.Fatal("openssl accepts signature 0 over document 1")
	}
}

// verifyCAdES checks a detached CAdES signature of doc with Signet's own
// verifier and its signer's certificate path to roots.
func verifyCAdES(sig, doc []byte, roots *x509.CertPool) error {
	sd, err := cms.Parse(sig)
	if err != nil {
		return err
	}
	if sd.Content != nil || len(sd.Signers) != 1 || !sd.Signers[0].HasSigningCertificateV2 {
		return fmt.Errorf("not a detached CAdES signature with one signer and signing-certificate-v2")
	}
	if err := sd.Verify(bytes.NewReader(doc)); err != nil {
		return err
	}
	cert, err := sd.SignerCertificate(0)
	if err != nil {
		return err
	}
	inter := x509.NewCertPool()
	for _, c := range sd.Certificates {
		inter.AddCert(c)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// TestRemoteTokensBatch signs a 1000-item CAdES batch on Signet B through
// a dsm and a nethsm token pointing at Signet A, verifies every signature
// (Signet's verifier on all, openssl on a sample), and checks A's call counters: ceil(1000/max batch size)
// DSM batch calls, 1000 NetHSM sign calls.
func TestRemoteTokensBatch(t *testing.T) {
	t.Parallel()
	const n, maxBatch = 1000, 128
	a, b := vendorPair(t, maxBatch)
	ds := vendorDocs(n)
	ca := filepath.Join(a.data, "demo-ca.pem")

	before := a.metric(t, "signet_dsm_batch_calls_total")
	start := time.Now()
	sigs := remoteBatch(t, b, "DSMCAdES", ds)
	t.Logf("dsm: %d items in %v", n, time.Since(start))
	if got, want := a.metric(t, "signet_dsm_batch_calls_total")-before, int64((n+maxBatch-1)/maxBatch); got != want {
		t.Errorf("A served %d DSM batch calls for %d items, want %d", got, n, want)
	}
	verifyBatch(t, sigs, ds, ca)

	before = a.metric(t, "signet_nethsm_sign_calls_total")
	start = time.Now()
	sigs = remoteBatch(t, b, "NetHSMCAdES", ds)
	t.Logf("nethsm: %d items in %v", n, time.Since(start))
	if got := a.metric(t, "signet_nethsm_sign_calls_total") - before; got != n {
		t.Errorf("A served %d NetHSM sign calls for %d items, want %d", got, n, n)
	}
	verifyBatch(t, sigs, ds, ca)
}

// TestRemoteTokensRecover stops Signet A: B's remote workers answer 503
// and are OFFLINE in B's health check; A starts again on the same port and
// B's workers come back on their own.
func TestRemoteTokensRecover(t *testing.T) {
	t.Parallel()
	a, b := vendorPair(t, 100)
	ds := vendorDocs(3)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		remoteBatch(t, b, w, ds)
	}
	addr := strings.TrimPrefix(a.url, "https://")
	a.stop(t)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		code, body := postBatch(t, b, w, ds)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("%s with A stopped: %d %s, want 503", w, code, body)
		}
	}
	resp, err := http.Get(b.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	health, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(health), `"viadsm" is offline`) || !strings.Contains(string(health), `"vianethsm" is offline`) {
		t.Fatalf("B's health with A stopped: %d %s", resp.StatusCode, health)
	}
	t.Logf("B's health with A stopped: %d %s", resp.StatusCode, health)

	runSignet(t, a.data, addr)
	// B's tokens probe A again once their probe interval (5 s) has passed
	// on B's clock, which the test moves on instead of waiting.
	b.clock.Advance(time.Minute)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		if code, body := postBatch(t, b, w, ds); code != http.StatusOK {
			t.Fatalf("%s after A restarted and a probe is due: %d %s", w, code, body)
		}
	}
	resp, err = http.Get(b.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	health, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("B's health after A restarted: %d %s", resp.StatusCode, health)
	}
}

// vendorClient sends requests with basic credentials through a validating
// transport.
type vendorClient struct {
	t    *testing.T
	base string
	rt   http.RoundTripper
}

// do sends a request and returns the status and body. auth is "user:pass",
// "Bearer token" or empty.
func (c vendorClient) do(method, path, auth, accept string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if user, pass, ok := strings.Cut(auth, ":"); ok {
		req.SetBasicAuth(user, pass)
	}
	resp, err := (&http.Client{Transport: c.rt}).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// demoWithLimitedUser bootstraps the demo configuration with one more user,
// limited, that may use signer-rsa3072 only, and serves it.
func demoWithLimitedUser(t *testing.T) (*signet, demo.Files) {
	t.Helper()
	files := bootstrapDemoIn(t, demoData(t, vendorPassword), nil, "  - name: limited\n    roles: [dsm, operator]\n    passwordHash: {file: demo-password.bcrypt}\n    keys: [signer-rsa3072]\n")
	return runSignet(t, files.Dir, "127.0.0.1:0", "--config", files.Config), files
}

// demoPublicKeys reads the demo signer certificates' public keys, as the
// demo user operator with password.
func demoPublicKeys(t *testing.T, c vendorClient, password string) map[string]crypto.PublicKey {
	t.Helper()
	out := map[string]crypto.PublicKey{}
	for _, alias := range []string{"signer-p256", "signer-rsa3072"} {
		code, body := c.do(http.MethodGet, "/api/v1/keys/"+alias+"/cert", "operator:"+password, "application/octet-stream", nil)
		if code != http.StatusOK {
			t.Fatalf("GET cert of %s: %d %s", alias, code, body)
		}
		p, _ := pem.Decode(body)
		if p == nil {
			t.Fatalf("cert of %s is not PEM", alias)
		}
		cert, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out[alias] = cert.PublicKey
	}
	return out
}

// TestDSMAPIOnDemo checks the DSM-compatible API as the demo serves it,
// validating every exchange against dsm-batch-sign.json: session auth, key
// listing, a mixed batch whose items each get their own status in order
// (the valid ones verify with the standard library), and 403 for a key the
// user may not use.
func TestDSMAPIOnDemo(t *testing.T) {
	t.Parallel()
	spec := dsmtest.LoadSpec(t)
	a, _ := demoWithLimitedUser(t)
	tr := apitest.NewTransport(spec, nil)
	c := vendorClient{t: t, base: a.url, rt: tr}
	nc := vendorClient{t: t, base: a.url, rt: http.DefaultTransport}
	pubs := demoPublicKeys(t, nc, vendorPassword)

	code, body := c.do(http.MethodPost, "/sys/v1/session/auth", "demo:wrong", "", nil)
	if code != http.StatusUnauthorized {
		t.Fatalf("auth with a wrong secret: %d %s", code, body)
	}
	code, body = c.do(http.MethodPost, "/sys/v1/session/auth", "demo:"+vendorPassword, "", nil)
	var sess struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &sess) != nil || sess.AccessToken == "" || sess.ExpiresIn <= 0 {
		t.Fatalf("session auth: %d %s", code, body)
	}
	bearer := "Bearer " + sess.AccessToken

	code, body = c.do(http.MethodGet, "/crypto/v1/keys", bearer, "", nil)
	var keys []struct {
		Kid     string `json:"kid"`
		Name    string `json:"name"`
		ObjType string `json:"obj_type"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &keys) != nil {
		t.Fatalf("GET /crypto/v1/keys: %d %s", code, body)
	}
	want := map[string]string{"signer-p256": "EC", "signer-rsa3072": "RSA"}
	kids := map[string]string{}
	for _, k := range keys {
		if want[k.Name] != k.ObjType || k.Kid != dsm.KeyID("demo", k.Name) {
			t.Errorf("key %+v: want obj_type %q and kid %s", k, want[k.Name], dsm.KeyID("demo", k.Name))
		}
		kids[k.Name] = k.Kid
	}
	if len(keys) != len(want) {
		t.Fatalf("GET /crypto/v1/keys lists %d keys, want %d: %s", len(keys), len(want), body)
	}

	d1, d2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	b64 := base64.StdEncoding.EncodeToString
	pss := map[string]any{"PSS": map[string]any{"mgf": map[string]any{"mgf1": map[string]any{"hash": "SHA256"}}}}
	items := []map[string]any{
		{"key": map[string]any{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": b64(d1[:])},
		{"key": map[string]any{"name": "no-such-key"}, "hash_alg": "SHA256", "hash": b64(d1[:])},
		{"key": map[string]any{"kid": kids["signer-rsa3072"]}, "hash_alg": "SHA256", "hash": b64(d1[:]), "data": b64([]byte("one"))},
		{"key": map[string]any{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": "%%not base64%%"},
		{"key": map[string]any{"name": "signer-p256"}, "hash_alg": "SHA256", "hash": b64(d1[:20])},
		{"key": map[string]any{"kid": kids["signer-rsa3072"]}, "hash_alg": "SHA256", "data": b64([]byte("two")), "mode": pss},
		{"key": map[string]any{"name": "signer-rsa3072"}, "hash_alg": "SHA256", "hash": b64(d2[:]), "mode": map[string]any{"PKCS1_V15": map[string]any{}}},
	}
	verify := map[int]func([]byte) bool{
		0: func(sig []byte) bool { return ecdsa.VerifyASN1(pubs["signer-p256"].(*ecdsa.PublicKey), d1[:], sig) },
		5: func(sig []byte) bool {
			return rsa.VerifyPSS(pubs["signer-rsa3072"].(*rsa.PublicKey), crypto.SHA256, d2[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		},
		6: func(sig []byte) bool {
			return rsa.VerifyPKCS1v15(pubs["signer-rsa3072"].(*rsa.PublicKey), crypto.SHA256, d2[:], sig) == nil
		},
	}
	wantStatus := []int{200, 404, 400, 400, 400, 200, 200}
	// invalid checks the exchanges of requests the test made invalid on
	// purpose: the request breaks the description, the answer keeps it.
	invalid := func(what string) {
		t.Helper()
		for _, ex := range tr.Exchanges() {
			if ex.RequestErr == nil {
				t.Errorf("%s: the request conforms to the DSM API, want it not to", what)
			}
			if ex.ResponseErr != nil {
				t.Errorf("%s: %d response does not conform to the DSM API: %v", what, ex.Status, ex.ResponseErr)
			}
		}
	}
	tr.RequireValid(t)
	for _, auth := range []string{bearer, "demo:" + vendorPassword} {
		code, body = c.do(http.MethodPost, "/crypto/v1/keys/batch/sign", auth, "", items)
		for _, ex := range tr.Exchanges() {
			if ex.RequestErr == nil || !strings.Contains(ex.RequestErr.Error(), `Error at "/3"`) {
				t.Errorf("mixed batch: want the request check to refuse item 3 (bad base64) only, got %v", ex.RequestErr)
			}
			if ex.ResponseErr != nil || !ex.Validated {
				t.Errorf("mixed batch: %d response does not conform to the DSM API: %v", ex.Status, ex.ResponseErr)
			}
		}
		var res []struct {
			Status int `json:"status"`
			Body   *struct {
				Kid       string `json:"kid"`
				Signature []byte `json:"signature"`
			} `json:"body"`
			Error string `json:"error"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res) != len(items) {
			t.Fatalf("batch sign: %d %s", code, body)
		}
		for i, r := range res {
			if r.Status != wantStatus[i] {
				t.Errorf("item %d: status %d (%s), want %d", i, r.Status, r.Error, wantStatus[i])
				continue
			}
			if r.Status != 200 {
				if r.Error == "" {
					t.Errorf("item %d: status %d without an error message", i, r.Status)
				}
				continue
			}
			if r.Body == nil || !verify[i](r.Body.Signature) {
				t.Errorf("item %d: the signature does not verify", i)
			}
		}
	}
	// limited may use signer-rsa3072 only: 403 for signer-p256, and the
	// listing leaves it out.
	code, body = c.do(http.MethodPost, "/crypto/v1/keys/batch/sign", "limited:"+vendorPassword, "", items[5:7:7][:1:1])
	if code != http.StatusOK || !strings.Contains(string(body), `"status":200`) {
		t.Fatalf("limited user on signer-rsa3072: %d %s", code, body)
	}
	code, body = c.do(http.MethodPost, "/crypto/v1/keys/batch/sign", "limited:"+vendorPassword, "", items[:1])
	if code != http.StatusOK || !strings.Contains(string(body), `"status":403`) {
		t.Fatalf("limited user on signer-p256: %d %s, want item status 403", code, body)
	}
	code, body = c.do(http.MethodGet, "/crypto/v1/keys", "limited:"+vendorPassword, "", nil)
	if code != http.StatusOK || strings.Contains(string(body), "signer-p256") || !strings.Contains(string(body), "signer-rsa3072") {
		t.Fatalf("limited user's key list: %d %s, want signer-rsa3072 only", code, body)
	}
	// One item through /crypto/v1/sign, and its signature through
	// /crypto/v1/verify.
	signs := a.metric(t, "signet_dsm_sign_calls_total")
	code, body = c.do(http.MethodPost, "/crypto/v1/sign", bearer, "", items[5])
	if n := a.metric(t, "signet_dsm_sign_calls_total") - signs; n != 1 {
		t.Errorf("signet_dsm_sign_calls_total rose by %d for one single sign, want 1", n)
	}
	var one struct {
		Kid       string `json:"kid"`
		Signature []byte `json:"signature"`
	}
	d3 := sha256.Sum256([]byte("two"))
	if code != http.StatusOK || json.Unmarshal(body, &one) != nil || one.Kid != kids["signer-rsa3072"] ||
		rsa.VerifyPSS(pubs["signer-rsa3072"].(*rsa.PublicKey), crypto.SHA256, d3[:], one.Signature, nil) != nil {
		t.Fatalf("single sign: %d %s: want a PSS signature that verifies", code, body)
	}
	for _, v := range []struct {
		sig  []byte
		want string
	}{{one.Signature, `"result":true`}, {d3[:], `"result":false`}} {
		req := map[string]any{"signature": b64(v.sig)}
		for k, x := range items[5] {
			req[k] = x
		}
		if code, body = c.do(http.MethodPost, "/crypto/v1/verify", bearer, "", req); code != http.StatusOK || !strings.Contains(string(body), v.want) {
			t.Errorf("verify: %d %s, want %s", code, body, v.want)
		}
	}
	validated := tr.RequireValid(t)
	code, body = c.do(http.MethodPost, "/crypto/v1/keys/batch/sign", "", "", items[:1])
	if code != http.StatusUnauthorized {
		t.Fatalf("batch sign without credentials: %d %s", code, body)
	}
	invalid("no credentials")
	if validated == 0 {
		t.Fatal("no exchange was validated against the DSM API description")
	}
}

// TestNetHSMAPIOnDemo checks the NetHSM-compatible API as the demo serves
// it, validating every exchange against nethsm-api.yaml, and verifies its
// signatures with the standard library in each mode the demo keys have.
func TestNetHSMAPIOnDemo(t *testing.T) {
	t.Parallel()
	spec := nethsmtest.LoadSpec(t)
	a, _ := demoWithLimitedUser(t)
	tr := apitest.NewTransport(spec, nil)
	c := vendorClient{t: t, base: a.url, rt: tr}
	op := "operator:" + vendorPassword
	pubs := demoPublicKeys(t, c, vendorPassword)

	// The operator's keys: list names the two signer keys: the list offers
	// those, not tsa-p256, which it may not use.
	code, body := c.do(http.MethodGet, "/api/v1/keys", op, "application/json", nil)
	if code != http.StatusOK || string(body) != `[{"id":"signer-p256"},{"id":"signer-rsa3072"}]`+"\n" {
		t.Fatalf("GET /keys: %d %s", code, body)
	}
	if code, body := c.do(http.MethodGet, "/api/v1/keys/tsa-p256", op, "application/json", nil); code != http.StatusForbidden {
		t.Errorf("GET /keys/tsa-p256: %d %s, want 403", code, body)
	}
	// Unknown paths and methods are NetHSM answers too (no description to
	// check them against: sent around the validating transport).
	plain := vendorClient{t: t, base: a.url, rt: http.DefaultTransport}
	for _, r := range []struct {
		method, path string
		want         int
	}{{http.MethodGet, "/api/v1/nope", 404}, {http.MethodDelete, "/api/v1/keys", 405}} {
		code, body := plain.do(r.method, r.path, op, "", nil)
		var m struct{ Message string }
		if code != r.want || json.Unmarshal(body, &m) != nil || m.Message == "" {
			t.Errorf("%s %s: %d %s, want %d with {\"message\"}", r.method, r.path, code, body, r.want)
		}
	}
	for _, p := range []string{"/keys/signer-p256", "/keys/signer-rsa3072/public.pem", "/health/ready", "/health/state", "/info"} {
		accept := "application/json"
		if strings.HasSuffix(p, ".pem") {
			accept = "application/x-pem-file"
		}
		if code, body := c.do(http.MethodGet, "/api/v1"+p, op, accept, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}

	msg := []byte("NetHSM on the demo")
	d := sha256.Sum256(msg)
	digestInfo := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, d[:]...)
	rsaPub, ecPub := pubs["signer-rsa3072"].(*rsa.PublicKey), pubs["signer-p256"].(*ecdsa.PublicKey)
	modes := []struct {
		key, mode string
		input     []byte
		verify    func([]byte) bool
	}{
		{"signer-rsa3072", "PKCS1", digestInfo, func(s []byte) bool { return rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, d[:], s) == nil }},
		{"signer-rsa3072", "PSS_SHA256", d[:], func(s []byte) bool {
			return rsa.VerifyPSS(rsaPub, crypto.SHA256, d[:], s, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		}},
		{"signer-p256", "ECDSA", d[:], func(s []byte) bool { return ecdsa.VerifyASN1(ecPub, d[:], s) }},
	}
	for _, m := range modes {
		code, body := c.do(http.MethodPost, "/api/v1/keys/"+m.key+"/sign", op, "application/json", map[string]string{"mode": m.mode, "message": base64.StdEncoding.EncodeToString(m.input)})
		var out struct {
			Signature []byte `json:"signature"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &out) != nil || !m.verify(out.Signature) {
			t.Errorf("%s %s: %d %s: the signature does not verify", m.key, m.mode, code, body)
		}
	}
	sign := map[string]string{"mode": "ECDSA", "message": base64.StdEncoding.EncodeToString(d[:])}
	errs := []struct {
		name, path, auth string
		body             any
		want             int
	}{
		{"wrong passphrase", "/keys/signer-p256/sign", "operator:wrong", sign, 401},
		{"DSM user is no operator", "/keys/signer-p256/sign", "demo:" + vendorPassword, sign, 403}, // who they are is proven: 403 names the role
		{"key not allowed", "/keys/signer-p256/sign", "limited:" + vendorPassword, sign, 403},
		{"unknown key", "/keys/nokey/sign", op, sign, 404},
		{"extra property", "/keys/signer-p256/sign", op, map[string]string{"mode": "ECDSA", "message": sign["message"], "extra": "x"}, 400},
		{"mode of another key type", "/keys/signer-p256/sign", op, map[string]string{"mode": "PSS_SHA256", "message": sign["message"]}, 400},
	}
	for _, e := range errs {
		code, body := c.do(http.MethodPost, "/api/v1"+e.path, e.auth, "application/json", e.body)
		var msg struct {
			Message string `json:"message"`
		}
		if code != e.want || json.Unmarshal(body, &msg) != nil || msg.Message == "" {
			t.Errorf("%s: %d %s, want %d with a message", e.name, code, body, e.want)
		}
	}
	if code, body := c.do(http.MethodPost, "/api/v1/keys/signer-p256/sign", op, "text/plain", sign); code != http.StatusNotAcceptable {
		t.Errorf("Accept text/plain: %d %s, want 406", code, body)
	}
	// The audit row of a refused client holds its claimed name and path
	// cut by clienttext (MaxRow): 20 kB each were written whole.
	long := strings.Repeat("x", 20000)
	a.clock.Advance(time.Second) // a second of its own for the refusal's row
	if code, _ := plain.do(http.MethodPost, "/api/v1/keys/"+long+"/sign", long+":guess", "application/json", sign); code != http.StatusUnauthorized {
		t.Errorf("a long user name and path: %d, want 401", code)
	}
	var page admin.AuditPage
	adminGet(t, a.url, vendorPassword, "/audit?action=access.refused&limit=1000", &page)
	if n := len(page.Entries); n == 0 || !strings.HasPrefix(page.Entries[n-1].Actor, "xxx") {
		t.Errorf("the refusal of a long user name was not audited: %+v", page.Entries)
	} else if last := page.Entries[n-1]; len(last.Actor) > 1100 || len(last.Details["request"]) > 1100 {
		t.Errorf("the audit row holds the client's text whole: actor %d, request %d bytes", len(last.Actor), len(last.Details["request"]))
	}
	tr.RequireValid(t)
}

// benchRemoteBatch measures 1000-item CAdES batches (SHA-256 digests, one
// HTTP request each) on worker: on Signet B through a remote token when
// direct is false, or on Signet A's demo CAdESSigner over the same soft
// P-256 key when it is true.
func benchRemoteBatch(b *testing.B, worker string, direct bool) {
	const n = 1000
	a, sb := vendorPair(b, 100)
	target, meta := sb, map[string]string(nil)
	if direct {
		target, worker = a, "CAdESSigner"
		meta = map[string]string{"USING_BATCHSIGNING": "true", "USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}
	}
	ds := vendorDocs(n)
	if code, body := postBatchMeta(b, target, worker, ds[:10], meta); code != http.StatusOK { // warm up
		b.Fatalf("%s: %d %s", worker, code, body)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if code, body := postBatchMeta(b, target, worker, ds, meta); code != http.StatusOK {
			b.Fatalf("%s: %d %s", worker, code, body)
		}
	}
	reportItems(b, n, cpu0) // both Signets and the client are in this process
}

// BenchmarkSuite_batchDSM_P256 signs 1000-item CAdES batches through a dsm
// token pointing at an in-process Signet serving the DSM API over a soft
// P-256 key (batches of 100 items).
func BenchmarkSuite_batchDSM_P256(b *testing.B) { benchRemoteBatch(b, "DSMCAdES", false) }

// BenchmarkSuite_batchDSM_P256_baseline signs the same batches with a worker
// on the soft key itself.
func BenchmarkSuite_batchDSM_P256_baseline(b *testing.B) { benchRemoteBatch(b, "", true) }

// BenchmarkSuite_batchNetHSMP256 signs 1000-item CAdES batches through a
// nethsm token (one sign call per item) pointing at an in-process Signet
// serving the NetHSM API over a soft P-256 key.
func BenchmarkSuite_batchNetHSMP256(b *testing.B) { benchRemoteBatch(b, "NetHSMCAdES", false) }

// BenchmarkSuite_batchNetHSMP256_baseline signs the same batches with a
// worker on the soft key itself.
func BenchmarkSuite_batchNetHSMP256_baseline(b *testing.B) { benchRemoteBatch(b, "", true) }
