package cms_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
)

// TestWriteToMatchesEncode checks that streaming writes the same bytes as
// Encode at every DER length boundary, and that Size predicts the length.
func TestWriteToMatchesEncode(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: -1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{-1, 0, 1, 100, 127, 128, 200, 255, 256, 1000, 65535, 65536, 1<<16 + 1000, 1<<24 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var content []byte
			var r io.Reader
			if n >= 0 {
				content = bytes.Repeat([]byte{byte(n)}, n)
				r = bytes.NewReader(content)
			}
			digest, _, err := s.Digest(bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Prepare(digest, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
			if err != nil {
				t.Fatal(err)
			}
			enc, err := p.Encode(sig, content)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			written, err := p.WriteTo(&buf, sig, r, int64(n))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), enc) || written != int64(len(enc)) {
				t.Fatalf("WriteTo wrote %d bytes that differ from Encode's %d", written, len(enc))
			}
			if size := p.Size(len(sig), int64(n)); size != int64(len(enc)) {
				t.Fatalf("Size %d, encoding %d", size, len(enc))
			}
			sd, err := cms.Parse(enc)
			if err != nil {
				t.Fatal(err)
			}
			if (sd.Content == nil) != (n < 0) || !bytes.Equal(sd.Content, content) {
				t.Fatal("the parsed content differs")
			}
			if err := sd.Verify(bytes.NewReader(content)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// countingReader yields n pseudo-random-looking bytes without holding them.
type countingReader struct{ n, off int64 }

func (r *countingReader) Read(b []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), r.n-r.off)]
	for i := range b {
		x := r.off + int64(i)
		b[i] = byte(x*7 + x>>9)
	}
	r.off += int64(len(b))
	return len(b), nil
}

// TestWriteToStreams signs 24 MiB streamed from a reader to a file, never
// held in memory, and openssl verifies the attached signature.
func TestWriteToStreams(t *testing.T) {
	t.Parallel()
	needOpenSSL(t)
	ca := newCA(t)
	k := issue(t, ca, "EC-P384")
	alg, _ := cms.DefaultAlgorithm(k.key.Public())
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 1, Algorithm: alg, CAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	const size = 24 << 20
	digest, n, err := s.Digest(&countingReader{n: size})
	if err != nil || n != size {
		t.Fatalf("digest: %d, %v", n, err)
	}
	p, err := s.Prepare(digest, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write(t, dir, "ca.pem", demo.PEM(ca.Cert))
	f, err := os.Create(filepath.Join(dir, "sig.der"))
	if err != nil {
		t.Fatal(err)
	}
	written, err := p.WriteTo(f, sig, &countingReader{n: size}, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || written != p.Size(len(sig), size) {
		t.Fatalf("WriteTo: %d bytes, %v", written, err)
	}
	if out, err := runOpenSSL(verifyArgs(dir, f.Name(), "", true, "")...); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}

	// Content that ends early is an error, not a short signature.
	_, err = p.WriteTo(io.Discard, sig, &countingReader{n: 10}, size)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short content: %v, want io.ErrUnexpectedEOF", err)
	}
}

// Structures of RFC 5652 and RFC 5035, decoded with encoding/asn1 to check
// the encoder independently of the parser.
type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  struct {
		Issuer []asn1.RawValue
		Serial *big.Int
	}
}

