package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote/remotetest"
)

// newToken returns an activated token on the SoftHSM2 token label, closed
// when the test ends.
func newToken(t testing.TB, label string, opts Options) *Token {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "tok-" + label
	}
	if opts.Module == "" {
		opts.Module = hsm.module
	}
	if opts.SlotType == "" {
		opts.SlotType, opts.SlotValue = SlotLabel, label
	}
	tok := New(opts)
	t.Cleanup(func() { tok.Close() })
	if err := tok.Activate(t.Context(), testPIN); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return tok
}

// digests makes n different digests with hash h.
func digests(n int, h crypto.Hash) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		hh := h.New()
		fmt.Fprintf(hh, "document %d", i)
		out[i] = hh.Sum(nil)
	}
	return out
}

// verify checks sig over digest with the standard library.
func verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(p, pss.Hash, digest, sig, pss)
		}
		return rsa.VerifyPKCS1v15(p, opts.HashFunc(), digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unexpected public key %T", pub)
}

func TestSignAll(t *testing.T) {
	tok := newToken(t, labelMain, Options{PoolSize: 4})
	tests := []struct {
		alias string
		opts  crypto.SignerOpts
	}{
		{"rsa2048", crypto.SHA256},
		{"rsa2048", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
		{"rsa3072", crypto.SHA512},
		{"rsa3072", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: crypto.SHA384}},
		{"p256", crypto.SHA256},
		{"p384", crypto.SHA384},
	}
	for _, tc := range tests {
		_, pss := tc.opts.(*rsa.PSSOptions)
		t.Run(fmt.Sprintf("%s/%v/pss=%v", tc.alias, tc.opts.HashFunc(), pss), func(t *testing.T) {
			signer, err := tok.Signer(t.Context(), tc.alias)
			if err != nil {
				t.Fatal(err)
			}
			in := digests(200, tc.opts.HashFunc())
			res, err := tokens.SignAll(t.Context(), tok, tc.alias, in, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Err != nil {
					t.Fatalf("item %d: %v", i, r.Err)
				}
				// The standard library's verifiers: PSS with
				// PSSSaltLengthAuto verifies any salt length, so the
				// salt is checked against the longest one as well.
				vo := tc.opts
				if p, ok := tc.opts.(*rsa.PSSOptions); ok && p.SaltLength == rsa.PSSSaltLengthAuto {
					n := signer.Public().(*rsa.PublicKey).N.BitLen()
					vo = &rsa.PSSOptions{Hash: p.Hash, SaltLength: (n-1+7)/8 - p.Hash.Size() - 2}
				}
				if err := verify(signer.Public(), in[i], r.Signature, vo); err != nil {
					t.Fatalf("item %d: %v", i, err)
				}
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	tok := newToken(t, labelMain, Options{})
	ctx := t.Context()
	if _, err := tok.Signer(ctx, "no-such-key"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("Signer(no-such-key) = %v, want ErrKeyNotFound", err)
	}
	rsaS, err := tok.Signer(ctx, "rsa2048")
	if err != nil {
		t.Fatal(err)
	}
	ecS, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	tests := []struct {
		name    string
		s       crypto.Signer
		digest  []byte
		opts    crypto.SignerOpts
		wantErr error
	}{
		{"RSA MD5", rsaS, d[:16], crypto.MD5, tokens.ErrUnsupported},
		{"ECDSA without hash", ecS, []byte("message"), crypto.Hash(0), tokens.ErrUnsupported},
		{"short digest", ecS, d[:20], crypto.SHA256, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.Sign(rand.Reader, tc.digest, tc.opts)
			if err == nil {
				t.Fatal("Sign succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Sign = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	tok := newToken(t, labelMain, Options{})
	keys, err := tok.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]tokens.KeyInfo{}
	for _, k := range keys {
		got[k.Alias] = k
	}
	want := []tokens.KeyInfo{
		{Alias: "p256", Algorithm: "ECDSA", Bits: 256, Curve: "P-256"},
		{Alias: "p384", Algorithm: "ECDSA", Bits: 384, Curve: "P-384"},
		{Alias: "rsa2048", Algorithm: "RSA", Bits: 2048},
		{Alias: "rsa3072", Algorithm: "RSA", Bits: 3072},
	}
	for _, w := range want {
		g, ok := got[w.Alias]
		if !ok {
			t.Errorf("Keys lacks %s: %+v", w.Alias, keys)
			continue
		}
		if g.Algorithm != w.Algorithm || g.Bits != w.Bits || g.Curve != w.Curve {
			t.Errorf("Keys: %s = %+v, want %+v", w.Alias, g, w)
		}
	}
}

// slotOf returns the slot ID and the index in the slot list of the token
// labelled label, asking pkcs11-tool (a client Signet did not write).
func slotOf(t *testing.T, label string) (id uint64, index int) {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", "--module", hsm.module, "--list-token-slots").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --list-token-slots: %v\n%s", err, out)
	}
	// "Slot 0 (0x3629f1c5): SoftHSM slot ID 0x3629f1c5" then indented
	// "token label        : signet-test".
	index = -1
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Slot ") {
			index++
			f := strings.Fields(line)
			id, err = strconv.ParseUint(strings.Trim(f[2], "():"), 0, 64)
			if err != nil {
				t.Fatalf("pkcs11-tool slot line %q: %v", line, err)
			}
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "token label" && strings.TrimSpace(v) == label {
			return id, index
		}
	}
	t.Fatalf("pkcs11-tool does not list a token labelled %s:\n%s", label, out)
	return 0, 0
}

func TestSlotSelectors(t *testing.T) {
	id, index := slotOf(t, labelMain)
	for _, tc := range []struct{ typ, value string }{
		{SlotLabel, labelMain},
		{SlotNumber, strconv.FormatUint(id, 10)},
		{SlotIndex, strconv.Itoa(index)},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			tok := newToken(t, labelMain, Options{SlotType: tc.typ, SlotValue: tc.value})
			if st := tok.Status(t.Context()); st.State != tokens.Active {
				t.Fatalf("Status = %+v", st)
			}
			if _, err := tok.Signer(t.Context(), "p384"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no module", Options{SlotType: SlotLabel, SlotValue: "x"}, "SHAREDLIBRARYNAME"},
		{"bad slot type", Options{Module: hsm.module, SlotType: "SUN_FILE", SlotValue: "x"}, "SLOTLABELTYPE"},
		{"slot number not a number", Options{Module: hsm.module, SlotType: SlotNumber, SlotValue: "one"}, "must be a number"},
		{"no slot value", Options{Module: hsm.module, SlotType: SlotLabel}, "SLOTLABELVALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Name = "bad"
			tok := New(tc.opts)
			st := tok.Status(t.Context())
			if st.State != tokens.Offline || !strings.Contains(st.Reason, tc.want) {
				t.Errorf("Status = %+v, want Offline mentioning %s", st, tc.want)
			}
			if err := tok.Activate(t.Context(), testPIN); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Activate = %v, want an error mentioning %s", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"missing module file", Options{Module: filepath.Join(t.TempDir(), "nope.so"), SlotType: SlotLabel, SlotValue: labelMain}},
		{"no such label", Options{Module: hsm.module, SlotType: SlotLabel, SlotValue: "no-such-token"}},
		{"index past the slots", Options{Module: hsm.module, SlotType: SlotIndex, SlotValue: "99"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Name = "unreachable"
			tok := New(tc.opts)
			defer tok.Close()
			err := tok.Activate(t.Context(), testPIN)
			if !errors.Is(err, tokens.ErrOffline) {
				t.Errorf("Activate = %v, want ErrOffline", err)
			}
			if st := tok.Status(t.Context()); st.State != tokens.Offline || st.Reason == "" {
				t.Errorf("Status = %+v, want Offline with a reason", st)
			}
			if err != nil && strings.Contains(err.Error(), testPIN) {
				t.Errorf("the error shows the PIN: %v", err)
			}
		})
	}
}

func TestActivation(t *testing.T) {
	ctx := t.Context()
	opts := Options{Name: "pin", Module: hsm.module, SlotType: SlotLabel, SlotValue: labelPIN}

	tok := New(opts)
	defer tok.Close()
	if st := tok.Status(ctx); st.State != tokens.Offline || !strings.Contains(st.Reason, "not activated") {
		t.Errorf("new token: Status = %+v, want Offline, not activated", st)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Signer before Activate = %v, want ErrOffline", err)
	}
	for _, pin := range []string{"0000", ""} {
		err := tok.Activate(ctx, pin)
		if !errors.Is(err, tokens.ErrBadPIN) {
			t.Errorf("Activate(%q) = %v, want ErrBadPIN", pin, err)
		}
		if pin != "" && err != nil && strings.Contains(err.Error(), pin) {
			t.Errorf("the error shows the PIN: %v", err)
		}
		if st := tok.Status(ctx); st.State != tokens.Offline {
			t.Errorf("after a wrong PIN: Status = %+v, want Offline", st)
		}
	}
	if err := tok.Activate(ctx, testPIN); err != nil {
		t.Fatalf("Activate(right PIN) = %v", err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("Status = %+v, want Active", st)
	}
	if err := tok.Deactivate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Signer after Deactivate = %v, want ErrOffline", err)
	}
	tok.Close()

	// Auto-activation with Options.PIN (SignServer's PIN property).
	opts.PIN = testPIN
	auto := New(opts)
	defer auto.Close()
	if st := auto.Status(ctx); st.State != tokens.Active {
		t.Errorf("token with PIN: Status = %+v, want Active", st)
	}
	if _, err := auto.Signer(ctx, "p256"); err != nil {
		t.Errorf("token with PIN: Signer = %v", err)
	}
}

func TestGenerateAndChain(t *testing.T) {
	tok := newToken(t, labelMain, Options{})
	ctx := t.Context()
	const alias = "generated-p256"
	pub, err := tok.GenerateKey(ctx, alias, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	checkSignOnly(t, tok, alias)
	t.Cleanup(func() { tok.RemoveKey(context.Background(), alias) })
	if _, err := tok.GenerateKey(ctx, alias, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err == nil {
		t.Error("GenerateKey with an existing alias succeeded")
	}
	if _, err := tok.GenerateKey(ctx, "ed", tokens.KeySpec{Algorithm: "Ed25519"}); !errors.Is(err, tokens.ErrUnsupported) {
		t.Errorf("GenerateKey(Ed25519) = %v, want ErrUnsupported", err)
	}
	if chain, err := tok.Chain(ctx, alias); err != nil || len(chain) != 0 {
		t.Errorf("Chain of a new key = %d certificates, %v; want none", len(chain), err)
	}

	ca, err := demo.NewCA("Signet PKCS#11 Test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("generated signer", pub, demo.DocumentSigning, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := ca.Issue("someone else", other.Public(), demo.DocumentSigning, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	if err := tok.ImportChain(ctx, alias, []*x509.Certificate{leaf, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportChain(ctx, alias, []*x509.Certificate{wrong, ca.Cert}); err == nil || !strings.Contains(err.Error(), "not for key") {
		t.Errorf("ImportChain(mismatched) = %v, want a refusal", err)
	}
	if err := tok.ImportChain(ctx, "no-such-key", []*x509.Certificate{leaf}); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("ImportChain(no-such-key) = %v, want ErrKeyNotFound", err)
	}
	chain, err := tok.Chain(ctx, alias)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(leaf) || !chain[1].Equal(ca.Cert) {
		t.Fatalf("Chain = %d certificates, want the leaf and the CA as imported", len(chain))
	}
	keys, err := tok.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		if k.Alias == alias {
			found = true
			if !k.HasChain || !k.NotAfter.Equal(leaf.NotAfter) || k.Algorithm != "ECDSA" || k.Curve != "P-256" {
				t.Errorf("Keys: %+v, want ECDSA P-256 with the leaf's expiry", k)
			}
		}
	}
	if !found {
		t.Errorf("Keys lacks %s", alias)
	}

	// The generated key signs, and the leaf certificate verifies it.
	in := digests(20, crypto.SHA256)
	res, err := tokens.SignAll(ctx, tok, alias, in, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if err := verify(leaf.PublicKey, in[i], r.Signature, crypto.SHA256); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}

	// Importing a shorter chain replaces the longer one.
	if err := tok.ImportChain(ctx, alias, []*x509.Certificate{leaf}); err != nil {
		t.Fatal(err)
	}
	if chain, err := tok.Chain(ctx, alias); err != nil || len(chain) != 1 {
		t.Errorf("Chain after re-import = %d certificates, %v; want 1", len(chain), err)
	}

	if err := tok.RemoveKey(ctx, alias); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Signer(ctx, alias); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("Signer after RemoveKey = %v, want ErrKeyNotFound", err)
	}
	if _, err := tok.Chain(ctx, alias); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("Chain after RemoveKey = %v, want ErrKeyNotFound", err)
	}
	if err := tok.RemoveKey(ctx, alias); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("RemoveKey twice = %v, want ErrKeyNotFound", err)
	}
}

func TestGenerateRSA(t *testing.T) {
	tok := newToken(t, labelMain, Options{})
	ctx := t.Context()
	pub, err := tok.GenerateKey(ctx, "generated-rsa", tokens.KeySpec{Algorithm: "RSA", Bits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.RemoveKey(ctx, "generated-rsa")
	if p, ok := pub.(*rsa.PublicKey); !ok || p.N.BitLen() != 2048 {
		t.Fatalf("GenerateKey(RSA 2048) = %T", pub)
	}
	s, err := tok.Signer(ctx, "generated-rsa")
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum384([]byte("x"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
	sig, err := s.Sign(rand.Reader, d[:], opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(pub, d[:], sig, opts); err != nil {
		t.Fatal(err)
	}
	checkSignOnly(t, tok, "generated-rsa")
}

// checkSignOnly reads the attributes of the private key alias: a generated
// key signs and does nothing else, and never leaves the token.
func checkSignOnly(t *testing.T, tok *Token, alias string) {
	t.Helper()
	c, err := tok.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.release()
	k, err := c.key(alias)
	if err != nil || k == nil {
		t.Fatalf("key %q: %v", alias, err)
	}
	want := map[crypto11.AttributeType]bool{
		crypto11.CkaSign: true, crypto11.CkaDecrypt: false, crypto11.CkaUnwrap: false,
		crypto11.CkaSensitive: true, crypto11.CkaExtractable: false,
	}
	for typ, v := range want {
		a, err := c.c.GetAttribute(k, typ)
		if err != nil {
			t.Fatalf("attribute %#x: %v", typ, err)
		}
		if got := len(a.Value) == 1 && a.Value[0] == 1; got != v {
			t.Errorf("%s: attribute %#x is %v, want %v", alias, typ, got, v)
		}
	}
}

// statusAfter advances clk by d (a token's RetryInterval: a check is due)
// and returns the token's status then.
func statusAfter(t *testing.T, tok *Token, clk *remotetest.Clock, d time.Duration) tokens.Status {
	t.Helper()
	clk.Advance(d)
	return tok.Status(t.Context())
}

// signAndVerify signs n digests through SignAll with p256 and returns the
// first error: an item's, or one of a signature that does not verify.
func signAndVerify(t *testing.T, tok *Token, n int) error {
	in := digests(n, crypto.SHA256)
	res, err := tokens.SignAll(t.Context(), tok, "p256", in, crypto.SHA256)
	if err != nil {
		return err
	}
	s, err := tok.Signer(t.Context(), "p256")
	if err != nil {
		return err
	}
	var first error
	for i, r := range res {
		if r.Err != nil {
			if first == nil {
				first = r.Err
			}
			continue
		}
		if err := verify(s.Public(), in[i], r.Signature, crypto.SHA256); err != nil {
			return fmt.Errorf("item %d does not verify: %v", i, err)
		}
	}
	return first
}

// TestRecovery makes the token disappear under a running token (its folder
// leaves SoftHSM2's token directory), checks that it goes Offline with a
// reason and that signing fails with ErrOffline, then puts the folder back
// and checks that the token comes back by itself.
func TestRecovery(t *testing.T) {
	const retry = 50 * time.Millisecond
	clk := remotetest.NewClock()
	tok := newToken(t, labelFail, Options{RetryInterval: retry, PoolSize: 4, Now: clk.Now})
	ctx := t.Context()
	if err := signAndVerify(t, tok, 50); err != nil {
		t.Fatal(err)
	}
	held, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}

	folder := hsm.folder[labelFail]
	away := filepath.Join(hsm.dir, "away")
	if err := os.Rename(folder, away); err != nil {
		t.Fatal(err)
	}
	restored := false
	defer func() {
		if !restored {
			os.Rename(away, folder)
		}
	}()

	// The signer held from before fails and wraps ErrOffline.
	d := sha256.Sum256([]byte("after"))
	_, err = held.Sign(rand.Reader, d[:], crypto.SHA256)
	if !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Sign with the token gone = %v, want ErrOffline", err)
	}
	t.Logf("sign: %v", err)
	err = signAndVerify(t, tok, 200)
	if !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("SignAll with the token gone = %v, want ErrOffline", err)
	}
	t.Logf("SignAll: %v", err)
	st := statusAfter(t, tok, clk, retry)
	if st.State != tokens.Offline || st.Reason == "" {
		t.Fatalf("Status with the token gone = %+v, want Offline with a reason", st)
	}
	t.Logf("offline: %s", st.Reason)
	if _, err := tok.Keys(ctx); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Keys with the token gone = %v, want ErrOffline", err)
	}
	// It stays Offline while the token is away, however often it is asked
	// (each time a re-open is due).
	for range 5 {
		if st := statusAfter(t, tok, clk, retry); st.State != tokens.Offline {
			t.Fatalf("Status with the token gone = %+v", st)
		}
	}

	if err := os.Rename(away, folder); err != nil {
		t.Fatal(err)
	}
	restored = true
	if st := tok.Status(ctx); st.State != tokens.Offline {
		t.Fatalf("Status after repair, before a re-open is due = %+v, want Offline", st)
	}
	if st := statusAfter(t, tok, clk, retry); st.State != tokens.Active {
		t.Fatalf("Status after repair = %+v, want Active", st)
	}
	if err := signAndVerify(t, tok, 200); err != nil {
		t.Fatalf("SignAll after repair: %v", err)
	}
	if _, err := held.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Errorf("the signer held from before the failure: %v", err)
	}
}

// TestPINChanged changes the user PIN behind the token's back: the running
// token keeps its login, but when it must re-open the module refuses the
// remembered PIN, so it stays Offline, says why, and does not retry that
// PIN; Activate with the new PIN brings it back.
func TestPINChanged(t *testing.T) {
	const retry = 50 * time.Millisecond
	clk := remotetest.NewClock()
	tok := newToken(t, labelPIN, Options{RetryInterval: retry, Now: clk.Now})
	ctx := t.Context()
	const newPIN = "98765"
	changePIN := func(from, to string) {
		out, err := exec.Command("pkcs11-tool", "--module", hsm.module, "--token-label", labelPIN,
			"--login", "--pin", from, "--change-pin", "--new-pin", to).CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool --change-pin: %v\n%s", err, out)
		}
	}
	changePIN(testPIN, newPIN)
	defer changePIN(newPIN, testPIN)

	// Break and repair the module under the token, so that it must
	// re-open with the remembered (now wrong) PIN.
	folder := hsm.folder[labelPIN]
	away := filepath.Join(hsm.dir, "away-pin")
	if err := os.Rename(folder, away); err != nil {
		t.Fatal(err)
	}
	err := signAndVerify(t, tok, 10)
	if err2 := os.Rename(away, folder); err2 != nil {
		t.Fatal(err2)
	}
	if !errors.Is(err, tokens.ErrOffline) {
		t.Fatalf("SignAll with the token gone = %v, want ErrOffline", err)
	}
	// Re-opening is refused: the PIN is wrong now.
	st := statusAfter(t, tok, clk, retry)
	if st.State != tokens.Offline || !strings.Contains(st.Reason, "PIN") {
		t.Fatalf("Status with a changed PIN = %+v, want Offline because of the PIN", st)
	}
	if st := statusAfter(t, tok, clk, retry); st.State != tokens.Offline {
		t.Fatalf("Status = %+v, want Offline until activated with the new PIN", st)
	}
	if err := tok.Activate(ctx, newPIN); err != nil {
		t.Fatalf("Activate(new PIN) = %v", err)
	}
	if err := signAndVerify(t, tok, 20); err != nil {
		t.Fatal(err)
	}
	tok.Close()
}

// TestConcurrentReopen signs from several goroutines while the token is
// deactivated and activated again: every result is a good signature or an
// ErrOffline error, nothing deadlocks, and the token ends Active.
func TestConcurrentReopen(t *testing.T) {
	tok := newToken(t, labelMain, Options{RetryInterval: time.Millisecond, PoolSize: 4})
	ctx := t.Context()
	stop := make(chan struct{})
	// signed and refused tell of a batch signed, or refused as offline:
	// the loop below deactivates the token once a batch was signed, and
	// activates it once one was refused, so that every toggle happens
	// while batches run.
	signed, refused := make(chan struct{}, 1), make(chan struct{}, 1)
	tell := func(c chan struct{}) {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, offline int
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := signAndVerify(t, tok, 20)
				mu.Lock()
				switch {
				case err == nil:
					ok++
					tell(signed)
				case errors.Is(err, tokens.ErrOffline):
					offline++
					tell(refused)
				default:
					t.Errorf("SignAll: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	drain := func(c chan struct{}) {
		select {
		case <-c:
		default:
		}
	}
	for range 10 {
		<-signed
		if err := tok.Deactivate(ctx); err != nil {
			t.Error(err)
		}
		drain(refused) // from before the last Activate
		<-refused
		if err := tok.Activate(ctx, testPIN); err != nil {
			t.Error(err)
		}
		drain(signed) // from before the Deactivate
	}
	close(stop)
	wg.Wait()
	t.Logf("%d batches signed, %d offline", ok, offline)
	if ok == 0 {
		t.Error("no batch was signed")
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("Status = %+v, want Active", st)
	}
}

// TestStatusNotices checks that Status alone, with nothing signing, sees
// the token go and come back.
func TestStatusNotices(t *testing.T) {
	const retry = 20 * time.Millisecond
	clk := remotetest.NewClock()
	tok := newToken(t, labelFail, Options{RetryInterval: retry, Now: clk.Now})
	folder := hsm.folder[labelFail]
	away := filepath.Join(hsm.dir, "away-status")
	if err := os.Rename(folder, away); err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(t.Context()); st.State != tokens.Active {
		t.Errorf("Status before a check is due = %+v, want Active (the last check)", st)
	}
	st := statusAfter(t, tok, clk, retry)
	if err := os.Rename(away, folder); err != nil {
		t.Fatal(err)
	}
	if st.State != tokens.Offline || st.Reason == "" {
		t.Fatalf("Status with the token gone = %+v, want Offline with a reason", st)
	}
	if st := statusAfter(t, tok, clk, retry); st.State != tokens.Active {
		t.Fatalf("Status after repair = %+v, want Active", st)
	}
	if err := signAndVerify(t, tok, 10); err != nil {
		t.Fatal(err)
	}
}

// TestWrongPINKeepsActiveToken: Activate with a wrong PIN on a token that
// is Active is refused with ErrBadPIN and changes nothing: the token stays
// Active, signs, and a signer got before still signs. It used to close the
// token's login first, so an operator's typo took a working token Offline.
func TestWrongPINKeepsActiveToken(t *testing.T) {
	tok := newToken(t, labelPIN, Options{})
	ctx := t.Context()
	held, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	for _, pin := range []string{"0000", ""} {
		if err := tok.Activate(ctx, pin); !errors.Is(err, tokens.ErrBadPIN) {
			t.Fatalf("Activate(%q) = %v, want ErrBadPIN", pin, err)
		}
		if st := tok.Status(ctx); st.State != tokens.Active {
			t.Fatalf("after Activate(%q): Status = %+v, want Active", pin, st)
		}
		if err := signAndVerify(t, tok, 4); err != nil {
			t.Fatalf("after Activate(%q): %v", pin, err)
		}
		d := sha256.Sum256([]byte("held"))
		if _, err := held.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			t.Fatalf("after Activate(%q): the signer held from before: %v", pin, err)
		}
	}
}
