package soft_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

const pin = "correct horse 42"

// keyTypes are the key types a soft token holds, with what Keys reports.
var keyTypes = []struct {
	alias string
	spec  tokens.KeySpec
	want  tokens.KeyInfo
}{
	{"rsa2048", tokens.KeySpec{Algorithm: "RSA", Bits: 2048}, tokens.KeyInfo{Algorithm: "RSA", Bits: 2048}},
	{"rsa3072", tokens.KeySpec{Algorithm: "RSA", Bits: 3072}, tokens.KeyInfo{Algorithm: "RSA", Bits: 3072}},
	{"rsa4096", tokens.KeySpec{Algorithm: "RSA", Bits: 4096}, tokens.KeyInfo{Algorithm: "RSA", Bits: 4096}},
	{"p256", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}, tokens.KeyInfo{Algorithm: "ECDSA", Bits: 256, Curve: "P-256"}},
	{"p384", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-384"}, tokens.KeyInfo{Algorithm: "ECDSA", Bits: 384, Curve: "P-384"}},
	{"p521", tokens.KeySpec{Algorithm: "ECDSA", Bits: 521}, tokens.KeyInfo{Algorithm: "ECDSA", Bits: 521, Curve: "P-521"}},
	{"ed25519", tokens.KeySpec{Algorithm: "Ed25519"}, tokens.KeyInfo{Algorithm: "Ed25519", Bits: 256}},
}

