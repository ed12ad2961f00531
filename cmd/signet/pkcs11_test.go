package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens/pkcs11"
	"github.com/signet-project/signet/workers"
)

const e2eLabel, e2ePIN = "signet-e2e", "1234"

// findSoftHSM returns the path of libsofthsm2.so, or "" and why it cannot
// be used (it or its tools are not installed).
func findSoftHSM() (module, whyNot string) {
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", tool + " is not installed: install softhsm2 and opensc, or run make test"
		}
	}
	candidates := []string{os.Getenv("SOFTHSM2_MODULE"), "/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"}
	for _, m := range candidates {
		if m == "" {
			continue
		}
		if _, err := os.Stat(m); err == nil {
			return m, ""
		}
	}
	return "", "libsofthsm2.so is not installed: install softhsm2, or run make test"
}

// softHSMModule returns the path of libsofthsm2.so, skipping tb when
// SoftHSM2 or its tools are not installed.
func softHSMModule(tb testing.TB) string {
	tb.Helper()
	m, why := findSoftHSM()
	if m == "" {
		tb.Skip(why)
	}
	return m
}

// makeSoftHSM makes a SoftHSM2 token labelled e2eLabel in dir with
// testdata/softhsm/make-tokens.sh, points SOFTHSM2_CONF at it, and returns
// the token's folder.
func makeSoftHSM(t *testing.T, module, dir string) string {
	return makeSoftHSMToken(t, module, dir, e2eLabel, e2ePIN)
}

// makeSoftHSMToken is makeSoftHSM with the token's label and PIN.
func makeSoftHSMToken(t *testing.T, module, dir, label, pin string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "softhsm", "make-tokens.sh")
	cmd := exec.Command(script, dir)
	cmd.Env = append(os.Environ(), "SIGNET_SOFTHSM_LABEL="+label, "SIGNET_SOFTHSM_PIN="+pin, "SOFTHSM2_MODULE="+module)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make-tokens.sh: %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	conf, ok := strings.CutPrefix(lines[len(lines)-1], "SOFTHSM2_CONF=")
	if !ok {
		t.Fatalf("make-tokens.sh printed %q, not the SOFTHSM2_CONF line", out)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	folders, err := os.ReadDir(filepath.Join(dir, "tokens"))
	if err != nil || len(folders) != 1 {
		t.Fatalf("token folders: %v %v", folders, err)
	}
	return filepath.Join(dir, "tokens", folders[0].Name())
}

