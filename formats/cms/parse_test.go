package cms_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// TestParseOpenSSL reads and verifies signatures made by openssl cms -sign,
// and Bytes re-encodes each byte for byte.
func TestParseOpenSSL(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ca := newCA(t)
	dir := t.TempDir()
	doc := []byte("signed by openssl\n")
	docFile := write(t, dir, "doc.txt", doc)
	caKey := testKey{"CA", ca.Key, ca.Cert} // the CA certificate has a subjectKeyIdentifier
	cases := []struct {
		name     string
		key      testKey
		args     []string
		detached bool
		want     cms.Algorithm
		cades    bool
		noAttrs  bool
		ski      bool
	}{
		{"ECDSA attached", issue(t, ca, "EC-P256"), []string{"-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, false, false, false},
		{"ECDSA P-384 CAdES detached", issue(t, ca, "EC-P384"), []string{"-md", "sha384", "-cades"}, true, cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.ECDSA}, true, false, false},
		{"RSA PKCS1 SHA-512", issue(t, ca, "RSA-2048"), []string{"-md", "sha512", "-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.PKCS1v15}, false, false, false},
		{"RSA-PSS detached", issue(t, ca, "RSA-2048"), []string{"-keyopt", "rsa_padding_mode:pss"}, true, cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PSS}, false, false, false},
		{"RSA-PSS SHA-384 salt 48", issue(t, ca, "RSA-3072"), []string{"-md", "sha384", "-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:48", "-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.PSS}, false, false, false},
		{"RSA SHA3-256", issue(t, ca, "RSA-2048"), []string{"-md", "sha3-256", "-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA3_256, Scheme: cms.PKCS1v15}, false, false, false},
		{"no signed attributes", issue(t, ca, "RSA-2048"), []string{"-noattr", "-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PKCS1v15}, false, true, false},
		{"subjectKeyIdentifier", caKey, []string{"-keyid", "-nodetach"}, false, cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, false, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			certFile := write(t, dir, "signer.pem", demo.PEM(c.key.cert))
			keyFile := write(t, dir, "signer.key", keyPEM(t, c.key.key))
			out := filepath.Join(dir, "sig.der")
			args := append([]string{"cms", "-sign", "-binary", "-in", docFile, "-signer", certFile, "-inkey", keyFile, "-outform", "DER", "-out", out}, c.args...)
			if msg, err := runOpenSSL(args...); err != nil {
				t.Fatalf("openssl cms -sign: %v\n%s", err, msg)
			}
			der := readFile(t, out)
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			si := sd.Signers[0]
			if si.Algorithm != c.want {
				t.Errorf("algorithm %v, want %v", si.Algorithm, c.want)
			}
			if (sd.Content == nil) != c.detached || (!c.detached && !bytes.Equal(sd.Content, doc)) {
				t.Error("content differs")
			}
			if si.HasSigningCertificateV2 != c.cades || (si.RawSignedAttrs == nil) != c.noAttrs || (si.SubjectKeyID != nil) != c.ski {
				t.Errorf("signing-certificate-v2 %v, signed attributes %v, subjectKeyIdentifier %x", si.HasSigningCertificateV2, si.RawSignedAttrs != nil, si.SubjectKeyID)
			}
			if !c.noAttrs && (si.SigningTime.IsZero() || time.Since(si.SigningTime) > time.Hour || !si.ContentType.Equal(cms.OIDData)) {
				t.Errorf("signing time %v, content type %v", si.SigningTime, si.ContentType)
			}
			if cert, err := sd.SignerCertificate(0); err != nil || !cert.Equal(c.key.cert) {
				t.Errorf("SignerCertificate: %v", err)
			}
			if err := sd.Verify(bytes.NewReader(doc)); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if c.detached {
				if err := sd.Verify(strings.NewReader("tampered")); !errors.Is(err, cms.ErrInvalidSignature) {
					t.Errorf("Verify of a tampered document: %v", err)
				}
			}
			again, err := sd.Bytes()
			if err != nil || !bytes.Equal(again, der) {
				t.Errorf("Bytes does not give back openssl's encoding: %v", err)
			}
		})
	}
}

// TestParseDigitorus reads and verifies signatures made by digitorus/pkcs7.
func TestParseDigitorus(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	doc := []byte("signed by digitorus/pkcs7")
	for _, spec := range []string{"EC-P256", "RSA-2048"} {
		for _, detached := range []bool{false, true} {
			k := issue(t, ca, spec)
			t.Run(spec+map[bool]string{false: "/attached", true: "/detached"}[detached], func(t *testing.T) {
				p7, err := pkcs7.NewSignedData(doc)
				if err != nil {
					t.Fatal(err)
				}
				p7.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
				if err := p7.AddSignerChain(k.cert, k.key, []*x509.Certificate{ca.Cert}, pkcs7.SignerInfoConfig{}); err != nil {
					t.Fatal(err)
				}
				if detached {
					p7.Detach()
				}
				der, err := p7.Finish()
				if err != nil {
					t.Fatal(err)
				}
				sd, err := cms.Parse(der)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(sd.Certificates) != 2 || sd.Signers[0].Algorithm.Hash != crypto.SHA256 || (sd.Content == nil) != detached {
					t.Errorf("%d certificates, algorithm %v, detached %v", len(sd.Certificates), sd.Signers[0].Algorithm, sd.Content == nil)
				}
				if err := sd.Verify(bytes.NewReader(doc)); err != nil {
					t.Errorf("Verify: %v", err)
				}
				if err := sd.Verify(strings.NewReader("tampered")); detached && !errors.Is(err, cms.ErrInvalidSignature) {
					t.Errorf("Verify of a tampered document: %v", err)
				}
			})
		}
	}
	// digitorus/pkcs7 reads Signet's signatures too.
	k := issue(t, ca, "EC-P256")
	der := signWith(t, k, cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: -1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.ECDSA}, CAdES: true}, doc, false)
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.Verify(); err != nil || !bytes.Equal(p7.Content, doc) {
		t.Fatalf("digitorus/pkcs7 rejects Signet's signature: %v", err)
	}
}

// TestAddUnsignedAttribute extends a CAdES-B-B signature to B-T with a real
// RFC 3161 token over the signature value: openssl still verifies the
// signature, openssl ts verifies the token, and the parser reads it back.
func TestAddUnsignedAttribute(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ca := newCA(t)
	dir := t.TempDir()
	write(t, dir, "ca.pem", demo.PEM(ca.Cert))
	k := issue(t, ca, "RSA-2048")
	tsaKey, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	tsaCert, err := ca.Issue("Test TSA", tsaKey.Public(), demo.TimeStamping, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("a document to time-stamp")
	der := signWith(t, k, cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PSS}, CAdES: true}, doc, false)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := sd.Bytes(); err != nil || !bytes.Equal(again, der) {
		t.Fatalf("unchanged Bytes differs from the parsed encoding: %v", err)
	}

	imprint := sha256.Sum256(sd.Signers[0].Signature)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: imprint[:], Time: time.Now(),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, AddTSACertificate: true}
	resp, err := ts.CreateResponseWithOpts(tsaCert, tsaKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	parsedResp, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	token := parsedResp.RawToken

	if err := sd.AddUnsignedAttribute(0, cms.OIDSignatureTimeStampToken, token); err != nil {
		t.Fatal(err)
	}
	extended, err := sd.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	sigFile := write(t, dir, "sig-t.der", extended)
	if out, err := runOpenSSL(verifyArgs(dir, sigFile, "", true, "")...); err != nil {
		t.Fatalf("openssl cms -verify of the extended signature: %v\n%s", err, out)
	}
	if out, err := runOpenSSL(verifyArgs(dir, write(t, dir, "tampered.der", tamper(t, extended, doc)), "", true, "")...); err == nil {
		t.Fatalf("openssl verifies tampered content:\n%s", out)
	}

	back, err := cms.Parse(extended)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(nil); err != nil {
		t.Fatal(err)
	}
	ua := back.Signers[0].UnsignedAttributes
	if len(ua) != 1 || !ua[0].Type.Equal(cms.OIDSignatureTimeStampToken) || len(ua[0].Values) != 1 || !bytes.Equal(ua[0].Values[0].FullBytes, token) {
		t.Fatalf("unsigned attributes after the round trip: %+v", ua)
	}
	tokenFile := write(t, dir, "token.der", ua[0].Values[0].FullBytes)
	if out, err := runOpenSSL("ts", "-verify", "-token_in", "-in", tokenFile, "-digest", hex.EncodeToString(imprint[:]), "-CAfile", filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatalf("openssl ts -verify of the signature-time-stamp: %v\n%s", err, out)
	}

	// A second attribute is kept in DER order, and re-encoding is stable.
	if err := back.AddUnsignedAttribute(0, asn1.ObjectIdentifier{1, 2, 3}, []byte{0x05, 0x00}); err != nil {
		t.Fatal(err)
	}
	twice, err := back.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	final, err := cms.Parse(twice)
	if err != nil {
		t.Fatal(err)
	}
	ua = final.Signers[0].UnsignedAttributes
	if len(ua) != 2 || !ua[0].Type.Equal(asn1.ObjectIdentifier{1, 2, 3}) {
		t.Fatalf("unsigned attributes %v, want the shorter one first", ua)
	}
	if again, err := final.Bytes(); err != nil || !bytes.Equal(again, twice) {
		t.Fatalf("re-encoding is not stable: %v", err)
	}
	if out, err := runOpenSSL(verifyArgs(dir, write(t, dir, "sig-t2.der", twice), "", true, "")...); err != nil {
		t.Fatalf("openssl cms -verify with two unsigned attributes: %v\n%s", err, out)
	}

	for _, c := range []struct {
		name  string
		i     int
		value []byte
	}{
		{"no such signer", 1, []byte{0x05, 0x00}},
		{"negative signer", -1, []byte{0x05, 0x00}},
		{"not DER", 0, []byte{0x30, 0x05, 0x00}},
		{"two elements", 0, []byte{0x05, 0x00, 0x05, 0x00}},
		{"empty", 0, nil},
	} {
		if err := sd.AddUnsignedAttribute(c.i, cms.OIDSignatureTimeStampToken, c.value); err == nil {
			t.Errorf("%s: AddUnsignedAttribute accepted it", c.name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	good := signWith(t, k, cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}}, []byte("x"), false)
	indefinite := append([]byte{0x30, 0x80}, good[2+2:]...) // the outer length is 0x82 xx xx
	indefinite = append(indefinite, 0, 0)

	p7, _ := pkcs7.NewSignedData([]byte("x"))
	p7.AddSigner(k.cert, k.key, pkcs7.SignerInfoConfig{}) // SHA-1 by default
	sha1DER, _ := p7.Finish()

	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, cms.ErrMalformed},
		{"garbage", []byte("garbage"), cms.ErrMalformed},
		{"truncated", good[:len(good)-1], cms.ErrMalformed},
		{"trailing data", append(bytes.Clone(good), 1), cms.ErrMalformed},
		{"BER, trailing data", append(bytes.Clone(indefinite), 0, 1), cms.ErrMalformed},
		{"BER, truncated", indefinite[:len(indefinite)-2], cms.ErrMalformed},
		{"BER, unbounded nesting", bytes.Repeat([]byte{0x30, 0x80}, 100000), cms.ErrMalformed},
		{"not SignedData", []byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}, cms.ErrMalformed},
		{"SHA-1", sha1DER, cms.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := cms.Parse(c.in); !errors.Is(err, c.want) {
				t.Fatalf("Parse: %v, want %v", err, c.want)
			}
		})
	}
	// BER with indefinite lengths, and the zero padding of a PDF
	// signature's /Contents, are read as the DER they stand for.
	for name, in := range map[string][]byte{"BER indefinite length": indefinite, "DER, zero padding": append(bytes.Clone(good), 0, 0, 0),
		"BER, zero padding": append(bytes.Clone(indefinite), 0, 0, 0)} {
		sd, err := cms.Parse(in)
		if err != nil {
			t.Fatalf("%s: Parse: %v", name, err)
		}
		if again, err := sd.Bytes(); err != nil || !bytes.Equal(again, good) {
			t.Errorf("%s: not read as the DER it stands for: %v", name, err)
		}
	}
}

// TestParseBER reads and verifies the BER signatures of openssl cms -sign
// -stream (indefinite lengths, eContent in chunks), as NSS (poppler's
// pdfsig, LibreOffice) and Bouncy Castle's streaming generators write
// them: RFC 5652 allows BER, and openssl cms -verify accepts them.
func TestParseBER(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ca := newCA(t)
	dir := t.TempDir()
	doc := bytes.Repeat([]byte("signed by openssl, streamed\n"), 1000) // several eContent chunks
	docFile := write(t, dir, "doc.txt", doc)
	k := issue(t, ca, "EC-P256")
	certFile := write(t, dir, "signer.pem", demo.PEM(k.cert))
	keyFile := write(t, dir, "signer.key", keyPEM(t, k.key))
	out := filepath.Join(dir, "sig.ber")
	if msg, err := runOpenSSL("cms", "-sign", "-binary", "-cades", "-stream", "-nodetach", "-in", docFile, "-signer", certFile, "-inkey", keyFile, "-outform", "DER", "-out", out); err != nil {
		t.Fatalf("openssl cms -sign -stream: %v\n%s", err, msg)
	}
	ber := readFile(t, out)
	if ber[1] != 0x80 {
		t.Fatalf("openssl wrote a definite length (%x); the test needs BER", ber[:4])
	}
	sd, err := cms.Parse(ber)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !bytes.Equal(sd.Content, doc) {
		t.Errorf("the chunked eContent was not read whole (%d bytes)", len(sd.Content))
	}
	if err := sd.Verify(nil); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// A changed byte of the content, inside one of its chunks, fails.
	at := bytes.Index(ber, []byte("streamed"))
	tampered := bytes.Clone(ber)
	tampered[at] ^= 0x20
	if sd, err := cms.Parse(tampered); err != nil {
		t.Fatalf("Parse of the changed signature: %v", err)
	} else if err := sd.Verify(nil); !errors.Is(err, cms.ErrInvalidSignature) {
		t.Errorf("Verify of a changed content: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	other := issue(t, ca, "EC-P256")
	doc := []byte("doc")
	detached := signWith(t, k, cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 0,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}}, doc, true)
	sd, err := cms.Parse(detached)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Verify(bytes.NewReader(doc)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("no certificate: %v", err)
	}
	if err := sd.Verify(nil, k.cert); err == nil || !strings.Contains(err.Error(), "detached") {
		t.Errorf("no content: %v", err)
	}
	if err := sd.Verify(bytes.NewReader(doc), other.cert, k.cert); err != nil {
		t.Errorf("signer certificate among others: %v", err)
	}
	// A certificate with the signer's issuer and serial but another key.
	impostor := *other.cert
	impostor.SerialNumber = k.cert.SerialNumber
	if err := sd.Verify(bytes.NewReader(doc), &impostor); !errors.Is(err, cms.ErrInvalidSignature) {
		t.Errorf("another key: %v, want ErrInvalidSignature", err)
	}
}

func TestAlgorithmNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		want cms.Algorithm
		str  string
	}{
		{"SHA256withRSA", cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PKCS1v15}, "SHA256withRSA"},
		{"sha384withrsa", cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.PKCS1v15}, "SHA384withRSA"},
		{"SHA3-512withRSA", cms.Algorithm{Hash: crypto.SHA3_512, Scheme: cms.PKCS1v15}, "SHA3-512withRSA"},
		{"SHA256withRSAandMGF1", cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PSS}, "SHA256withRSAandMGF1"},
		{"SHA3-256withRSAandMGF1", cms.Algorithm{Hash: crypto.SHA3_256, Scheme: cms.PSS}, "SHA3-256withRSAandMGF1"},
		{"SHA512withECDSA", cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.ECDSA}, "SHA512withECDSA"},
		{"SHA3-384withECDSA", cms.Algorithm{Hash: crypto.SHA3_384, Scheme: cms.ECDSA}, "SHA3-384withECDSA"},
		{"Ed25519", cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.Ed25519}, "Ed25519"},
		{"EdDSA", cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.Ed25519}, "Ed25519"},
	} {
		got, err := cms.ParseSignatureAlgorithm(c.name)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseSignatureAlgorithm(%q) = %v (%s), %v; want %v (%s)", c.name, got, got, err, c.want, c.str)
		}
	}
	for _, bad := range []string{"", "SHA1withRSA", "SHA256withDSA", "MD5withRSA", "SHA256"} {
		if _, err := cms.ParseSignatureAlgorithm(bad); !errors.Is(err, cms.ErrUnsupported) {
			t.Errorf("ParseSignatureAlgorithm(%q): %v, want ErrUnsupported", bad, err)
		}
	}
	for _, c := range []struct {
		name string
		want crypto.Hash
	}{
		{"SHA-256", crypto.SHA256}, {"SHA256", crypto.SHA256}, {"sha256", crypto.SHA256}, {"SHA-384", crypto.SHA384},
		{"SHA-512", crypto.SHA512}, {"SHA3-256", crypto.SHA3_256}, {"SHA3_256", crypto.SHA3_256}, {"sha3-384", crypto.SHA3_384}, {"SHA3-512", crypto.SHA3_512},
	} {
		got, err := cms.ParseHash(c.name)
		if err != nil || got != c.want {
			t.Errorf("ParseHash(%q) = %v, %v", c.name, got, err)
		}
		if back, _ := cms.ParseHash(cms.HashName(got)); back != got {
			t.Errorf("HashName(%v) = %q does not parse back", got, cms.HashName(got))
		}
	}
	if _, err := cms.ParseHash("SHA-1"); !errors.Is(err, cms.ErrUnsupported) {
		t.Errorf("ParseHash(SHA-1): %v", err)
	}

	ca := newCA(t)
	for _, c := range []struct {
		spec string
		want cms.Algorithm
	}{
		{"RSA-2048", cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PKCS1v15}},
		{"EC-P256", cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}},
		{"EC-P384", cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.ECDSA}},
		{"EC-P521", cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.ECDSA}},
		{"Ed25519", cms.Algorithm{Hash: crypto.SHA512, Scheme: cms.Ed25519}},
	} {
		k := issue(t, ca, c.spec)
		got, err := cms.DefaultAlgorithm(k.key.Public())
		if err != nil || got != c.want {
			t.Errorf("DefaultAlgorithm(%s) = %v, %v; want %v", c.spec, got, err, c.want)
		}
		if err := got.Check(k.key.Public()); err != nil {
			t.Errorf("%s: the default fails its own check: %v", c.spec, err)
		}
		wantOpts := any(c.want.Hash)
		switch k.key.Public().(type) {
		case ed25519.PublicKey:
			wantOpts = crypto.Hash(0)
		case *rsa.PublicKey, *ecdsa.PublicKey:
		}
		if got.SignerOpts() != wantOpts {
			t.Errorf("%s: SignerOpts %v, want %v", c.spec, got.SignerOpts(), wantOpts)
		}
	}
	rsaKey := issue(t, ca, "RSA-2048")
	pss := cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.PSS}
	if o, ok := pss.SignerOpts().(*rsa.PSSOptions); !ok || o.SaltLength != 48 || o.Hash != crypto.SHA384 {
		t.Errorf("PSS SignerOpts %#v, want salt 48 and SHA-384", pss.SignerOpts())
	}
	if err := (cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}).Check(rsaKey.key.Public()); !errors.Is(err, cms.ErrUnsupported) {
		t.Errorf("ECDSA on an RSA key: %v", err)
	}
}