// checkSigns signs with every scheme the key supports and verifies the
// signatures with the standard library.
func checkSigns(t *testing.T, s crypto.Signer, cert *x509.Certificate) {
	t.Helper()
	msg := []byte("Signet soft token test message")
	digest := sha256.Sum256(msg)
	if cert != nil && !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
		t.Fatal("signer certificate is not for the signer's key")
	}
	switch pub := s.Public().(type) {
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("RSA PKCS#1 v1.5 sign: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Errorf("RSA PKCS#1 v1.5 verify: %v", err)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err = s.Sign(rand.Reader, digest[:], pss)
		if err != nil {
			t.Fatalf("RSA-PSS sign: %v", err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss); err != nil {
			t.Errorf("RSA-PSS verify: %v", err)
		}
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("ECDSA sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Error("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			t.Fatalf("Ed25519 sign: %v", err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Error("Ed25519 signature does not verify")
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// noTempFiles fails when a write left a temporary file behind.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			t.Errorf("temporary file %s left in the keystore", de.Name())
		}
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: key files must not be readable by others", de.Name(), fi.Mode().Perm())
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ca, err := demo.NewCA("Soft Token Test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := ca.Issue("Someone Else", other.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{soft.TypePKCS12, soft.TypePEM} {
		t.Run(typ, func(t *testing.T) {
			ctx := context.Background()
			opts := soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: typ, Name: "test-" + typ}
			tok, err := soft.Create(opts, pin)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if st := tok.Status(ctx); st.State != tokens.Active {
				t.Fatalf("new keystore status = %v %q, want ACTIVE", st.State, st.Reason)
			}
			if _, err := soft.Create(opts, pin); err != nil {
				t.Fatalf("Create on an empty folder again: %v", err)
			}

			chains := map[string][]*x509.Certificate{}
			for _, kt := range keyTypes {
				t.Run("generate/"+kt.alias, func(t *testing.T) {
					pub, err := tok.GenerateKey(ctx, kt.alias, kt.spec)
					if err != nil {
						t.Fatalf("GenerateKey: %v", err)
					}
					chain, err := tok.Chain(ctx, kt.alias)
					if err != nil || len(chain) != 0 {
						t.Fatalf("Chain of a new key = %d certificates, %v; want none", len(chain), err)
					}
					s, err := tok.Signer(ctx, kt.alias)
					if err != nil {
						t.Fatal(err)
					}
					checkSigns(t, s, nil)

					err = tok.ImportChain(ctx, kt.alias, []*x509.Certificate{otherCert, ca.Cert})
					if !errors.Is(err, soft.ErrChainMismatch) || !strings.Contains(err.Error(), "not for key") {
						t.Fatalf("ImportChain of another key's certificate: %v, want ErrChainMismatch", err)
					}
					cert, err := ca.Issue("Signer "+kt.alias, pub, demo.DocumentSigning, 24*time.Hour)
					if err != nil {
						t.Fatal(err)
					}
					err = tok.ImportChain(ctx, kt.alias, []*x509.Certificate{ca.Cert, cert})
					if err == nil || !strings.Contains(err.Error(), "signer first") {
						t.Fatalf("ImportChain in the wrong order: %v, want an error", err)
					}
					chains[kt.alias] = []*x509.Certificate{cert, ca.Cert}
					if err := tok.ImportChain(ctx, kt.alias, chains[kt.alias]); err != nil {
						t.Fatalf("ImportChain: %v", err)
					}
				})
			}
			noTempFiles(t, opts.Path)

			// Reopen from disk.
			tok, err = soft.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			if st := tok.Status(ctx); st.State != tokens.Offline || !strings.HasPrefix(st.Reason, "not activated: activate the token") {
				t.Fatalf("reopened status = %v %q, want OFFLINE not activated", st.State, st.Reason)
			}
			if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
				t.Fatalf("Signer before activation: %v, want ErrOffline", err)
			}
			if _, err := tok.Keys(ctx); !errors.Is(err, tokens.ErrOffline) {
				t.Fatalf("Keys before activation: %v, want ErrOffline", err)
			}
			err = tok.Activate(ctx, "wrong PIN")
			if typ == soft.TypePKCS12 {
				if !errors.Is(err, tokens.ErrBadPIN) {
					t.Fatalf("Activate with a wrong PIN: %v, want ErrBadPIN", err)
				}
				if strings.Contains(err.Error(), pin) {
					t.Fatalf("error leaks the PIN: %v", err)
				}
				if st := tok.Status(ctx); st.State != tokens.Offline {
					t.Fatalf("status after a wrong PIN = %v, want OFFLINE", st.State)
				}
				if err := tok.Activate(ctx, pin); err != nil {
					t.Fatalf("Activate: %v", err)
				}
			} else if err != nil {
				t.Fatalf("PEM keystores ignore the PIN, Activate: %v", err)
			}
			if st := tok.Status(ctx); st.State != tokens.Active || st.Reason != "" {
				t.Fatalf("status after Activate = %v %q", st.State, st.Reason)
			}

			infos, err := tok.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != len(keyTypes) {
				t.Fatalf("Keys = %d keys, want %d", len(infos), len(keyTypes))
			}
			got := map[string]tokens.KeyInfo{}
			for _, ki := range infos {
				got[ki.Alias] = ki
			}
			for _, kt := range keyTypes {
				t.Run("reopened/"+kt.alias, func(t *testing.T) {
					want := kt.want
					want.Alias, want.HasChain, want.NotAfter = kt.alias, true, chains[kt.alias][0].NotAfter
					if g := got[kt.alias]; g.Alias != want.Alias || g.Algorithm != want.Algorithm || g.Bits != want.Bits ||
						g.Curve != want.Curve || g.HasChain != want.HasChain || !g.NotAfter.Equal(want.NotAfter) {
						t.Errorf("KeyInfo = %+v, want %+v", g, want)
					}
					chain, err := tok.Chain(ctx, kt.alias)
					if err != nil {
						t.Fatal(err)
					}
					if !sameChain(chain, chains[kt.alias]) {
						t.Errorf("Chain after reopening is not the imported chain")
					}
					s, err := tok.Signer(ctx, kt.alias)
					if err != nil {
						t.Fatal(err)
					}
					checkSigns(t, s, chain[0])
				})
			}

			if _, err := tok.Signer(ctx, "nope"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("Signer of an unknown alias: %v, want ErrKeyNotFound", err)
			}
			if _, err := tok.Chain(ctx, "nope"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("Chain of an unknown alias: %v, want ErrKeyNotFound", err)
			}

			// Deactivate drops the keys, also from signers handed out before.
			held, err := tok.Signer(ctx, "p256")
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Deactivate(ctx); err != nil {
				t.Fatal(err)
			}
			if st := tok.Status(ctx); st.State != tokens.Offline || !strings.HasPrefix(st.Reason, "not activated: activate the token") {
				t.Errorf("status after Deactivate = %v %q", st.State, st.Reason)
			}
			if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
				t.Errorf("Signer after Deactivate: %v, want ErrOffline", err)
			}
			d := sha256.Sum256([]byte("x"))
			if _, err := held.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
				t.Errorf("Sign with a signer held over Deactivate: %v, want ErrOffline", err)
			}
			if _, err := tok.GenerateKey(ctx, "late", tokens.KeySpec{Algorithm: "Ed25519"}); !errors.Is(err, tokens.ErrOffline) {
				t.Errorf("GenerateKey while offline: %v, want ErrOffline", err)
			}

			// RemoveKey deletes the key from memory and disk.
			if err := tok.Activate(ctx, pin); err != nil {
				t.Fatal(err)
			}
			if err := tok.RemoveKey(ctx, "p384"); err != nil {
				t.Fatalf("RemoveKey: %v", err)
			}
			if _, err := tok.Signer(ctx, "p384"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("Signer of a removed key: %v, want ErrKeyNotFound", err)
			}
			if err := tok.RemoveKey(ctx, "p384"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("RemoveKey twice: %v, want ErrKeyNotFound", err)
			}
			if tok, err = soft.Open(opts); err != nil {
				t.Fatal(err)
			}
			if err := tok.Activate(ctx, pin); err != nil {
				t.Fatal(err)
			}
			if _, err := tok.Signer(ctx, "p384"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("removed key is back after reopening: %v", err)
			}
			if infos, _ := tok.Keys(ctx); len(infos) != len(keyTypes)-1 {
				t.Errorf("Keys after RemoveKey = %d, want %d", len(infos), len(keyTypes)-1)
			}
			if des, _ := os.ReadDir(opts.Path); len(des) == 0 {
				t.Error("keystore folder is empty")
			} else {
				for _, de := range des {
					if strings.HasPrefix(de.Name(), "p384.") {
						t.Errorf("file %s of the removed key is still there", de.Name())
					}
				}
			}
			noTempFiles(t, opts.Path)

			if _, err := soft.Create(opts, pin); err == nil {
				t.Error("Create over a keystore with keys succeeded")
			}
		})
	}
}

func TestGenerateKeyErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok, err := soft.Create(soft.Options{Path: t.TempDir(), Type: "pkcs12"}, pin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		alias string
		spec  tokens.KeySpec
		is    error
		text  string
	}{
		{"k", tokens.KeySpec{Algorithm: "Ed25519"}, nil, "already has a key"},
		{"../escape", tokens.KeySpec{Algorithm: "Ed25519"}, nil, "invalid key alias"},
		{".hidden", tokens.KeySpec{Algorithm: "Ed25519"}, nil, "invalid key alias"},
		{"", tokens.KeySpec{Algorithm: "Ed25519"}, nil, "invalid key alias"},
		{"small", tokens.KeySpec{Algorithm: "RSA", Bits: 1024}, tokens.ErrUnsupported, "2048, 3072 or 4096"},
		{"curve", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-224"}, tokens.ErrUnsupported, "P-256, P-384 or P-521"},
		{"dsa", tokens.KeySpec{Algorithm: "DSA"}, tokens.ErrUnsupported, "RSA, ECDSA or Ed25519"},
	}
	for _, tt := range tests {
		_, err := tok.GenerateKey(ctx, tt.alias, tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.text) || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("GenerateKey(%q, %+v) = %v, want an error with %q", tt.alias, tt.spec, err, tt.text)
		}
	}
	if err := tok.ImportChain(ctx, "k", nil); err == nil {
		t.Error("ImportChain of an empty chain succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := soft.Open(soft.Options{Path: t.TempDir(), Type: "JKS"}); err == nil || !strings.Contains(err.Error(), "PKCS12 or PEM") {
		t.Errorf("Open with type JKS: %v", err)
	}
	if _, err := soft.Open(soft.Options{Type: "PEM"}); err == nil {
		t.Error("Open without a path succeeded")
	}

	tok, err := soft.Open(soft.Options{Path: filepath.Join(t.TempDir(), "missing"), Type: "PKCS12"})
	if err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Offline || !strings.HasPrefix(st.Reason, "keystore unreadable: ") {
		t.Errorf("status of a missing keystore = %v %q", st.State, st.Reason)
	}
	if err := tok.Activate(ctx, pin); err == nil || errors.Is(err, tokens.ErrBadPIN) {
		t.Errorf("Activate of a missing keystore: %v", err)
	}

	// A keystore with a damaged file is unreadable, and says which file.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.p12"), []byte("not a PKCS#12 file"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err = soft.Open(soft.Options{Path: dir, Type: "PKCS12"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Activate(ctx, pin); err == nil || !strings.Contains(err.Error(), "broken.p12") {
		t.Errorf("Activate with a damaged file: %v", err)
	}
	if st := tok.Status(ctx); st.State != tokens.Offline || !strings.Contains(st.Reason, "keystore unreadable: broken.p12") {
		t.Errorf("status with a damaged file = %v %q", st.State, st.Reason)
	}
}

