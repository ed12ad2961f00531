package cms_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

type pki struct {
	ca     *demo.CA
	caFile string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	ca, err := demo.NewCA("CMS test CA")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, demo.PEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return &pki{ca, f}
}

func (p *pki) signer(t testing.TB, spec string) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	key, err := demo.NewKey(spec)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := p.ca.Issue("signer "+spec, key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return key, []*x509.Certificate{cert, p.ca.Cert}
}

// sign makes a signature over doc the way workers do.
func sign(t testing.TB, key crypto.Signer, opts cms.Options, doc []byte, attached bool) []byte {
	t.Helper()
	s, err := cms.NewSigner(opts)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Hash().New()
	h.Write(doc)
	p, err := s.Prepare(h.Sum(nil), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.Sign(rand.Reader, p.Input(), s.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	var content []byte
	if attached {
		content = doc
	}
	der, err := p.Encode(sig, content)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func openssl(t *testing.T, der, content []byte, caFile string, cades bool) error {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "sig.der")
	os.WriteFile(in, der, 0o600)
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", in, "-CAfile", caFile, "-purpose", "any", "-out", filepath.Join(dir, "out")}
	if cades {
		args = append(args, "-cades")
	}
	if content != nil {
		cf := filepath.Join(dir, "content")
		os.WriteFile(cf, content, 0o600)
		args = append(args, "-content", cf)
	}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func TestSignVerifyWithOpenSSL(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	doc := []byte("document under test\n")
	cases := []struct {
		spec, alg string
	}{
		{"RSA-2048", "SHA256withRSA"},
		{"RSA-2048", "SHA512withRSA"},
		{"RSA-2048", "SHA3-256withRSA"},
		{"RSA-2048", "SHA256withRSAandMGF1"},
		{"RSA-3072", "SHA384withRSAandMGF1"},
		{"EC-P256", "SHA256withECDSA"},
		{"EC-P256", "SHA3-256withECDSA"},
		{"EC-P384", "SHA384withECDSA"},
		{"EC-P521", "SHA512withECDSA"},
	}
	for _, c := range cases {
		key, chain := p.signer(t, c.spec)
		alg, err := cms.ParseSignatureAlgorithm(c.alg)
		if err != nil {
			t.Fatal(err)
		}
		if alg.String() != c.alg {
			t.Errorf("%s parses to %s", c.alg, alg)
		}
		for _, cades := range []bool{false, true} {
			for _, attached := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/cades=%v/attached=%v", c.spec, c.alg, cades, attached), func(t *testing.T) {
					der := sign(t, key, cms.Options{Chain: chain, IncludeCertificates: -1, Algorithm: alg, CAdES: cades}, doc, attached)
					var content []byte
					if !attached {
						content = doc
					}
					if err := openssl(t, der, content, p.caFile, cades); err != nil {
						t.Fatalf("openssl rejects it: %v", err)
					}
					sd, err := cms.Parse(der)
					if err != nil {
						t.Fatal(err)
					}
					if sd.Signers[0].Algorithm != alg {
						t.Fatalf("parsed algorithm %v, want %v", sd.Signers[0].Algorithm, alg)
					}
					if err := sd.Verify(bytes.NewReader(doc)); err != nil {
						t.Fatal(err)
					}
					if !attached {
						if err := openssl(t, der, []byte("tampered"), p.caFile, cades); err == nil {
							t.Fatal("openssl accepts a tampered document")
						}
						if sd.Verify(bytes.NewReader([]byte("tampered"))) == nil {
							t.Fatal("Verify accepts a tampered document")
						}
					}
				})
			}
		}
	}
}

