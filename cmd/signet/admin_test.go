package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens/soft"
	adminapi "github.com/signet-project/signet/web/admin"
)

const (
	adminTestPassword = "admin-e2e-password"
	adminTestHSMLabel = "signet-admin"
	adminTestHSMPIN   = "4321"
)

// adminEnv is a server for the admin tests: a PKCS#12 soft token "soft"
// with no keys, optionally a SoftHSM2 token "hsm" (not activated), a
// CMSSigner per token configured with a key that does not exist yet, and
// the users admin and operator.
type adminEnv struct {
	s      *server
	dir    string
	pwFile string
	ca     *demo.CA
	caFile string
	hsm    bool
}

func newAdminEnv(t *testing.T, withHSM bool) *adminEnv {
	t.Helper()
	dir := t.TempDir()
	e := &adminEnv{dir: dir}
	var err error
	if e.ca, err = demo.NewCA("Admin E2E CA"); err != nil {
		t.Fatal(err)
	}
	e.caFile = filepath.Join(dir, "ca.pem")
	hash, err := bcrypt.GenerateFromPassword([]byte(adminTestPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e.pwFile = filepath.Join(dir, "admin-password")
	if _, err := soft.Create(soft.Options{Path: filepath.Join(dir, "ks"), Type: "PKCS12"}, "soft-pin"); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{e.caFile: string(demo.PEM(e.ca.Cert)), e.pwFile: adminTestPassword + "\n",
		filepath.Join(dir, "pin"): "soft-pin\n", filepath.Join(dir, "hsm-pin"): adminTestHSMPIN + "\n"} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var y strings.Builder
	y.WriteString("tokens:\n  - name: soft\n    type: soft\n    properties:\n      KEYSTOREPATH: ks\n      KEYSTORETYPE: PKCS12\n    pin:\n      file: pin\n")
	module := ""
	if withHSM {
		module, _ = useSoftHSM(t, adminTestHSMLabel, false)
		e.hsm = true
		fmt.Fprintf(&y, "  - name: hsm\n    type: pkcs11\n    properties:\n      SHAREDLIBRARYNAME: %s\n      SLOTLABELTYPE: SLOT_LABEL\n      SLOTLABELVALUE: %s\n", module, adminTestHSMLabel)
	}
	y.WriteString("workers:\n  - name: SoftSigner\n    id: 1\n    kind: CMSSigner\n    token: soft\n    key: admin-soft\n    properties: {AUTHTYPE: NOAUTH}\n")
	// A PlainSigner without SIGNATUREALGORITHM chooses it from the key
	// when it signs: it works with a key generated after it was built.
	y.WriteString("  - name: SoftPlain\n    id: 3\n    kind: PlainSigner\n    token: soft\n    key: admin-soft\n    properties: {AUTHTYPE: NOAUTH}\n")
	if e.hsm {
		y.WriteString("  - name: HSMSigner\n    id: 2\n    kind: CMSSigner\n    token: hsm\n    key: admin-hsm\n    properties: {AUTHTYPE: NOAUTH}\n")
	}
	fmt.Fprintf(&y, "users:\n  - name: admin\n    roles: [admin]\n    passwordHash: '%s'\n  - name: operator\n    roles: [operator]\n    passwordHash: '%s'\n", hash, hash)
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte(y.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e.s = startServer(t, "--config", cfg)
	return e
}

// admin runs `signet admin ARGS --url … --password-file …` and returns the
// exit status and output.
func (e *adminEnv) admin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	all := append([]string{"admin"}, args...)
	all = append(all, "--url", e.s.url)
	all = append(all, e.s.tlsArgs()...)
	if !slices.Contains(args, "--password-file") {
		all = append(all, "--password-file", e.pwFile)
	}
	err := run(context.Background(), all, &out, &errb)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
	default:
		t.Fatalf("signet %s: %v", strings.Join(all, " "), err)
	}
	return code, out.String(), errb.String()
}

// mustAdmin runs a command that must succeed.
func (e *adminEnv) mustAdmin(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := e.admin(t, args...)
	if code != 0 {
		t.Fatalf("signet admin %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// TestAdminKeyLifecycle runs generate key → CSR (openssl req -verify) →
// certificate from a test CA → upload chain → sign → openssl cms -verify,
// from the CLI against a running server, on a soft token and on a SoftHSM2
// token, without a restart or reload.
func TestAdminKeyLifecycle(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t, true)
	t.Run("soft", func(t *testing.T) { e.lifecycle(t, "soft", "admin-soft", "SoftSigner", "RSA", "--bits", "2048") })
	t.Run("pkcs11", func(t *testing.T) {
		// Configured without a PIN: offline until activated.
		out := e.mustAdmin(t, "tokens")
		if !strings.Contains(out, "hsm") || !lineHas(out, "hsm", "OFFLINE") {
			t.Fatalf("hsm token not offline before activation:\n%s", out)
		}
		if code, _, errs := e.admin(t, "activate", "hsm", "--pin-file", e.caFile); code != 1 || !strings.Contains(errs, "PIN") {
			t.Fatalf("activate with a wrong PIN: exit %d %s", code, errs)
		}
		e.mustAdmin(t, "activate", "hsm", "--pin-file", filepath.Join(e.dir, "hsm-pin"))
		e.lifecycle(t, "hsm", "admin-hsm", "HSMSigner", "ECDSA", "--curve", "P-256")
		if code, _, errs := e.admin(t, "keys", "generate", "hsm", "ed", "--algorithm", "Ed25519"); code != 1 || !strings.Contains(errs, "HTTP 409") {
			t.Errorf("Ed25519 on the PKCS#11 token: exit %d %s", code, errs)
		}
		out = e.mustAdmin(t, "deactivate", "hsm")
		if !lineHas(out, "hsm", "OFFLINE") {
			t.Errorf("deactivate:\n%s", out)
		}
		if code, _ := e.s.postRaw(t, "HSMSigner", strings.NewReader("x"), nil); code != http.StatusServiceUnavailable {
			t.Errorf("signing with a deactivated token: %d, want 503", code)
		}
	})
	t.Run("audit", func(t *testing.T) {
		out := e.mustAdmin(t, "audit", "list", "--limit", "1000")
		for _, action := range []string{"key.generate", "key.test", "key.csr", "key.chain", "key.remove"} {
			if !strings.Contains(out, action) {
				t.Errorf("audit list has no %s:\n%s", action, out)
			}
		}
		if strings.Contains(out, adminTestHSMPIN) || strings.Contains(out, adminTestPassword) {
			t.Error("a secret is in the audit log")
		}
	})
}

// lineHas reports whether a line of out starts with first and holds
// word.
func lineHas(out, first, word string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, first+" ") && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

func (e *adminEnv) lifecycle(t *testing.T, token, alias, worker string, keyArgs ...string) {
	dir := t.TempDir()
	doc := []byte("A contract signed with a key made through the admin API.\n")

	// Before: the worker's key does not exist.
	if code, body := e.s.postRaw(t, worker, bytes.NewReader(doc), nil); code == http.StatusOK {
		t.Fatalf("worker %s signed before its key existed: %s", worker, body)
	}
	genArgs := append([]string{"keys", "generate", token, alias, "--algorithm"}, keyArgs...)
	out := e.mustAdmin(t, genArgs...)
	if !strings.Contains(out, "Generated key "+alias) {
		t.Errorf("keys generate printed %q", out)
	}
	if code, _, errs := e.admin(t, genArgs...); code != 1 || !strings.Contains(errs, "already has a key") {
		t.Errorf("generating the key again: exit %d %s", code, errs)
	}
	if token == "soft" {
		code, body := e.s.postRaw(t, "SoftPlain", bytes.NewReader(doc), nil)
		if code != http.StatusOK {
			t.Errorf("PlainSigner after key generation (no restart): %d %s", code, body)
		}
	}
	out = e.mustAdmin(t, "keys", "test", token, alias)
	if !strings.Contains(out, "signature verified") {
		t.Errorf("keys test printed %q", out)
	}

	csrFile := filepath.Join(dir, "req.pem")
	e.mustAdmin(t, "keys", "csr", token, alias, "--subject", "CN=Admin E2E "+token+",O=Signet Test,C=DE", "--out", csrFile)
	if out, err := exec.Command("openssl", "req", "-verify", "-noout", "-in", csrFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl req -verify: %v\n%s", err, out)
	}
	subj, err := exec.Command("openssl", "req", "-noout", "-subject", "-nameopt", "RFC2253", "-in", csrFile).CombinedOutput()
	if err != nil || !strings.Contains(string(subj), "CN=Admin E2E "+token+",O=Signet Test,C=DE") {
		t.Errorf("openssl req -subject: %s %v", subj, err)
	}
	// With --json the answer is printed as JSON and --out is still written.
	jsonCSRFile := filepath.Join(dir, "req-json.pem")
	jsonOut := e.mustAdmin(t, "keys", "csr", token, alias, "--json", "--subject", "CN=Admin E2E "+token+",O=Signet Test,C=DE", "--out", jsonCSRFile)
	if got, err := os.ReadFile(jsonCSRFile); err != nil || !strings.Contains(string(got), "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Errorf("keys csr --json --out wrote %q, %v (printed %q)", got, err, jsonOut)
	}
	pemCSR, _ := os.ReadFile(csrFile)
	blk, _ := pem.Decode(pemCSR)
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := e.ca.IssueCSR(csr, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate for another key is refused.
	other, err := e.ca.Issue("not this key", e.ca.Key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.pem")
	os.WriteFile(badFile, demo.PEM(other, e.ca.Cert), 0o644)
	if code, _, errs := e.admin(t, "keys", "chain", token, alias, badFile); code != 1 || !strings.Contains(errs, "not for key") || !strings.Contains(errs, "HTTP 400") {
		t.Errorf("uploading another key's certificate: exit %d %s", code, errs)
	}
	chainFile := filepath.Join(dir, "chain.pem")
	os.WriteFile(chainFile, demo.PEM(cert, e.ca.Cert), 0o644)
	out = e.mustAdmin(t, "keys", "chain", token, alias, chainFile)
	if !strings.Contains(out, "Stored a chain of 2 certificate(s)") || !strings.Contains(out, worker) {
		t.Errorf("keys chain printed %q", out)
	}

	// The worker signs now, without a restart or reload.
	code, sig := e.s.postRaw(t, worker, bytes.NewReader(doc), nil)
	if code != http.StatusOK {
		t.Fatalf("worker %s after the chain upload: %d %s", worker, code, sig)
	}
	if err := opensslVerify(t, sig, nil, e.caFile, false); err != nil {
		t.Fatalf("openssl cms -verify: %v", err)
	}

	out = e.mustAdmin(t, "workers", worker, "--json")
	var ws adminapi.WorkerStatus
	if err := json.Unmarshal([]byte(out), &ws); err != nil || ws.Status != "ACTIVE" || ws.Certificate == nil || !ws.Certificate.NotAfter.Equal(cert.NotAfter.UTC()) {
		t.Errorf("workers %s --json: %s (%v)", worker, out, err)
	}
	out = e.mustAdmin(t, "status")
	if !lineHas(out, "1 ", "") || !strings.Contains(out, cert.NotAfter.UTC().Format(time.DateOnly)) {
		t.Errorf("status does not show the certificate expiry:\n%s", out)
	}
	out = e.mustAdmin(t, "keys", "list", token)
	if !lineHas(out, alias, "yes") {
		t.Errorf("keys list:\n%s", out)
	}

	if code, _, errs := e.admin(t, "keys", "remove", token, alias); code != 1 || !strings.Contains(errs, "used by worker") {
		t.Errorf("removing a key a worker uses: exit %d %s", code, errs)
	}
	e.mustAdmin(t, "keys", "remove", token, alias, "--force")
	if code, _ := e.s.postRaw(t, worker, bytes.NewReader(doc), nil); code == http.StatusOK {
		t.Errorf("worker %s signed after its key was removed", worker)
	}
	if code, _, errs := e.admin(t, "keys", "test", token, alias); code != 1 || !strings.Contains(errs, "HTTP 404") {
		t.Errorf("testing a removed key: exit %d %s", code, errs)
	}
}

// TestAdminCLIErrors checks the exit statuses: 2 for usage errors, 1 with
// the server's sentence when it refuses.
func TestAdminCLIErrors(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t, false)
	opPw := filepath.Join(e.dir, "wrong")
	os.WriteFile(opPw, []byte("wrong\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no command", nil, 2, "Usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing argument", []string{"keys", "test", "soft"}, 2, "wrong number of arguments"},
		{"csr without subject", []string{"keys", "csr", "soft", "k"}, 2, "--subject is required"},
		{"unknown flag", []string{"tokens", "--frob"}, 2, "frob"},
		{"unknown token", []string{"deactivate", "nope"}, 1, "No crypto token named \"nope\""},
		{"bad algorithm", []string{"keys", "generate", "soft", "k", "--algorithm", "DSA"}, 1, "use RSA, ECDSA or Ed25519"},
		{"unknown worker", []string{"workers", "Nope"}, 1, "No worker named"},
		{"wrong password", []string{"tokens", "--password-file", opPw}, 1, "Wrong user name or password: check the admin credentials. (HTTP 401)\nThe demo's admin password is in signet-data/demo-password (--password-file, or $SIGNET_ADMIN_PASSWORD).\n"},
		{"an operator may not change keys", []string{"keys", "remove", "soft", "admin-soft", "--user", "operator"}, 1, "needs the admin role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var code int
			var out, errs string
			if tt.args == nil {
				var o, eb bytes.Buffer
				err := run(context.Background(), []string{"admin"}, &o, &eb)
				var ee exitError
				errors.As(err, &ee)
				code, out, errs = ee.code, o.String(), eb.String()
			} else {
				code, out, errs = e.admin(t, tt.args...)
			}
			if code != tt.code || !strings.Contains(errs, tt.says) {
				t.Errorf("exit %d, want %d; stderr %q should say %q (stdout %q)", code, tt.code, errs, tt.says, out)
			}
		})
	}
	// The REST side: 401 with the Basic challenge; reload through the API.
	resp, err := http.Get(e.s.url + "/admin/api/workers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Signet admin"` {
		t.Errorf("unauthenticated: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if out := e.mustAdmin(t, "reload"); !strings.Contains(out, "Configuration reloaded") || !strings.Contains(out, "SoftSigner") {
		t.Errorf("reload printed %q", out)
	}
}

// TestAdminDemoServer uses the admin API of the embedded demo
// configuration with the demo password.
func TestAdminDemoServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	// The demo password made at first start, as the server said.
	e := &adminEnv{s: s, pwFile: demo.FilesIn(s.data).PasswordFile}
	out := e.mustAdmin(t, "status")
	for _, w := range []string{"CMSSigner", "CAdESSigner", "PlainSigner"} {
		if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.Contains(l, " "+w+" ") && strings.Contains(l, "ACTIVE") }) {
			t.Errorf("status does not show %s ACTIVE:\n%s", w, out)
		}
	}
	out = e.mustAdmin(t, "keys", "list", "demo")
	if !lineHas(out, "signer-p256", "yes") || !lineHas(out, "signer-rsa3072", "CMSSigner") {
		t.Errorf("keys list demo:\n%s", out)
	}
	// The demo operator reads and may deactivate tokens, but not change keys.
	if code, out, errs := e.admin(t, "tokens", "--user", "operator"); code != 0 || !lineHas(out, "demo", "ACTIVE") {
		t.Errorf("operator reading: exit %d %s%s, want the demo token ACTIVE", code, out, errs)
	}
	if code, _, errs := e.admin(t, "keys", "generate", "demo", "op-key", "--user", "operator"); code != 1 || !strings.Contains(errs, "HTTP 403") || !strings.Contains(errs, "admin role") {
		t.Errorf("operator generating a key: exit %d %s", code, errs)
	}
}