// TestPEMFiles loads hand-written PEM keystores: a folder and a single file.
func TestPEMFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca, err := demo.NewCA("PEM Test CA")
	if err != nil {
		t.Fatal(err)
	}
	key, err := demo.NewKey("Ed25519")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("PEM signer", key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pkcs8PEM(t, key)

	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "signer.key"), keyPEM)
		// The chain file may list the issuer first: the signer goes to the front.
		write(t, filepath.Join(dir, "signer.pem"), demo.PEM(ca.Cert, cert))
		write(t, filepath.Join(dir, "README.txt"), []byte("not a key"))
		tok, err := soft.Open(soft.Options{Path: dir, Type: "PEM"})
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.Activate(ctx, ""); err != nil {
			t.Fatalf("Activate: %v", err)
		}
		chain, err := tok.Chain(ctx, "signer")
		if err != nil || !sameChain(chain, []*x509.Certificate{cert, ca.Cert}) {
			t.Fatalf("Chain = %d certificates, %v", len(chain), err)
		}
		s, err := tok.Signer(ctx, "signer")
		if err != nil {
			t.Fatal(err)
		}
		checkSigns(t, s, chain[0])
	})

	t.Run("single file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "one.pem")
		write(t, file, append(append([]byte{}, keyPEM...), demo.PEM(cert, ca.Cert)...))
		tok, err := soft.Open(soft.Options{Path: file, Type: "PEM"})
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.Activate(ctx, "any PIN"); err != nil {
			t.Fatalf("Activate: %v", err)
		}
		if infos, err := tok.Keys(ctx); err != nil || len(infos) != 1 || infos[0].Alias != "one" || !infos[0].HasChain {
			t.Fatalf("Keys = %+v, %v; want the key \"one\" with a chain", infos, err)
		}
		if _, err := tok.GenerateKey(ctx, "two", tokens.KeySpec{Algorithm: "Ed25519"}); !errors.Is(err, tokens.ErrUnsupported) {
			t.Errorf("GenerateKey in a single-file keystore: %v, want ErrUnsupported", err)
		}
		// A new chain is written back into the file, with the key.
		if err := tok.ImportChain(ctx, "one", []*x509.Certificate{cert}); err != nil {
			t.Fatal(err)
		}
		if err := tok.Activate(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if chain, _ := tok.Chain(ctx, "one"); !sameChain(chain, []*x509.Certificate{cert}) {
			t.Errorf("chain after ImportChain and reload = %d certificates, want 1", len(chain))
		}
	})

	bad := []struct{ name, text, want string }{
		{"encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted key"},
		{"pkcs1", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "PKCS#8"},
		{"nokey", string(demo.PEM(cert)), "no PRIVATE KEY"},
		{"twokeys", string(keyPEM) + string(keyPEM), "more than one private key"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), b.name+".pem")
			write(t, file, []byte(b.text))
			tok, err := soft.Open(soft.Options{Path: file, Type: "PEM"})
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Activate(ctx, ""); err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("Activate: %v, want an error with %q", err, b.want)
			}
		})
	}
}

func pkcs8PEM(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func write(t *testing.T, file string, data []byte) {
	t.Helper()
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUse signs on many goroutines while keys are generated,
// listed and removed; run with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok, err := soft.Create(soft.Options{Path: t.TempDir(), Type: "PEM"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateKey(ctx, "main", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				s, err := tok.Signer(ctx, "main")
				if err != nil {
					t.Error(err)
					return
				}
				d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
					t.Errorf("concurrent Sign: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 5 {
			alias := fmt.Sprintf("extra%d", i)
			if _, err := tok.GenerateKey(ctx, alias, tokens.KeySpec{Algorithm: "Ed25519"}); err != nil {
				t.Error(err)
			}
			if _, err := tok.Keys(ctx); err != nil {
				t.Error(err)
			}
			if err := tok.RemoveKey(ctx, alias); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}

// TestSignAll signs a batch through tokens.SignAll, the way workers do.
func TestSignAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok, err := soft.Create(soft.Options{Path: t.TempDir(), Type: "PKCS12"}, pin)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tok.GenerateKey(ctx, "batch", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-384"})
	if err != nil {
		t.Fatal(err)
	}
	var digests [][]byte
	for i := range 50 {
		d := sha256.Sum256(fmt.Appendf(nil, "document %d", i))
		digests = append(digests, d[:])
	}
	res, err := tokens.SignAll(ctx, tok, "batch", digests, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digests[i], r.Signature) {
			t.Errorf("item %d: %v, or the signature does not verify", i, r.Err)
		}
	}
	if _, err := tokens.SignAll(ctx, tok, "none", digests, crypto.SHA256); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("SignAll with an unknown alias: %v, want ErrKeyNotFound", err)
	}
}