func TestEd25519ByParts(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	key, chain := p.signer(t, "Ed25519")
	alg, _ := cms.DefaultAlgorithm(key.Public())
	der := sign(t, key, cms.Options{Chain: chain, Algorithm: alg, IncludeCertificates: -1, CAdES: true}, []byte("doc"), false)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if sd.Signers[0].Algorithm.Hash != crypto.SHA512 || sd.Signers[0].Algorithm.Scheme != cms.Ed25519 {
		t.Fatalf("algorithm %v", sd.Signers[0].Algorithm)
	}
	if err := sd.Verify(bytes.NewReader([]byte("doc"))); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.Ed25519}}); err == nil {
		t.Fatal("Ed25519 with SHA-256 accepted; RFC 8419 requires SHA-512")
	}
}

func TestIncludeCertificateLevels(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	key, chain := p.signer(t, "EC-P256")
	alg, _ := cms.DefaultAlgorithm(key.Public())
	for levels, want := range map[int]int{-1: 2, 0: 0, 1: 1, 2: 2, 5: 2} {
		sd, err := cms.Parse(sign(t, key, cms.Options{Chain: chain, Algorithm: alg, IncludeCertificates: levels}, []byte("d"), true))
		if err != nil {
			t.Fatal(err)
		}
		if len(sd.Certificates) != want {
			t.Errorf("levels %d: %d certificates, want %d", levels, len(sd.Certificates), want)
		}
	}
}

// TestIndependentParsers: digitorus/pkcs7 reads and verifies what Signet
// writes, and Signet reads what openssl writes.
func TestIndependentParsers(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	key, chain := p.signer(t, "EC-P256")
	alg, _ := cms.DefaultAlgorithm(key.Public())
	doc := []byte("interop")
	der := sign(t, key, cms.Options{Chain: chain, Algorithm: alg, IncludeCertificates: -1, CAdES: true}, doc, true)
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatalf("pkcs7: %v", err)
	}
	if !bytes.Equal(p7.Content, doc) {
		t.Fatal("pkcs7 reads other content")
	}
	if err := p7.Verify(); err != nil {
		t.Fatalf("pkcs7 verify: %v", err)
	}

	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), demo.PEM(chain[0]), 0o644)
	os.WriteFile(filepath.Join(dir, "doc"), doc, 0o644)
	out, err := exec.Command("openssl", "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", filepath.Join(dir, "doc"),
		"-signer", filepath.Join(dir, "cert.pem"), "-inkey", filepath.Join(dir, "key.pem"), "-md", "sha256").Output()
	if err != nil {
		t.Fatalf("openssl cms -sign: %v", err)
	}
	sd, err := cms.Parse(out)
	if err != nil {
		t.Fatalf("parse openssl's signature: %v", err)
	}
	if err := sd.Verify(nil); err != nil {
		t.Fatalf("verify openssl's signature: %v", err)
	}
}

func TestPrepareChecksDigestLength(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	key, chain := p.signer(t, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(make([]byte, 20), time.Now()); err == nil {
		t.Fatal("a 20-byte SHA-256 digest was accepted")
	}
	if _, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PKCS1v15}}); err == nil {
		t.Fatal("an RSA scheme was accepted for an ECDSA key")
	}
	_ = key
}

func TestParseRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{nil, []byte("garbage"), {0x30, 0x03, 0x02, 0x01, 0x01}} {
		if _, err := cms.Parse(in); err == nil {
			t.Fatalf("Parse(%x) succeeded", in)
		}
	}
}

// BenchmarkPrepareEncode measures the per-item CMS cost of a CAdES-B
// signature without the signing itself.
func BenchmarkPrepareEncode(b *testing.B) {
	p := newPKI(b)
	key, chain := p.signer(b, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, IncludeCertificates: -1, CAdES: true})
	if err != nil {
		b.Fatal(err)
	}
	digest := make([]byte, 32)
	sig, _ := key.Sign(rand.Reader, digest, crypto.SHA256)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		pd, err := s.Prepare(digest, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pd.Encode(sig, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	p := newPKI(b)
	key, chain := p.signer(b, "EC-P256")
	der := sign(b, key, cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, IncludeCertificates: -1, CAdES: true}, []byte("x"), false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cms.Parse(der); err != nil {
			b.Fatal(err)
		}
	}
}