// issueHSMCerts issues a certificate from ca for each alias of the SoftHSM2
// token and stores the chain in the token.
func issueHSMCerts(t testing.TB, module string, ca *demo.CA, aliases ...string) {
	t.Helper()
	ctx := context.Background()
	tok := pkcs11.New(pkcs11.Options{Name: "setup", Module: module, SlotType: pkcs11.SlotLabel, SlotValue: e2eLabel})
	defer tok.Close()
	if err := tok.Activate(ctx, e2ePIN); err != nil {
		t.Fatal(err)
	}
	for _, alias := range aliases {
		s, err := tok.Signer(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Issue("HSM signer "+alias, s.Public(), demo.DocumentSigning, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.ImportChain(ctx, alias, []*x509.Certificate{cert, ca.Cert}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPKCS11EndToEnd runs the server on a SoftHSM2 token: CMS and CAdES
// signatures with its RSA and ECDSA keys, single and batch, verify with
// openssl; when the token's files vanish the workers go OFFLINE and answer
// 503, and once they are back the token re-opens on its own and the
// workers sign again.
func TestPKCS11EndToEnd(t *testing.T) {
	module := softHSMModule(t)
	dir := t.TempDir()
	folder := makeSoftHSM(t, module, filepath.Join(dir, "softhsm"))
	ca, err := demo.NewCA("HSM CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, demo.PEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	aliases := []string{"rsa2048", "p256"}
	issueHSMCerts(t, module, ca, aliases...)

	var y strings.Builder
	fmt.Fprintf(&y, "tokens:\n  - name: hsm\n    type: pkcs11\n    properties: {SHAREDLIBRARYNAME: %s, SLOTLABELTYPE: SLOT_LABEL, SLOTLABELVALUE: %s, POOLSIZE: 4}\n    pin: {file: pin}\nworkers:\n", module, e2eLabel)
	id := 1
	for _, a := range aliases {
		for _, kind := range []string{"CMSSigner", "CAdESSigner"} {
			fmt.Fprintf(&y, "  - {name: %s-%s, id: %d, kind: %s, token: hsm, key: %s, properties: {AUTHTYPE: NOAUTH, ALLOW_DETACHEDSIGNATURE_OVERRIDE: true, ALLOW_CLIENTSIDEHASHING_OVERRIDE: true, ALLOW_BATCHSIGNING_OVERRIDE: true, ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256}}\n", kind, a, id, kind, a)
			id++
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pin"), []byte(e2ePIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "hsm.yaml")
	if err := os.WriteFile(cfgFile, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--config", cfgFile)

	docs := [][]byte{[]byte("first HSM document\n"), []byte("second\x00HSM document"), []byte("third")}
	for _, a := range aliases {
		for _, kind := range []string{"CMSSigner", "CAdESSigner"} {
			wn := kind + "-" + a
			cades := kind == "CAdESSigner"
			t.Run(wn+"/single", func(t *testing.T) {
				code, sig, body := s.postREST(t, wn, restRequest{Data: base64.StdEncoding.EncodeToString(docs[0]), Encoding: "BASE64",
					MetaData: map[string]string{"USING_BATCHSIGNING": "false", "DETACHEDSIGNATURE": "false"}})
				if code != http.StatusOK {
					t.Fatalf("status %d: %v", code, body)
				}
				checkSignature(t, sig, docs[0], false, caFile, cades, crypto.SHA256)
			})
			t.Run(wn+"/batch", func(t *testing.T) {
				sigs := hsmBatch(t, s, wn, docs)
				for i, sg := range sigs {
					checkSignature(t, sg.Signature, docs[i], true, caFile, cades, crypto.SHA256)
				}
			})
		}
	}
	if t.Failed() {
		return
	}

	// The token's files vanish: the workers go OFFLINE and answer 503.
	away := filepath.Join(dir, "away") // outside the token folder, which SoftHSM2 scans
	if err := os.Rename(folder, away); err != nil {
		t.Fatal(err)
	}
	restored := false
	defer func() {
		if !restored {
			os.Rename(away, folder)
		}
	}()
	const worker = "CAdESSigner-p256"
	code, body := pollStatus(t, s, worker, http.StatusServiceUnavailable, 20*time.Second)
	if !strings.Contains(string(body), "offline") {
		t.Fatalf("503 of a broken token says %q, want it offline", body)
	}
	health, hcode := healthCheck(t, s)
	if hcode == http.StatusOK || !strings.Contains(health, worker) {
		t.Fatalf("health with the token gone: %d %s, want %s offline", hcode, health, worker)
	}
	t.Logf("token gone: %d %s; health %d %s", code, body, hcode, health)

	// Repaired: the token re-opens on its own within its retry interval.
	if err := os.Rename(away, folder); err != nil {
		t.Fatal(err)
	}
	restored = true
	_, sig := pollStatus(t, s, worker, http.StatusOK, 30*time.Second)
	checkSignature(t, sig, []byte("doc"), false, caFile, true, crypto.SHA256)
	if health, hcode := healthCheck(t, s); hcode != http.StatusOK {
		t.Fatalf("health after repair: %d %s", hcode, health)
	}
	for _, sg := range hsmBatch(t, s, "CMSSigner-rsa2048", docs) {
		if sg.Signature == nil {
			t.Fatal("empty signature after repair")
		}
	}
}

// hsmBatch signs docs (hashed here) in one batch request of detached
// signatures and returns the signatures in order.
func hsmBatch(t *testing.T, s *server, worker string, docs [][]byte) []workers.BatchSignature {
	t.Helper()
	var req workers.BatchRequest
	for i, doc := range docs {
		d := sha256.Sum256(doc)
		req.SignatureRequests = append(req.SignatureRequests, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(d[:]), HashingAlgorithm: "SHA-256", CustomIdentifier: fmt.Sprint("doc", i)})
	}
	b, _ := json.Marshal(req)
	meta := map[string]string{"USING_BATCHSIGNING": "true", "USING_CLIENTSUPPLIED_HASH": "true", "DETACHEDSIGNATURE": "true"}
	code, body := s.postRaw(t, worker, bytes.NewReader(b), meta)
	if code != http.StatusOK {
		t.Fatalf("batch: %d %s", code, body)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(body, &br); err != nil {
		t.Fatalf("batch answer: %v: %s", err, body)
	}
	if len(br.Signatures) != len(docs) {
		t.Fatalf("%d signatures for %d documents", len(br.Signatures), len(docs))
	}
	for i, sg := range br.Signatures {
		if sg.CustomIdentifier != req.SignatureRequests[i].CustomIdentifier {
			t.Fatalf("item %d is %q", i, sg.CustomIdentifier)
		}
	}
	return br.Signatures
}

// pollStatus signs "doc" (attached) with worker until it answers code, at
// most for max, and returns the last answer.
func pollStatus(t *testing.T, s *server, worker string, code int, max time.Duration) (int, []byte) {
	t.Helper()
	meta := map[string]string{"USING_BATCHSIGNING": "false", "DETACHEDSIGNATURE": "false"}
	deadline := time.Now().Add(max)
	for {
		got, body := s.postRaw(t, worker, strings.NewReader("doc"), meta)
		if got == code {
			return got, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s answers %d %s, want %d", worker, got, body, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// healthCheck returns SignServer's health check answer.
func healthCheck(t *testing.T, s *server) (string, int) {
	t.Helper()
	resp, err := http.Get(s.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}