// TestReloadKeepsHeldSigners: activating an Active token again (a reload
// of its keystore from disk) keeps the signers of its unchanged keys
// working: a request that got its signer before the reload signs after
// it. They failed with ErrOffline, so each reload answered 503 to the
// requests in flight. A key whose file now holds another key, or is gone,
// still stops signing.
func TestReloadKeepsHeldSigners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(t *testing.T, file string)
		signs bool
	}{
		{"unchanged", func(*testing.T, string) {}, true},
		{"replaced by another key", func(t *testing.T, file string) {
			k, err := demo.NewKey("EC-P256")
			if err != nil {
				t.Fatal(err)
			}
			write(t, file, pkcs8PEM(t, k))
		}, false},
		{"removed", func(t *testing.T, file string) {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tok, err := soft.Create(soft.Options{Path: dir, Type: "PEM"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tok.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
				t.Fatal(err)
			}
			held, err := tok.Signer(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(t, filepath.Join(dir, "k.key"))
			if err := tok.Activate(ctx, ""); err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256([]byte("in flight"))
			sig, err := held.Sign(rand.Reader, d[:], crypto.SHA256)
			if tt.signs && (err != nil || !ecdsa.VerifyASN1(held.Public().(*ecdsa.PublicKey), d[:], sig)) {
				t.Errorf("the signer held across the reload: %v", err)
			}
			if !tt.signs && !errors.Is(err, tokens.ErrOffline) {
				t.Errorf("the signer of a key changed on disk: %v, want ErrOffline", err)
			}
		})
	}
}

// TestImportChainFileChanged: two tokens over one keystore folder (two
// Signets sharing it, or an operator replacing a file before a reload). A
// chain imported through the token that still holds a key no longer in its
// file does not write that key back, and its removal of that key does not
// remove the file: both are refused with ErrKeyNotFound and the file keeps
// what it holds. It destroyed the new key made under the
// same alias (overwritten, or deleted), or brought a removed key back, as
// a database keystore already refuses (TestImportChainAfterRemoval).
func TestImportChainFileChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, typ := range []string{soft.TypePKCS12, soft.TypePEM} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := soft.Options{Path: dir, Type: typ}
			a, err := soft.Create(opts, pin)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := a.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := soft.Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Activate(ctx, pin); err != nil {
				t.Fatal(err)
			}
			sb, err := b.Signer(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, sb)
			if err != nil {
				t.Fatal(err)
			}
			cert, _ := x509.ParseCertificate(der)
			files := func() map[string][]byte {
				m := map[string][]byte{}
				des, _ := os.ReadDir(dir)
				for _, de := range des {
					m[de.Name()], _ = os.ReadFile(filepath.Join(dir, de.Name()))
				}
				return m
			}

			// Removed through a: b's chain does not bring it back.
			if err := a.RemoveKey(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if err := b.ImportChain(ctx, "k", []*x509.Certificate{cert}); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("chain of a key whose file was removed: %v, want ErrKeyNotFound", err)
			}
			if f := files(); len(f) != 0 {
				t.Errorf("the chain brought the removed key back: %v", slices.Collect(maps.Keys(f)))
			}
			// Made anew through a: b's chain of the old key does not
			// replace it.
			if _, err := a.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}); err != nil {
				t.Fatal(err)
			}
			made := files()
			if err := b.ImportChain(ctx, "k", []*x509.Certificate{cert}); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("chain of a key whose file holds another key now: %v, want ErrKeyNotFound", err)
			}
			if now := files(); !maps.EqualFunc(now, made, bytes.Equal) {
				t.Error("the old key's chain replaced the key made anew")
			}
			// Nor does b's removal of the old key remove the new one.
			if err := b.RemoveKey(ctx, "k"); !errors.Is(err, tokens.ErrKeyNotFound) {
				t.Errorf("removal of a key whose file holds another key now: %v, want ErrKeyNotFound", err)
			}
			if now := files(); !maps.EqualFunc(now, made, bytes.Equal) {
				t.Error("the removal of the old key removed the key made anew")
			}
		})
	}
}