func BenchmarkParseVerify(b *testing.B) {
	ca := newCA(b)
	k := issue(b, ca, "EC-P256")
	doc := bytes.Repeat([]byte("x"), 1024)
	der := signWith(b, k, cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: -1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true}, doc, false)
	b.ReportAllocs()
	for b.Loop() {
		sd, err := cms.Parse(der)
		if err != nil {
			b.Fatal(err)
		}
		if err := sd.Verify(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSigningCertificateV2: the signing-certificate-v2 attribute of a
// signature made elsewhere (digitorus/pkcs7, with the attribute written
// here) binds it to its certificate whatever hash it names: SHA-256 by
// default or named, SHA-1 as older signers write; one naming another
// certificate is invalid, and one whose hash Signet does not know is
// refused as unsupported, not taken as checked.
func TestSigningCertificateV2(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	doc := []byte("signed with a signing-certificate-v2 made elsewhere")
	sum := func(h crypto.Hash, b []byte) []byte { w := h.New(); w.Write(b); return w.Sum(nil) }
	oidSHA256 := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA1 := asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5 := asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	for _, tc := range []struct {
		name string
		alg  asn1.ObjectIdentifier // nil: the DEFAULT, SHA-256
		hash []byte
		want error
	}{
		{"default SHA-256", nil, sum(crypto.SHA256, k.cert.Raw), nil},
		{"SHA-256 named", oidSHA256, sum(crypto.SHA256, k.cert.Raw), nil},
		{"SHA-1", oidSHA1, sum(crypto.SHA1, k.cert.Raw), nil},
		{"another certificate", nil, sum(crypto.SHA256, ca.Cert.Raw), cms.ErrInvalidSignature},
		{"another certificate, SHA-1", oidSHA1, sum(crypto.SHA1, ca.Cert.Raw), cms.ErrInvalidSignature},
		{"unknown hash", oidMD5, make([]byte, 16), cms.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b cryptobyte.Builder
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
						if tc.alg != nil {
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(tc.alg) })
						}
						b.AddASN1OctetString(tc.hash)
					})
				})
			})
			p7, err := pkcs7.NewSignedData(doc)
			if err != nil {
				t.Fatal(err)
			}
			p7.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
			attr := pkcs7.Attribute{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}, Value: asn1.RawValue{FullBytes: b.BytesOrPanic()}}
			if err := p7.AddSigner(k.cert, k.key, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{attr}}); err != nil {
				t.Fatal(err)
			}
			der, err := p7.Finish()
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if !sd.Signers[0].HasSigningCertificateV2 {
				t.Fatal("the attribute was not read")
			}
			if err := sd.Verify(nil); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}
