// Package remotetest holds the checks that the tests of the remote tokens
// (tokens/dsm, tokens/nethsm) share: signing many digests and verifying
// each, one signer's signature, the key list, a test certificate chain; and
// the test clock of every token with a check interval (tokens/pkcs11 too).
package remotetest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
)

// Digests returns n SHA-256 digests of "<prefix> <i>".
func Digests(n int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		d := sha256.Sum256(fmt.Appendf(nil, "%s %d", prefix, i))
		out[i] = d[:]
	}
	return out
}

// SignAllVerified signs n digests with the ECDSA key alias through
// tokens.SignAll and fails the test unless every item verifies with pub
// over its own digest.
func SignAllVerified(t *testing.T, tok tokens.Token, alias string, pub *ecdsa.PublicKey, n int) {
	t.Helper()
	in := Digests(n, "document")
	res, err := tokens.SignAll(context.Background(), tok, alias, in, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
		if !ecdsa.VerifyASN1(pub, in[i], r.Signature) {
			t.Fatalf("item %d: the signature does not verify over its own digest", i)
		}
	}
}

// Sign gets the token's Signer for alias, checks that its public key is
// pub, and returns its signature of in with opts.
func Sign(t *testing.T, tok tokens.Token, alias string, pub crypto.PublicKey, in []byte, opts crypto.SignerOpts) []byte {
	t.Helper()
	sg, err := tok.Signer(context.Background(), alias)
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatal("Signer.Public is not the key's public key")
	}
	sig, err := sg.Sign(rand.Reader, in, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// KeysMatch fails the test for every key of want that the token's Keys
// does not list as want describes it.
func KeysMatch(t *testing.T, tok tokens.Token, want map[string]tokens.KeyInfo) []tokens.KeyInfo {
	t.Helper()
	keys, err := tok.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tokens.KeyInfo{}
	for _, k := range keys {
		got[k.Alias] = k
	}
	for a, w := range want {
		if g := got[a]; g.Alias != w.Alias || g.Algorithm != w.Algorithm || g.Bits != w.Bits || g.Curve != w.Curve || g.HasChain != w.HasChain || !g.NotAfter.Equal(w.NotAfter) {
			t.Errorf("key %s = %+v, want %+v", a, g, w)
		}
	}
	return keys
}

// Chain returns a chain for pub, signer first, under a new test CA.
func Chain(t *testing.T, ca, signer string, pub crypto.PublicKey) []*x509.Certificate {
	t.Helper()
	c, err := demo.NewCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := c.Issue(signer, pub, demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{leaf, c.Cert}
}

// Clock is a clock that moves only when the test says so: a token given
// Clock.Now (a remote token's probe interval, a PKCS#11 token's retry
// interval) checks its HSM when the test has advanced the clock by the
// interval, not when the machine's load let that time pass.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at a fixed time.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
