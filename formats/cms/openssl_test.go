package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// TestOpenSSLMatrix signs with every key type, scheme, digest, attached and
// detached, plain CMS and CAdES, and has openssl verify each signature and
// reject a tampered document. Ed25519, which openssl 3.0 cannot verify in
// CMS, is checked by its parts.
func TestOpenSSLMatrix(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ca := newCA(t)
	dir := t.TempDir()
	write(t, dir, "ca.pem", demo.PEM(ca.Cert))
	hashes := []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256, crypto.SHA3_384, crypto.SHA3_512}
	keys := []struct {
		spec    string
		schemes []cms.Scheme
		hashes  []crypto.Hash
	}{
		{"RSA-2048", []cms.Scheme{cms.PKCS1v15, cms.PSS}, hashes},
		{"RSA-3072", []cms.Scheme{cms.PKCS1v15, cms.PSS}, hashes},
		{"EC-P256", []cms.Scheme{cms.ECDSA}, hashes},
		{"EC-P384", []cms.Scheme{cms.ECDSA}, hashes},
		{"EC-P521", []cms.Scheme{cms.ECDSA}, hashes},
		{"Ed25519", []cms.Scheme{cms.Ed25519}, []crypto.Hash{crypto.SHA512}},
	}
	doc := []byte("Signet CMS test document\r\nwith binary \x00\xff bytes and a CRLF, which -binary must keep.\n")
	n := 0
	for _, kk := range keys {
		k := issue(t, ca, kk.spec)
		signerFile := write(t, dir, kk.spec+".pem", demo.PEM(k.cert))
		for _, scheme := range kk.schemes {
			for _, h := range kk.hashes {
				for _, detached := range []bool{false, true} {
					for _, cades := range []bool{false, true} {
						alg := cms.Algorithm{Hash: h, Scheme: scheme}
						levels := n % 3 // 0: no certificates, 1: signer, 2: signer and CA
						n++
						name := fmt.Sprintf("%s/%s/detached=%v/cades=%v/levels=%d", kk.spec, alg, detached, cades, levels)
						t.Run(name, func(t *testing.T) {
							opts := cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: levels, Algorithm: alg, CAdES: cades}
							der := signWith(t, k, opts, doc, detached)
							checkSignature(t, dir, k, der, doc, detached, cades, levels, signerFile)
						})
					}
				}
			}
		}
	}
}

func checkSignature(t *testing.T, dir string, k testKey, der, doc []byte, detached, cades bool, levels int, signerFile string) {
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(sd.Certificates) != levels {
		t.Errorf("%d certificates embedded, want %d", len(sd.Certificates), levels)
	}
	if got := sd.Content == nil; got != detached {
		t.Errorf("detached=%v, want %v", got, detached)
	}
	si := sd.Signers[0]
	if si.HasSigningCertificateV2 != cades {
		t.Errorf("signing-certificate-v2 present=%v, want %v", si.HasSigningCertificateV2, cades)
	}
	tamperedDoc := tamper(t, doc, doc[len(doc)-5:])
	var detachedDoc, tamperedDER []byte
	if detached {
		detachedDoc = doc
	} else {
		tamperedDER = tamper(t, der, doc)
	}
	if err := sd.Verify(bytes.NewReader(detachedDoc), k.cert); err != nil {
		t.Errorf("own Verify: %v", err)
	}
	if detached {
		if err := sd.Verify(bytes.NewReader(tamperedDoc), k.cert); !errors.Is(err, cms.ErrInvalidSignature) {
			t.Errorf("own Verify of a tampered document: %v, want ErrInvalidSignature", err)
		}
	} else {
		tsd, err := cms.Parse(tamperedDER)
		if err != nil {
			t.Fatal(err)
		}
		if err := tsd.Verify(nil, k.cert); !errors.Is(err, cms.ErrInvalidSignature) {
			t.Errorf("own Verify of tampered content: %v, want ErrInvalidSignature", err)
		}
	}

	if si.Algorithm.Scheme == cms.Ed25519 {
		// By parts: the message digest is SHA-512 of the document, and the
		// signature is pure Ed25519 over the DER signed attributes.
		sum := sha512.Sum512(doc)
		if !bytes.Equal(si.MessageDigest, sum[:]) {
			t.Error("Ed25519: message digest is not the SHA-512 of the document")
		}
		if !ed25519.Verify(k.key.Public().(ed25519.PublicKey), si.RawSignedAttrs, si.Signature) {
			t.Error("Ed25519: ed25519.Verify fails over the signed attributes")
		}
		return
	}

	extra := ""
	if levels == 0 {
		extra = signerFile
	}
	sigFile := write(t, dir, "sig.der", der)
	docArg := ""
	if detached {
		docArg = write(t, dir, "doc.bin", doc)
	}
	if out, err := runOpenSSL(verifyArgs(dir, sigFile, docArg, cades, extra)...); err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	if detached {
		docArg = write(t, dir, "doc.bin", tamperedDoc)
	} else {
		sigFile = write(t, dir, "sig.der", tamperedDER)
	}
	if out, err := runOpenSSL(verifyArgs(dir, sigFile, docArg, cades, extra)...); err == nil {
		t.Fatalf("openssl cms -verify accepts a tampered document:\n%s", out)
	}
}
