package validate_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
	"github.com/signet-project/signet/formats/tsp"
	"github.com/signet-project/signet/formats/validate"
)

const crlURL = "http://crl.test/ca.crl"

// pki is a root CA whose certificates name crlURL, and its revocations.
type pki struct {
	cert    *x509.Certificate
	key     crypto.Signer
	revoked []x509.RevocationListEntry
}

func newKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newPKI(t testing.TB, name string) *pki {
	t.Helper()
	k := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &pki{cert: c, key: k}
}

// newSigner returns a new CA named caName, a signer key and its
// certificate, valid from an hour before now to an hour after.
func newSigner(t testing.TB, caName string) (ca *pki, key crypto.Signer, cert *x509.Certificate, now time.Time) {
	t.Helper()
	ca, now, key = newPKI(t, caName), time.Now(), newKey(t)
	return ca, key, ca.issue(t, "signer", key.Public(), now.Add(-time.Hour), now.Add(time.Hour)), now
}

var serial int64 = 100

func (p *pki) issue(t testing.TB, name string, pub crypto.PublicKey, from, to time.Time, eku ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		CRLDistributionPoints: []string{crlURL}}
	if len(eku) > 0 { // RFC 3161: the time-stamping EKU is critical
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: must(asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}))}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, pub, p.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func (p *pki) crl(t testing.TB) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()),
		ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: p.revoked}, p.cert, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// online serves the CA's current CRL, as the demo CA's URL would.
type online struct {
	p *pki
	t testing.TB
}

func (o online) CRLs(_ context.Context, cert, _ *x509.Certificate) ([][]byte, error) {
	return [][]byte{o.p.crl(o.t)}, nil
}

// signPDF signs doc with key and chain at PAdES-B-B, or B-T with tsa.
func signPDF(t testing.TB, doc []byte, key crypto.Signer, chain []*x509.Certificate, tsa *tsp.Authority) []byte {
	t.Helper()
	return signPDFWith(t, doc, key, chain, tsa, pades.Options{Time: time.Now(), Reason: "test"})
}

// signPDFWith is signPDF with the signature's options.
func signPDFWith(t testing.TB, doc []byte, key crypto.Signer, chain []*x509.Certificate, tsa *tsp.Authority, opts pades.Options) []byte {
	t.Helper()
	cs, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true, OmitSigningTime: true, IncludeCertificates: -1})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(_ context.Context, in []byte) ([]byte, error) { return key.Sign(rand.Reader, in, crypto.SHA256) }
	var stamp pades.StampFunc
	if tsa != nil {
		stamp = func(ctx context.Context, der, sig []byte) ([]byte, error) {
			h := crypto.SHA256.New()
			h.Write(sig)
			tok, err := tsa.Stamp(ctx, h.Sum(nil), crypto.SHA256)
			if err != nil {
				return nil, err
			}
			sd, err := cms.Parse(der)
			if err != nil {
				return nil, err
			}
			if err := sd.AddUnsignedAttribute(0, cms.OIDSignatureTimeStampToken, tok); err != nil {
				return nil, err
			}
			return sd.Bytes()
		}
	}
	out, err := pades.Sign(context.Background(), doc, cs, sign, stamp, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func minimalPDF() []byte {
	var b bytes.Buffer
	var offs []int
	for _, body := range []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
	} {
		if b.Len() == 0 {
			b.WriteString("%PDF-1.4\n")
		}
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 4\n0000000000 65535 f\r\n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// opensslVerify checks the CMS of the first signature with openssl cms
// -verify -cades over the signed bytes, with the CA and its CRL.
func opensslVerify(t testing.TB, doc []byte, ca *pki) (string, bool) {
	t.Helper()
	in, err := pades.Inspect(context.Background(), doc, pades.Limits{})
	if err != nil || len(in.Signatures) == 0 {
		t.Fatalf("inspect: %v", err)
	}
	s := in.Signatures[0]
	content, _ := io.ReadAll(s.SignedContent())
	w := fileWriter(t)
	crl := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: ca.crl(t)})
	out, err := padestest.Run(t, "openssl", "cms", "-verify", "-cades", "-binary", "-inform", "DER", "-purpose", "any",
		"-in", w("sig.der", s.Contents), "-content", w("content", content),
		"-CAfile", w("ca.pem", append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), crl...)),
		"-crl_check", "-out", os.DevNull)
	return out, err == nil
}

