package cms_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// testKey is a key with a certificate issued by the test CA.
type testKey struct {
	spec string
	key  crypto.Signer
	cert *x509.Certificate
}

func newCA(t testing.TB) *demo.CA {
	t.Helper()
	ca, err := demo.NewCA("Signet CMS Test CA")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *demo.CA, spec string) testKey {
	t.Helper()
	k, err := demo.NewKey(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ca.Issue("CMS test "+spec, k.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{spec, k, c}
}

// signWith makes a SignedData over doc the way a worker does: hash the content
// as a stream, prepare, sign Input with the key, encode.
func signWith(t testing.TB, k testKey, opts cms.Options, doc []byte, detached bool) []byte {
	t.Helper()
	s, err := cms.NewSigner(opts)
	if err != nil {
		t.Fatal(err)
	}
	digest, n, err := s.Digest(bytes.NewReader(doc))
	if err != nil || n != int64(len(doc)) {
		t.Fatalf("digest: %d bytes, %v", n, err)
	}
	p, err := s.Prepare(digest, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	content := doc
	if detached {
		content = nil
	}
	der, err := p.Encode(sig, content)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// needOpenSSL skips the test when openssl is not installed.
func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
}

// runOpenSSL runs openssl and returns its combined output and error.
func runOpenSSL(args ...string) ([]byte, error) {
	return exec.Command("openssl", args...).CombinedOutput()
}

// write writes data into dir/name and returns the path.
func write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyArgs are the openssl arguments that verify sig.der in dir against
// the CA in ca.pem: doc is the detached content file or "".
func verifyArgs(dir, sigFile, doc string, cades bool, extraCerts string) []string {
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
		"-CAfile", filepath.Join(dir, "ca.pem"), "-purpose", "any", "-out", os.DevNull}
	if doc != "" {
		args = append(args, "-content", doc)
	}
	if cades {
		args = append(args, "-cades")
	}
	if extraCerts != "" {
		args = append(args, "-certfile", extraCerts)
	}
	return args
}

// keyPEM encodes a private key as PKCS#8 PEM for openssl.
func keyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// tamper returns a copy of b with the last byte of the first occurrence of
// part flipped.
func tamper(t testing.TB, b, part []byte) []byte {
	t.Helper()
	i := bytes.Index(b, part)
	if i < 0 {
		t.Fatal("tamper: part not found")
	}
	out := bytes.Clone(b)
	out[i+len(part)-1] ^= 1
	return out
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
