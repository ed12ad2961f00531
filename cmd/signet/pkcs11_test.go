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
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/softhsmtest"
	"github.com/signet-project/signet/tokens/pkcs11"
	"github.com/signet-project/signet/workers"
)

const e2eLabel, e2ePIN = "signet-e2e", "1234"

// importLabel is the token of TestImportSignServerServes: the label its
// SignServer property file names.
const importLabel = "signet-import"

// hsmTokens are the SoftHSM2 tokens of this test binary, one for each test
// that uses SoftHSM2, so that what one test does to its token (break it,
// generate keys, store chains) is not seen by another.
var hsmTokens = []struct{ label, pin string }{
	{e2eLabel, e2ePIN},                   // TestPKCS11EndToEnd
	{importLabel, e2ePIN},                // TestImportSignServerServes
	{adminTestHSMLabel, adminTestHSMPIN}, // TestAdminKeyLifecycle
}

// testHSM is this test binary's SoftHSM2 folder. SoftHSM2 reads
// SOFTHSM2_CONF once per process, so TestMain points it at this one folder
// for the whole process (setupSoftHSM), and the tokens of hsmTokens are made
// in it by the first test that needs SoftHSM2, before any test loads the
// module.
var testHSM struct {
	dir    string // set by TestMain
	once   sync.Once
	module string
	err    error
	folder map[string]string // token label → its folder under dir/tokens
	// mu is held for writing by a test that breaks its token: while one
	// token of a module is broken, the module may fail to open the others,
	// and it recovers only once every token of the process on it is closed
	// (see tokens/pkcs11). Tests that only use their own token hold it for
	// reading, and run alongside each other.
	mu sync.RWMutex
}

// setupSoftHSM makes the SoftHSM2 folder of this test binary and points
// SOFTHSM2_CONF at it; the returned function removes it.
func setupSoftHSM() (cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "signet-cmd-softhsm-")
	if err != nil {
		return nil, err
	}
	testHSM.dir = dir
	os.Setenv("SOFTHSM2_CONF", filepath.Join(dir, "softhsm2.conf")) // the file make-tokens.sh writes
	return func() { os.RemoveAll(dir) }, nil
}

// makeTestHSM makes the tokens of hsmTokens in testHSM.dir.
func makeTestHSM() error {
	module, err := softhsmtest.Module()
	if err != nil {
		return err
	}
	testHSM.folder = map[string]string{}
	for _, tok := range hsmTokens {
		conf, folder, err := softhsmtest.MakeToken(testHSM.dir, module, tok.label, tok.pin)
		if err != nil {
			return err
		}
		if conf != os.Getenv("SOFTHSM2_CONF") {
			return fmt.Errorf("make-tokens.sh wrote %s, not the SOFTHSM2_CONF of TestMain's folder", conf)
		}
		testHSM.folder[tok.label] = folder
	}
	testHSM.module = module
	return nil
}

// useSoftHSM returns the SoftHSM2 module and the folder of the token label
// (one of hsmTokens), making the tokens on first use; it fails t when
// SoftHSM2 is not installed. A test that breaks its token passes exclusive:
// it then runs alone among the SoftHSM2 tests, until its cleanup (its
// server stopped and its tokens closed) is done.
func useSoftHSM(t *testing.T, label string, exclusive bool) (module, folder string) {
	t.Helper()
	testHSM.once.Do(func() { testHSM.err = makeTestHSM() })
	if testHSM.err != nil {
		t.Fatal(testHSM.err)
	}
	if exclusive {
		testHSM.mu.Lock()
		t.Cleanup(testHSM.mu.Unlock)
	} else {
		testHSM.mu.RLock()
		t.Cleanup(testHSM.mu.RUnlock)
	}
	return testHSM.module, testHSM.folder[label]
}

// issueHSMCerts issues a certificate from ca for each alias of the SoftHSM2
// token label (PIN e2ePIN) and stores the chain in the token.
func issueHSMCerts(t testing.TB, module, label string, ca *demo.CA, aliases ...string) {
	t.Helper()
	ctx := context.Background()
	tok := pkcs11.New(pkcs11.Options{Name: "setup", Module: module, SlotType: pkcs11.SlotLabel, SlotValue: label})
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
	t.Parallel()
	module, folder := useSoftHSM(t, e2eLabel, true) // it breaks its token
	dir := t.TempDir()
	ca, err := demo.NewCA("HSM CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, demo.PEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	aliases := []string{"rsa2048", "p256"}
	issueHSMCerts(t, module, e2eLabel, ca, aliases...)

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
	code, body := signDoc(t, s, worker)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "offline") {
		t.Fatalf("503 of a broken token says %q, want it offline", body)
	}
	health, hcode := healthCheck(t, s)
	if hcode == http.StatusOK || !strings.Contains(health, worker) {
		t.Fatalf("health with the token gone: %d %s, want %s offline", hcode, health, worker)
	}
	t.Logf("token gone: %d %s; health %d %s", code, body, hcode, health)

	// Repaired: the token re-opens on its own once its retry interval has
	// passed (on the server's clock, which the test moves on).
	if err := os.Rename(away, folder); err != nil {
		t.Fatal(err)
	}
	restored = true
	s.clock.Advance(pkcs11.DefaultRetryInterval)
	code, sig := signDoc(t, s, worker)
	if code != http.StatusOK {
		t.Fatalf("worker %s answers %d %s once the token is back and its retry is due, want 200", worker, code, sig)
	}
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

// signDoc signs "doc" (attached) with worker and returns the answer.
func signDoc(t *testing.T, s *server, worker string) (int, []byte) {
	t.Helper()
	return s.postRaw(t, worker, strings.NewReader("doc"), map[string]string{"USING_BATCHSIGNING": "false", "DETACHEDSIGNATURE": "false"})
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