// TestCorpus builds good and broken signed PDFs and checks that the
// validator, openssl and pdfsig agree on each.
func TestCorpus(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "Validate Test CA")
	other := newPKI(t, "Untrusted CA")
	now := time.Now()
	good, badKey, expKey, revKey, untrKey := newKey(t), newKey(t), newKey(t), newKey(t), newKey(t)
	goodCert := ca.issue(t, "good signer", good.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	expCert := ca.issue(t, "expired signer", expKey.Public(), now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	revCert := ca.issue(t, "revoked signer", revKey.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	untrCert := other.issue(t, "untrusted signer", untrKey.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	ca.revoked = append(ca.revoked, x509.RevocationListEntry{SerialNumber: revCert.SerialNumber, RevocationTime: now.Add(-time.Minute)})

	doc := minimalPDF()
	signed := signPDF(t, doc, good, []*x509.Certificate{goodCert, ca.cert}, nil)
	tampered := bytes.Clone(signed)
	tampered[20] ^= 0x01 // inside the first signed range: the catalog object
	cases := []struct {
		name        string
		doc         []byte
		ind, sub    string
		opensslOK   bool
		pdfsigValid bool
	}{
		{"good", signed, validate.TotalPassed, "", true, true},
		{"tampered", tampered, validate.TotalFailed, validate.HashFailure, false, false},
		{"wrong key", signPDF(t, doc, badKey, []*x509.Certificate{goodCert, ca.cert}, nil), validate.TotalFailed, validate.SigCryptoFailure, false, false},
		{"expired", signPDF(t, doc, expKey, []*x509.Certificate{expCert, ca.cert}, nil), validate.Indeterminate, validate.OutOfBoundsNoPOE, false, true},
		{"untrusted root", signPDF(t, doc, untrKey, []*x509.Certificate{untrCert, other.cert}, nil), validate.Indeterminate, validate.NoCertificateChainFound, false, true},
		{"revoked", signPDF(t, doc, revKey, []*x509.Certificate{revCert, ca.cert}, nil), validate.Indeterminate, validate.RevokedNoPOE, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rep, err := validate.PDF(context.Background(), c.doc, validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}}, pades.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 1 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			s := rep.Signatures[0]
			if s.Indication != c.ind || s.SubIndication != c.sub {
				t.Errorf("validator: %s/%s, want %s/%s (%v)", s.Indication, s.SubIndication, c.ind, c.sub, s.Messages)
			}
			if out, ok := opensslVerify(t, c.doc, ca); ok != c.opensslOK {
				t.Errorf("openssl cms -verify ok=%v, want %v:\n%s", ok, c.opensslOK, out)
			}
			rep2 := padestest.PDFSig(t, c.doc)
			if valid := strings.Contains(rep2, "Signature Validation: Signature is Valid."); valid != c.pdfsigValid {
				t.Errorf("pdfsig valid=%v, want %v:\n%s", valid, c.pdfsigValid, rep2)
			}
			if c.ind == validate.TotalPassed && (s.Level != "PAdES-BASELINE-B" || !s.ContentIntact || s.Revocation == nil || s.Revocation.Status != "good") {
				t.Errorf("report: %+v", s)
			}
		})
	}
}

// TestLevels signs at B-T, adds a DSS (B-LT), and removes it again.
// stripPerms appends an incremental update that rewrites the catalog of a
// document signed by pades (object 1 of minimalPDF) without its /Perms: what
// a tool that signs a certified document without looking leaves, and the
// way past the signer's refusal to make one.
func stripPerms(t *testing.T, doc []byte) []byte {
	t.Helper()
	at := bytes.LastIndex(doc, []byte("\n1 0 obj\n"))
	end := bytes.Index(doc[at:], []byte("\nendobj"))
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(doc, -1)
	prev := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(doc, -1)
	if at < 0 || end < 0 || len(size) == 0 || len(prev) == 0 {
		t.Fatal("the signed document has no catalog object 1 or no trailer")
	}
	catalog := regexp.MustCompile(`/Perms\s*<<\s*/DocMDP\s+\d+ \d+ R\s*>>`).ReplaceAll(doc[at+len("\n1 0 obj\n"):at+end], nil)
	var b bytes.Buffer
	b.Write(doc)
	obj := b.Len()
	fmt.Fprintf(&b, "1 0 obj\n%s\nendobj\n", catalog)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n1 1\n%010d 00000 n\r\ntrailer\n<< /Size %s /Root 1 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n",
		obj, size[len(size)-1][1], prev[len(prev)-1][1], xref)
	return b.Bytes()
}