func TestSignedAttributes(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	oidCustom := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
	cases := []struct {
		name        string
		cades       bool
		contentType asn1.ObjectIdentifier
		when        time.Time
		timeTag     int
		version     int
	}{
		{"CMS", false, nil, time.Date(2026, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600)), asn1.TagUTCTime, 1},
		{"CAdES", true, nil, time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC), asn1.TagUTCTime, 1},
		{"2050 GeneralizedTime", true, nil, time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC), asn1.TagGeneralizedTime, 1},
		{"1949 GeneralizedTime", false, nil, time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC), asn1.TagGeneralizedTime, 1},
		{"1950 UTCTime", false, nil, time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), asn1.TagUTCTime, 1},
		{"other content type", true, oidCustom, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), asn1.TagUTCTime, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 1,
				Algorithm: cms.Algorithm{Hash: crypto.SHA384, Scheme: cms.ECDSA}, CAdES: c.cades, ContentType: c.contentType})
			if err != nil {
				t.Fatal(err)
			}
			digest := bytes.Repeat([]byte{0xab}, 48)
			p, err := s.Prepare(digest, c.when)
			if err != nil {
				t.Fatal(err)
			}
			var attrs []attribute
			if rest, err := asn1.UnmarshalWithParams(p.SignedAttributes(), &attrs, "set"); err != nil || len(rest) > 0 {
				t.Fatalf("signed attributes are not a DER SET OF Attribute: %v", err)
			}
			want := 3
			if c.cades {
				want = 4
			}
			if len(attrs) != want {
				t.Fatalf("%d signed attributes, want %d", len(attrs), want)
			}
			for i := 1; i < len(attrs); i++ {
				if bytes.Compare(attrBytes(t, attrs[i-1]), attrBytes(t, attrs[i])) > 0 {
					t.Fatal("signed attributes are not in DER SET OF order")
				}
			}
			_, sd := signParsed(t, s, k, p, nil)
			si := sd.Signers[0]
			wantCT := c.contentType
			if wantCT == nil {
				wantCT = cms.OIDData
			}
			if sd.Version != c.version || si.Version != 1 || !sd.ContentType.Equal(wantCT) || !si.ContentType.Equal(wantCT) {
				t.Errorf("versions %d/%d content types %v/%v, want %d/1 %v", sd.Version, si.Version, sd.ContentType, si.ContentType, c.version, wantCT)
			}
			if !si.SigningTime.Equal(c.when.Truncate(time.Second)) {
				t.Errorf("signing time %v, want %v", si.SigningTime, c.when)
			}
			if !bytes.Equal(si.MessageDigest, digest) || !bytes.Equal(si.RawSignedAttrs, p.SignedAttributes()) {
				t.Error("message digest or signed attributes differ after parsing")
			}
			if len(sd.DigestAlgorithms) != 1 || si.IssuerRaw == nil || si.SerialNumber.Cmp(k.cert.SerialNumber) != 0 {
				t.Error("digestAlgorithms or IssuerAndSerialNumber missing")
			}
			for _, a := range attrs {
				switch {
				case a.Type.Equal(cms.OIDAttrSigningTime):
					if a.Values[0].Tag != c.timeTag {
						t.Errorf("signing-time tag %d, want %d", a.Values[0].Tag, c.timeTag)
					}
				case a.Type.Equal(cms.OIDAttrSigningCertV2):
					var scv2 struct{ Certs []essCertIDv2 }
					if _, err := asn1.Unmarshal(a.Values[0].FullBytes, &scv2); err != nil || len(scv2.Certs) != 1 {
						t.Fatalf("signing-certificate-v2: %v", err)
					}
					id := scv2.Certs[0]
					sum := sha256.Sum256(k.cert.Raw)
					if id.HashAlgorithm.Algorithm != nil {
						t.Error("ESSCertIDv2 hashAlgorithm is present; SHA-256 is the DEFAULT and must be omitted")
					}
					if !bytes.Equal(id.CertHash, sum[:]) || id.IssuerSerial.Serial.Cmp(k.cert.SerialNumber) != 0 ||
						len(id.IssuerSerial.Issuer) != 1 || id.IssuerSerial.Issuer[0].Tag != 4 || !bytes.Equal(id.IssuerSerial.Issuer[0].Bytes, k.cert.RawIssuer) {
						t.Error("ESSCertIDv2 does not name the signer certificate")
					}
				}
			}
		})
	}
}

func attrBytes(t *testing.T, a attribute) []byte {
	b, err := asn1.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignerErrors(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	ec := issue(t, ca, "EC-P256")
	ed := issue(t, ca, "Ed25519")
	chain := []*x509.Certificate{ec.cert}
	cases := []struct {
		name string
		opts cms.Options
		want string
	}{
		{"no chain", cms.Options{Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}}, "certificate is required"},
		{"RSA scheme on EC key", cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.PKCS1v15}}, "cannot be used with an ECDSA key"},
		{"SHA-1", cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA1, Scheme: cms.ECDSA}}, "digest algorithm"},
		{"Ed25519 with SHA-256", cms.Options{Chain: []*x509.Certificate{ed.cert}, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.Ed25519}}, "SHA-512"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := cms.NewSigner(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewSigner: %v, want an error containing %q", err, c.want)
			}
		})
	}
	s, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(make([]byte, 48), time.Now()); err == nil || !strings.Contains(err.Error(), "48 bytes") {
		t.Errorf("Prepare with a 48-byte SHA-256 digest: %v", err)
	}
	if _, err := s.Prepare(make([]byte, 32), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("Prepare accepted the year 10000")
	}
	p, err := s.Prepare(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Encode(nil, nil); err == nil {
		t.Error("Encode accepted an empty signature")
	}
}

