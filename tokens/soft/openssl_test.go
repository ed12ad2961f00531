package soft_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

func openssl(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestOpenSSLInterop loads PKCS#12 files made by `openssl pkcs12 -export`
// (OpenSSL 3 defaults and the older 3DES certificate encryption), and has
// openssl read the files the token writes.
func TestOpenSSLInterop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca, err := demo.NewCA("Interop CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ks := filepath.Join(dir, "keystore")
	if err := os.Mkdir(ks, 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	write(t, caFile, demo.PEM(ca.Cert))

	type made struct {
		key   crypto.Signer
		chain []*x509.Certificate
	}
	keys := map[string]made{}
	for _, c := range []struct{ alias, spec string }{
		{"rsa", "RSA-2048"}, {"ec", "EC-P384"}, {"ed", "Ed25519"}, {"legacy", "EC-P256"},
	} {
		key, err := demo.NewKey(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.Issue("Interop "+c.alias, key.Public(), demo.DocumentSigning, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyFile, certFile := filepath.Join(dir, c.alias+".key"), filepath.Join(dir, c.alias+".crt")
		write(t, keyFile, pkcs8PEM(t, key))
		write(t, certFile, demo.PEM(cert))
		args := []string{"pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-certfile", caFile,
			"-name", c.alias, "-passout", "pass:" + pin, "-out", filepath.Join(ks, c.alias+".p12")}
		if c.alias == "legacy" {
			args = append(args, "-descert")
		}
		openssl(t, args...)
		keys[c.alias] = made{key, []*x509.Certificate{cert, ca.Cert}}
	}

	tok, err := soft.Open(soft.Options{Path: ks, Type: "PKCS12"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Activate(ctx, "not the PIN"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Fatalf("Activate with a wrong PIN: %v, want ErrBadPIN", err)
	}
	if err := tok.Activate(ctx, pin); err != nil {
		t.Fatalf("Activate: %v", err)
	}
	for alias, m := range keys {
		chain, err := tok.Chain(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		if !sameChain(chain, m.chain) {
			t.Errorf("%s: chain read from the openssl file is not the chain exported", alias)
		}
		s, err := tok.Signer(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		if !m.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
			t.Errorf("%s: key read from the openssl file is not the key exported", alias)
		}
		checkSigns(t, s, chain[0])
	}

	// openssl reads what the token writes (go-pkcs12's Modern encoder),
	// Ed25519 included.
	if _, err := tok.GenerateKey(ctx, "fresh", tokens.KeySpec{Algorithm: "Ed25519"}); err != nil {
		t.Fatal(err)
	}
	freshSigner, err := tok.Signer(ctx, "fresh")
	if err != nil {
		t.Fatal(err)
	}
	freshCert, err := ca.Issue("Fresh", freshSigner.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportChain(ctx, "fresh", []*x509.Certificate{freshCert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	out := openssl(t, "pkcs12", "-in", filepath.Join(ks, "fresh.p12"), "-passin", "pass:"+pin, "-nodes")
	var gotKey crypto.PublicKey
	var gotCerts []*x509.Certificate
	for rest := out; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			gotKey = k.(crypto.Signer).Public()
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			gotCerts = append(gotCerts, c)
		}
	}
	if gotKey == nil || !freshSigner.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(gotKey) {
		t.Error("openssl did not read the generated key back")
	}
	if !sameChain(gotCerts, []*x509.Certificate{freshCert, ca.Cert}) {
		t.Errorf("openssl read %d certificates, want the imported chain of 2", len(gotCerts))
	}
	// and the file really is protected by the PIN.
	if out, err := exec.Command("openssl", "pkcs12", "-in", filepath.Join(ks, "fresh.p12"), "-passin", "pass:not the PIN", "-noout").CombinedOutput(); err == nil {
		t.Errorf("openssl opened the keystore file with a wrong password:\n%s", out)
	}
}

// TestSingleP12File opens one exported .p12 file as a keystore with one key,
// named after the file, as SignServer's KEYSTOREPATH does.
func TestSingleP12File(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ca, err := demo.NewCA("Single File CA")
	if err != nil {
		t.Fatal(err)
	}
	key, err := demo.NewKey("RSA-3072")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("Single", key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "k.pem"), pkcs8PEM(t, key))
	write(t, filepath.Join(dir, "c.pem"), demo.PEM(cert))
	file := filepath.Join(dir, "signer1.p12")
	openssl(t, "pkcs12", "-export", "-inkey", filepath.Join(dir, "k.pem"), "-in", filepath.Join(dir, "c.pem"),
		"-passout", "pass:"+pin, "-out", file)

	tok, err := soft.Open(soft.Options{Path: file, Type: "PKCS12"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name() != "signer1.p12" {
		t.Errorf("Name = %q, want the file name", tok.Name())
	}
	if err := tok.Activate(ctx, pin); err != nil {
		t.Fatal(err)
	}
	infos, err := tok.Keys(ctx)
	if err != nil || len(infos) != 1 || infos[0].Alias != "signer1" || infos[0].Bits != 3072 || !infos[0].HasChain {
		t.Fatalf("Keys = %+v, %v; want one RSA 3072 key \"signer1\" with a chain", infos, err)
	}
	if err := tok.RemoveKey(ctx, "signer1"); !errors.Is(err, tokens.ErrUnsupported) {
		t.Errorf("RemoveKey in a single-file keystore: %v, want ErrUnsupported", err)
	}
	// Adding the CA certificate rewrites the file; openssl still reads it.
	if err := tok.ImportChain(ctx, "signer1", []*x509.Certificate{cert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	openssl(t, "pkcs12", "-in", file, "-passin", "pass:"+pin, "-noout")
	if err := tok.Activate(ctx, pin); err != nil {
		t.Fatal(err)
	}
	if chain, _ := tok.Chain(ctx, "signer1"); !sameChain(chain, []*x509.Certificate{cert, ca.Cert}) {
		t.Errorf("chain after ImportChain = %d certificates, want 2", len(chain))
	}
}
