package pkcs11

import (
	"crypto"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/signet-project/signet/tokens"
)

// TestCloseLeavesNoSession: after Close (what a reload that drops the
// token, and shutdown, call through tokens.Closer), the module is
// finalized: no session or login of the token is left open (issue 14).
func TestCloseLeavesNoSession(t *testing.T) {
	tok := newToken(t, labelMain, Options{PoolSize: 4})
	var _ tokens.Closer = tok
	if _, err := tokens.SignAll(t.Context(), tok, "p256", digests(50, crypto.SHA256), crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	p := pkcs11.New(hsm.module)
	if p == nil {
		t.Fatalf("cannot load %s", hsm.module)
	}
	defer p.Destroy()
	if err := p.Initialize(); !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatalf("with the token open, a second Initialize returned %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED (the check below could not fail)", err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Initialize(); err != nil {
		t.Fatalf("after Close the module is still initialized (sessions left open): %v", err)
	}
	// A fresh Initialize succeeds only when every context of the process
	// was finalized, which crypto11 does after closing its sessions.
	// (SoftHSM2 does not report session counts: CK_UNAVAILABLE_INFORMATION.)
	p.Finalize()
}