// TestConcurrentSigner uses one Signer from many goroutines (run with -race
// to check the shared state).
func TestConcurrentSigner(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert}, IncludeCertificates: 1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA3_256, Scheme: cms.ECDSA}, CAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				doc := fmt.Appendf(nil, "document %d/%d", g, i)
				digest, _, _ := s.Digest(bytes.NewReader(doc))
				p, err := s.Prepare(digest, time.Now())
				if err != nil {
					errs <- err
					return
				}
				sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
				if err != nil {
					errs <- err
					return
				}
				der, err := p.Encode(sig, nil)
				if err != nil {
					errs <- err
					return
				}
				sd, err := cms.Parse(der)
				if err == nil {
					err = sd.Verify(bytes.NewReader(doc))
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", doc, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPendingUnsignedAttributes checks that unsigned attributes added before
// encoding give exactly the bytes of the slow path (Parse,
// SignedData.AddUnsignedAttribute, Bytes) through Encode, WriteTo and
// AppendBase64, detached and attached, with one attribute, two (kept in DER
// SET OF order whatever the order they were added in) and a value long
// enough to change the length encodings around it.
func TestPendingUnsignedAttributes(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	k := issue(t, ca, "EC-P256")
	s, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{k.cert, ca.Cert}, IncludeCertificates: -1,
		Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true})
	if err != nil {
		t.Fatal(err)
	}
	small, _ := asn1.Marshal(struct{ A, B int }{1, 2})
	large, _ := asn1.Marshal(bytes.Repeat([]byte{7}, 70000))
	other := asn1.ObjectIdentifier{1, 2, 3, 4}
	// Token-like values: SignedData with certificates, whose base64
	// AppendBase64 takes from its cache, and one without.
	tsaKey := issue(t, ca, "EC-P256")
	token := func(levels int) []byte {
		return signWith(t, tsaKey, cms.Options{Chain: []*x509.Certificate{tsaKey.cert, ca.Cert}, IncludeCertificates: levels,
			Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true}, []byte("TSTInfo"), false)
	}
	token2, token1, token0 := token(2), token(1), token(0)
	type attr struct {
		oid   asn1.ObjectIdentifier
		value []byte
	}
	cases := []struct {
		name  string
		attrs []attr
	}{
		{"none", nil},
		{"time-stamp", []attr{{cms.OIDSignatureTimeStampToken, small}}},
		{"large value", []attr{{cms.OIDSignatureTimeStampToken, large}}},
		{"two, added out of order", []attr{{cms.OIDSignatureTimeStampToken, small}, {other, small}}},
		{"token with two certificates", []attr{{cms.OIDSignatureTimeStampToken, token2}}},
		{"token without certificates", []attr{{cms.OIDSignatureTimeStampToken, token0}}},
		{"two tokens, different certificates", []attr{{cms.OIDSignatureTimeStampToken, token2}, {other, token1}}},
		{"token with one certificate", []attr{{cms.OIDSignatureTimeStampToken, token1}}},
	}
	for _, c := range cases {
		// Content lengths 0 to 2 move the time-stamp's certificates across
		// the three base64 group offsets.
		for _, content := range [][]byte{nil, {}, []byte("a"), []byte("ab"), []byte("attached content")} {
			t.Run(fmt.Sprintf("%s/content=%q", c.name, content), func(t *testing.T) {
				p, sig, sd := signedPending(t, s, k, content)
				for _, a := range c.attrs {
					if err := p.AddUnsignedAttribute(a.oid, a.value); err != nil {
						t.Fatal(err)
					}
					if err := sd.AddUnsignedAttribute(0, a.oid, a.value); err != nil {
						t.Fatal(err)
					}
				}
				want, err := sd.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Encode(sig, content)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatal("Encode differs from Parse, AddUnsignedAttribute and Bytes")
				}
				cl := int64(-1)
				var r io.Reader
				if content != nil {
					cl, r = int64(len(content)), bytes.NewReader(content)
				}
				if size := p.Size(len(sig), cl); size != int64(len(want)) {
					t.Fatalf("Size %d, encoding %d", size, len(want))
				}
				var buf bytes.Buffer
				if _, err := p.WriteTo(&buf, sig, r, cl); err != nil || !bytes.Equal(buf.Bytes(), want) {
					t.Fatalf("WriteTo differs (%v)", err)
				}
				b64, _, err := p.AppendBase64(nil, nil, sig, content)
				if err != nil || string(b64) != base64.StdEncoding.EncodeToString(want) {
					t.Fatalf("AppendBase64 differs (%v)", err)
				}
				back, err := cms.Parse(got)
				if err != nil || len(back.Signers[0].UnsignedAttributes) != len(c.attrs) {
					t.Fatalf("parsed back: %v", err)
				}
				if err := back.Verify(bytes.NewReader(content)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	p, err := s.Prepare(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, {0x30}, append(bytes.Clone(small), 0x05, 0x00)} {
		if err := p.AddUnsignedAttribute(cms.OIDSignatureTimeStampToken, bad); err == nil {
			t.Errorf("AddUnsignedAttribute accepted % x, which is not one DER element", bad)
		}
	}
	if err := p.AddUnsignedAttribute(asn1.ObjectIdentifier{1}, small); err == nil {
		t.Error("AddUnsignedAttribute accepted an attribute type of one arc")
	}
}

// signedPending signs content (nil: detached) with s and k and returns the
// Pending, its signature and the encoding parsed back.
func signedPending(t *testing.T, s *cms.Signer, k testKey, content []byte) (*cms.Pending, []byte, *cms.SignedData) {
	t.Helper()
	d := sha256.Sum256(content)
	p, err := s.Prepare(d[:], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, sd := signParsed(t, s, k, p, content)
	return p, sig, sd
}

// signParsed signs p with k, encodes it with content (nil: detached) and
// returns the signature and the encoding parsed back.
func signParsed(t *testing.T, s *cms.Signer, k testKey, p *cms.Pending, content []byte) ([]byte, *cms.SignedData) {
	t.Helper()
	sig, err := k.key.Sign(rand.Reader, p.Input(), s.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := p.Encode(sig, content)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	return sig, sd
}