// TestDocMDP: a certification signature that allows no change (DocMDP P=1)
// fails once the document is signed again after it, as ISO 32000 says any
// change invalidates it, and both signatures say why; a DSS added after it
// is no such change, and P=2 allows the later signature.
func TestDocMDP(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "DocMDP Test CA")
	now := time.Now()
	key := newKey(t)
	chain := []*x509.Certificate{ca.issue(t, "signer", key.Public(), now.Add(-time.Hour), now.Add(time.Hour)), ca.cert}
	certify := func(level int) []byte {
		return signPDFWith(t, minimalPDF(), key, chain, nil, pades.Options{Time: now, CertificationLevel: level, FieldName: "Certification"})
	}
	approve := func(doc []byte) []byte {
		return signPDFWith(t, doc, key, chain, nil, pades.Options{Time: now, FieldName: "Approval"})
	}
	// A DSS is a change that any certification allows.
	withDSS, err := pades.AppendDSS(context.Background(), certify(1), pades.ValidationData{Certs: [][]byte{chain[0].Raw, ca.cert.Raw}, CRLs: [][]byte{ca.crl(t)}}, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		doc     []byte
		want    [2]string // the certification's indication, the approval's ("" when absent)
		message string    // in both reports, when the certification fails
	}{
		{"P=1 alone", certify(1), [2]string{validate.TotalPassed, ""}, ""},
		{"P=1, DSS appended", withDSS, [2]string{validate.TotalPassed, ""}, ""},
		{"P=1, signed again", approve(stripPerms(t, certify(1))), [2]string{validate.TotalFailed, validate.TotalPassed}, "DocMDP P=1"},
		{"P=2, signed again", approve(certify(2)), [2]string{validate.TotalPassed, validate.TotalPassed}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			padestest.QPDFCheck(t, c.doc)
			rep, err := validate.PDF(context.Background(), c.doc, validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}}, pades.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var got [2]string
			for _, s := range rep.Signatures {
				i := 0
				if s.ID == "Approval" {
					i = 1
				}
				got[i] = s.Indication
				if c.message != "" && !strings.Contains(strings.Join(s.Messages, " "), c.message) {
					t.Errorf("%s: messages %q do not say %q", s.ID, s.Messages, c.message)
				}
			}
			if got != c.want || rep.Indication != c.want[0] {
				t.Errorf("indications %v, document %s; want %v", got, rep.Indication, c.want)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "Levels Test CA")
	now := time.Now()
	key, tsaKey := newKey(t), newKey(t)
	cert := ca.issue(t, "signer", key.Public(), now.Add(-time.Hour), now.Add(time.Hour))
	tsaCert := ca.issue(t, "tsa", tsaKey.Public(), now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageTimeStamping)
	tsa, err := tsp.New(tsp.Options{Chain: []*x509.Certificate{tsaCert, ca.cert}, Signer: tsaKey, Hash: crypto.SHA256, DefaultPolicy: []int{1, 2, 3}, IncludeCertificates: 2})
	if err != nil {
		t.Fatal(err)
	}
	bt := signPDF(t, minimalPDF(), key, []*x509.Certificate{cert, ca.cert}, tsa)
	lt, err := pades.AppendDSS(context.Background(), bt, pades.ValidationData{Certs: [][]byte{cert.Raw, ca.cert.Raw, tsaCert.Raw}, CRLs: [][]byte{ca.crl(t)}}, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	twice := signPDF(t, lt, key, []*x509.Certificate{cert, ca.cert}, nil)
	offline := validate.Options{Roots: []*x509.Certificate{ca.cert}}
	for _, c := range []struct {
		name  string
		doc   []byte
		ind   string
		level string
	}{
		{"B-T offline", bt, validate.Indeterminate, "PAdES-BASELINE-T"},
		{"B-LT offline", lt, validate.TotalPassed, "PAdES-BASELINE-LT"},
		{"DSS removed", lt[:len(bt)], validate.Indeterminate, "PAdES-BASELINE-T"},
		{"signed twice", twice, validate.TotalPassed, "PAdES-BASELINE-LT"},
	} {
		rep, err := validate.PDF(context.Background(), c.doc, offline, pades.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s := rep.Signatures[0]
		if s.Indication != c.ind || s.Level != c.level {
			t.Errorf("%s: %s %s, want %s %s (%v)", c.name, s.Indication, s.Level, c.ind, c.level, s.Messages)
		}
		if s.TimeStamp == nil || !s.TimeStamp.Valid {
			t.Errorf("%s: time-stamp %+v", c.name, s.TimeStamp)
		}
	}
	rep, _ := validate.PDF(context.Background(), bt, validate.Options{Roots: offline.Roots, Online: online{ca, t}}, pades.Limits{})
	if s := rep.Signatures[0]; s.Indication != validate.TotalPassed || s.Level != "PAdES-BASELINE-T" {
		t.Errorf("B-T online: %s %s %v", s.Indication, s.Level, s.Messages)
	}
	// A TSA of another CA whose CRL the DSS lacks: the level stays B-T.
	other := newPKI(t, "Other TSA CA")
	otherKey := newKey(t)
	otherCert := other.issue(t, "other tsa", otherKey.Public(), now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageTimeStamping)
	otherTSA, err := tsp.New(tsp.Options{Chain: []*x509.Certificate{otherCert, other.cert}, Signer: otherKey, Hash: crypto.SHA256, DefaultPolicy: []int{1, 2, 3}, IncludeCertificates: 2})
	if err != nil {
		t.Fatal(err)
	}
	partial, err := pades.AppendDSS(context.Background(), signPDF(t, minimalPDF(), key, []*x509.Certificate{cert, ca.cert}, otherTSA),
		pades.ValidationData{Certs: [][]byte{cert.Raw, ca.cert.Raw}, CRLs: [][]byte{ca.crl(t)}}, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ = validate.PDF(context.Background(), partial, validate.Options{Roots: []*x509.Certificate{ca.cert, other.cert}}, pades.Limits{})
	if s := rep.Signatures[0]; s.Level != "PAdES-BASELINE-T" || !strings.Contains(strings.Join(s.Messages, " "), "time-stamp authority's chain") {
		t.Errorf("a DSS without the TSA's CRL: %s %s %v", s.Indication, s.Level, s.Messages)
	}
	out := padestest.PDFSig(t, twice)
	if strings.Count(out, "Signature is Valid.") != 2 {
		t.Errorf("pdfsig on a PDF signed twice:\n%s", out)
	}
}

// cadesT signs content at CAdES-BASELINE-B with key and chain and adds, as
// its signature time-stamp, a token that stamp makes over the signature.
func cadesT(t testing.TB, content []byte, key crypto.Signer, chain []*x509.Certificate, stamp func(sig []byte) []byte) []byte {
	t.Helper()
	cs, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true, IncludeCertificates: -1})
	if err != nil {
		t.Fatal(err)
	}
	d := sha256Sum(content)
	p, err := cs.Prepare(d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.Sign(rand.Reader, p.Input(), cs.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddUnsignedAttribute(cms.OIDSignatureTimeStampToken, stamp(sig)); err != nil {
		t.Fatal(err)
	}
	der, err := p.Encode(sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func sha256Sum(b []byte) []byte {
	h := crypto.SHA256.New()
	h.Write(b)
	return h.Sum(nil)
}

// forgedToken is an RFC 3161 token over the SHA-256 digest of sig, with
// genTime at, signed by key and chain[0]: whoever holds any key certified
// by a trusted CA can make one, so only a certificate with the
// timeStamping extended key usage may vouch for a time.
func forgedToken(t testing.TB, sig []byte, at time.Time, key crypto.Signer, chain []*x509.Certificate) []byte {
	t.Helper()
	type imprint struct {
		Alg    pkix.AlgorithmIdentifier
		Digest []byte
	}
	tst, err := asn1.Marshal(struct {
		Version int
		Policy  asn1.ObjectIdentifier
		Imprint imprint
		Serial  *big.Int
		GenTime time.Time `asn1:"generalized"`
	}{1, asn1.ObjectIdentifier{1, 2, 3}, imprint{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}, sha256Sum(sig)}, big.NewInt(1), at.UTC()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := cms.NewSigner(cms.Options{Chain: chain, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true, IncludeCertificates: -1,
		ContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}})
	if err != nil {
		t.Fatal(err)
	}
	return signCMS(t, cs, key, tst, at)
}

// signCMS signs content with cs and key as of at, the content attached.
func signCMS(t testing.TB, cs *cms.Signer, key crypto.Signer, content []byte, at time.Time) []byte {
	t.Helper()
	p, err := cs.Prepare(sha256Sum(content), at)
	if err != nil {
		t.Fatal(err)
	}
	s, err := key.Sign(rand.Reader, p.Input(), cs.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := p.Encode(s, content)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestTimeStampAuthority: a signature time-stamp counts as proof of
// existence only when signed by a time-stamping certificate (RFC 3161
// section 2.3, ETSI EN 319 102-1 5.4). A signer whose certificate was
// revoked must not make its signature look older than the revocation by
// time-stamping it with its own key.
func TestTimeStampAuthority(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "Time-Stamp Authority Test CA")
	now := time.Now()
	key, tsaKey := newKey(t), newKey(t)
	cert := ca.issue(t, "signer", key.Public(), now.Add(-2*time.Hour), now.Add(time.Hour))
	tsaCert := ca.issue(t, "tsa", tsaKey.Public(), now.Add(-2*time.Hour), now.Add(time.Hour), x509.ExtKeyUsageTimeStamping)
	tsa, err := tsp.New(tsp.Options{Chain: []*x509.Certificate{tsaCert, ca.cert}, Signer: tsaKey, Hash: crypto.SHA256, DefaultPolicy: []int{1, 2, 3}, IncludeCertificates: 2})
	if err != nil {
		t.Fatal(err)
	}
	ca.revoked = append(ca.revoked, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: now.Add(-10 * time.Minute)})
	chain := []*x509.Certificate{cert, ca.cert}
	content := []byte("signed before the key was compromised, says the signer")
	for _, c := range []struct {
		name      string
		stamp     func(sig []byte) []byte
		ind, sub  string
		tsValid   bool
		wantLevel string
	}{
		{"by the TSA, after the revocation", func(sig []byte) []byte {
			tok, err := tsa.Stamp(context.Background(), sha256Sum(sig), crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, validate.TotalFailed, validate.Revoked, true, "CAdES-BASELINE-T"},
		{"by the signer's own key, backdated", func(sig []byte) []byte {
			return forgedToken(t, sig, now.Add(-time.Hour), key, chain)
		}, validate.Indeterminate, validate.RevokedNoPOE, false, "CAdES-BASELINE-B"},
	} {
		sig := cadesT(t, content, key, chain, c.stamp)
		rep := validate.CMS(context.Background(), sig, func() io.Reader { return bytes.NewReader(content) }, nil, 0,
			validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}})
		s := rep.Signatures[0]
		if s.Indication != c.ind || s.SubIndication != c.sub || s.Level != c.wantLevel || s.TimeStamp == nil || s.TimeStamp.Valid != c.tsValid {
			t.Errorf("%s: %s/%s %s, time-stamp %+v; want %s/%s %s, time-stamp valid %v (%v)", c.name, s.Indication, s.SubIndication, s.Level, s.TimeStamp, c.ind, c.sub, c.wantLevel, c.tsValid, s.Messages)
		}
	}
}

// TestCMSContentGiven: content or a digest sent with a signature that
// encapsulates its content is what the caller asks about, and is checked
// (as openssl cms -verify -content does), not ignored for the
// encapsulated content.
func TestCMSContentGiven(t *testing.T) {
	t.Parallel()
	ca, key, cert, now := newSigner(t, "Content Given Test CA")
	cs, err := cms.NewSigner(cms.Options{Chain: []*x509.Certificate{cert, ca.cert}, Algorithm: cms.Algorithm{Hash: crypto.SHA256, Scheme: cms.ECDSA}, CAdES: true, IncludeCertificates: -1})
	if err != nil {
		t.Fatal(err)
	}
	signed, other := []byte("the signed content"), []byte("another content")
	attached := signCMS(t, cs, key, signed, now)
	reader := func(b []byte) func() io.Reader { return func() io.Reader { return bytes.NewReader(b) } }
	for _, c := range []struct {
		name     string
		content  func() io.Reader
		digest   []byte
		ind, sub string
	}{
		{"nothing given", nil, nil, validate.TotalPassed, ""},
		{"the signed content", reader(signed), nil, validate.TotalPassed, ""},
		{"another content", reader(other), nil, validate.TotalFailed, validate.HashFailure},
		{"the signed content's digest", nil, sha256Sum(signed), validate.TotalPassed, ""},
		{"another content's digest", nil, sha256Sum(other), validate.TotalFailed, validate.HashFailure},
	} {
		rep := validate.CMS(context.Background(), attached, c.content, c.digest, crypto.SHA256,
			validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}})
		if s := rep.Signatures[0]; s.Indication != c.ind || s.SubIndication != c.sub {
			t.Errorf("%s: %s/%s, want %s/%s (%v)", c.name, s.Indication, s.SubIndication, c.ind, c.sub, s.Messages)
		}
	}
}

// TestNoSignedAttributes: a CMS signature without signed attributes signs
// the content digest itself, so a changed content shows only as a
// signature that does not verify; the report must not claim the content
// intact then.
func TestNoSignedAttributes(t *testing.T) {
	t.Parallel()
	ca, key, cert, _ := newSigner(t, "No Signed Attributes Test CA")
	w := fileWriter(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	signed := []byte("signed without attributes")
	sigFile := w("sig.der", nil) // openssl writes it
	if out, err := padestest.Run(t, "openssl", "cms", "-sign", "-binary", "-noattr", "-in", w("doc", signed),
		"-signer", w("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		"-inkey", w("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"-outform", "DER", "-out", sigFile); err != nil {
		t.Fatalf("openssl cms -sign -noattr: %v\n%s", err, out)
	}
	sig, err := os.ReadFile(sigFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		content  []byte
		ind, sub string
		intact   bool
	}{
		{"the signed content", signed, validate.TotalPassed, "", true},
		{"a changed content", []byte("signed without attributes!"), validate.TotalFailed, validate.SigCryptoFailure, false},
	} {
		rep := validate.CMS(context.Background(), sig, func() io.Reader { return bytes.NewReader(c.content) }, nil, 0,
			validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}})
		if s := rep.Signatures[0]; s.Indication != c.ind || s.SubIndication != c.sub || s.ContentIntact != c.intact {
			t.Errorf("%s: %s/%s contentIntact %v, want %s/%s contentIntact %v (%v)", c.name, s.Indication, s.SubIndication, s.ContentIntact, c.ind, c.sub, c.intact, s.Messages)
		}
	}
}

// TestUnknownSigningCertificateHash: a signature whose signing-certificate-v2
// names the signer's certificate by a hash Signet does not know (made by
// digitorus/pkcs7, the attribute written here) is INDETERMINATE: its
// certificate cannot be identified. The check was skipped and the
// signature passed as B-B.
func TestUnknownSigningCertificateHash(t *testing.T) {
	t.Parallel()
	ca, key, cert, _ := newSigner(t, "Signing Certificate Hash Test CA")
	type essCertIDv2 struct {
		Alg  pkix.AlgorithmIdentifier
		Hash []byte
	}
	attr, err := asn1.Marshal(struct{ Certs []essCertIDv2 }{[]essCertIDv2{{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}}, make([]byte, 16)}}})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte("signed with an MD5 signing-certificate-v2")
	p7, err := pkcs7.NewSignedData(doc)
	if err != nil {
		t.Fatal(err)
	}
	p7.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := p7.AddSigner(cert, key, pkcs7.SignerInfoConfig{ExtraSignedAttributes: []pkcs7.Attribute{
		{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}, Value: asn1.RawValue{FullBytes: attr}}}}); err != nil {
		t.Fatal(err)
	}
	p7.Detach()
	sig, err := p7.Finish()
	if err != nil {
		t.Fatal(err)
	}
	rep := validate.CMS(context.Background(), sig, func() io.Reader { return bytes.NewReader(doc) }, nil, 0,
		validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: online{ca, t}})
	if s := rep.Signatures[0]; s.Indication != validate.Indeterminate || s.SubIndication != validate.NoSigningCertificateFound {
		t.Errorf("%s/%s, want %s/%s (%v)", s.Indication, s.SubIndication, validate.Indeterminate, validate.NoSigningCertificateFound, s.Messages)
	}
}

