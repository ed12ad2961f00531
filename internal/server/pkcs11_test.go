package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	mp11 "github.com/miekg/pkcs11"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/softhsmtest"
	"github.com/signet-project/signet/tokens/pkcs11"
)

// TestShutdownLeavesNoPKCS11Session: a server with a PKCS#11 token
// (SoftHSM2) that has signed leaves, once Run returns, no session or login
// of the module open: it was finalized, which crypto11 does only after
// closing its sessions (issue 14: nothing was closed at shutdown). The
// module is process-wide and SoftHSM2 reads SOFTHSM2_CONF once: no other
// test of this package uses it, and this one does not run in parallel.
func TestShutdownLeavesNoPKCS11Session(t *testing.T) {
	module, err := softhsmtest.Module()
	if err != nil {
		t.Fatal(err)
	}
	const label, pin = "signet-server", "1234"
	dir := t.TempDir()
	conf, _, err := softhsmtest.MakeToken(dir, module, label, pin)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)

	// The key p256 gets a certificate, as a worker needs.
	ca, err := demo.NewCA("Signet test CA")
	if err != nil {
		t.Fatal(err)
	}
	setup := pkcs11.New(pkcs11.Options{Name: "setup", Module: module, SlotType: pkcs11.SlotLabel, SlotValue: label})
	if err := setup.Activate(t.Context(), pin); err != nil {
		t.Fatal(err)
	}
	s, err := setup.Signer(t.Context(), "p256")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("HSM signer p256", s.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.ImportChain(t.Context(), "p256", []*x509.Certificate{cert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	if err := setup.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(dir, "pin"), []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "signet.yaml")
	yaml := fmt.Sprintf(`tokens:
  - name: hsm
    type: pkcs11
    properties: {SHAREDLIBRARYNAME: %s, SLOTLABELTYPE: SLOT_LABEL, SLOTLABELVALUE: %s, POOLSIZE: 4}
    pin: {file: pin}
workers:
  - name: P
    kind: PlainSigner
    token: hsm
    key: p256
    properties: {AUTHTYPE: NOAUTH, SIGNATUREALGORITHM: SHA256withECDSA}
`, module, label)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, stop := runServer(t, cfg, dir, nil)
	for i := range 8 {
		d := sha256.Sum256(fmt.Appendf(nil, "document %d", i))
		resp, err := http.Post("http://"+addr+"/signserver/worker/P", "application/octet-stream", bytes.NewReader(d[:]))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("sign through the PKCS#11 token: %d %s", resp.StatusCode, b)
		}
	}

	p := mp11.New(module)
	if p == nil {
		t.Fatalf("cannot load %s", module)
	}
	defer p.Destroy()
	if err := p.Initialize(); !errors.Is(err, mp11.Error(mp11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("with the server running, a second Initialize returned %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED (the check below could not fail)", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Initialize(); err != nil {
		t.Fatalf("after shutdown the module is still initialized (sessions or logins left open): %v", err)
	}
	p.Finalize()
}