// fileWriter returns a function that writes a file of a new folder and
// returns its path, for the openssl command lines.
func fileWriter(t testing.TB) func(name string, b []byte) string {
	t.Helper()
	dir := t.TempDir()
	return func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// fieldsSharing appends to a signed doc an update whose AcroForm lists n
// fields with the signature dictionary of its first signature as /V: n
// signatures over the same bytes, each hashed whole by the validation.
func fieldsSharing(t *testing.T, doc []byte, n int) []byte {
	t.Helper()
	v := regexp.MustCompile(`/V (\d+) 0 R`).FindSubmatch(doc)
	at := bytes.LastIndex(doc, []byte("\n1 0 obj\n"))
	end := bytes.Index(doc[at:], []byte("\nendobj"))
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(doc, -1)
	prev := regexp.MustCompile(`startxref\s+(\d+)`).FindAllSubmatch(doc, -1)
	if v == nil || at < 0 || end < 0 || len(size) == 0 || len(prev) == 0 {
		t.Fatal("the signed document has no signature, catalog object 1 or trailer")
	}
	first := 0
	fmt.Sscan(string(size[len(size)-1][1]), &first)
	var b, refs bytes.Buffer
	b.Write(doc)
	offs := make([]int, n)
	for i := range offs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /FT /Sig /T (s%d) /V %s 0 R >>\nendobj\n", first+i, i, v[1])
		fmt.Fprintf(&refs, "%d 0 R ", first+i)
	}
	catalog := regexp.MustCompile(`/AcroForm\s*<<\s*/Fields\s*\[[^\]]*\]`).ReplaceAll(doc[at+len("\n1 0 obj\n"):at+end], []byte("/AcroForm << /Fields ["+refs.String()+"]"))
	obj := b.Len()
	fmt.Fprintf(&b, "1 0 obj\n%s\nendobj\n", catalog)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n1 1\n%010d 00000 n\r\n%d %d\n", obj, first, n)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n", first+n, prev[len(prev)-1][1], xref)
	return b.Bytes()
}

// cancelOnCRL is a CRL source that ends the validation's context the first
// time it is asked: the validation's time is up from then on.
type cancelOnCRL struct {
	online
	cancel context.CancelFunc
}

func (c cancelOnCRL) CRLs(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error) {
	c.cancel()
	return c.online.CRLs(ctx, cert, issuer)
}

// TestDeadlineStopsHashing: a document whose AcroForm lists one signature
// under many fields had each hashed whole, whatever the validation's
// deadline (an 8 MiB PDF with 3,000 such fields held the PDFValidator 19 s,
// 30,000 would hold it minutes). Once the time is up, the signatures left
// are INDETERMINATE/TRY_LATER without their content hashed.
func TestDeadlineStopsHashing(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "Deadline Test CA")
	key := newKey(t)
	now := time.Now()
	chain := []*x509.Certificate{ca.issue(t, "signer", key.Public(), now.Add(-time.Hour), now.Add(time.Hour)), ca.cert}
	doc := fieldsSharing(t, signPDF(t, minimalPDF(), key, chain, nil), 50)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := validate.PDF(ctx, doc, validate.Options{Roots: []*x509.Certificate{ca.cert}, Online: cancelOnCRL{online{ca, t}, cancel}}, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 50 {
		t.Fatalf("%d signatures reported, want the 50 fields'", len(rep.Signatures))
	}
	for i, s := range rep.Signatures[1:] {
		if s.Indication != validate.Indeterminate || s.SubIndication != validate.TryLater || !strings.Contains(strings.Join(s.Messages, " "), "ran out of time") {
			t.Fatalf("signature %d validated after the deadline: %s/%s %q", i+1, s.Indication, s.SubIndication, s.Messages)
		}
	}
}
