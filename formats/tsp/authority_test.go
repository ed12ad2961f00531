package tsp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
)

var (
	policyDefault = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}
	policyOther   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2}
	policyUnknown = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 9}
)

// pki is a throw-away CA and TSA certificate, with their PEM files on disk.
type pki struct {
	ca     *demo.CA
	cert   *x509.Certificate
	key    crypto.Signer
	dir    string
	caPEM  string
	tsaPEM string
}

func newPKI(t testing.TB, keySpec string) *pki {
	t.Helper()
	ca, err := demo.NewCA("Test Root " + keySpec)
	if err != nil {
		t.Fatal(err)
	}
	key, err := demo.NewKey(keySpec)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("Test TSA "+keySpec, key.Public(), demo.TimeStamping, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{ca: ca, cert: cert, key: key, dir: t.TempDir()}
	p.caPEM = p.write(t, "ca.pem", demo.PEM(ca.Cert))
	p.tsaPEM = p.write(t, "tsa.pem", demo.PEM(cert))
	return p
}

func (p *pki) write(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) authority(t testing.TB, mod func(*Options)) *Authority {
	t.Helper()
	opts := Options{
		Chain:            []*x509.Certificate{p.cert, p.ca.Cert},
		Signer:           p.key,
		DefaultPolicy:    policyDefault,
		AcceptedPolicies: []asn1.ObjectIdentifier{policyDefault, policyOther},
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// openssl runs openssl and returns its combined output; failure is reported
// through the error, with the output in it.
func openssl(args ...string) (string, error) {
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		return string(out), errors.New(string(out))
	}
	return string(out), nil
}

func mustOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := openssl(args...)
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func decodeResponse(t *testing.T, der []byte) timeStampResp {
	t.Helper()
	var r timeStampResp
	rest, err := asn1.Unmarshal(der, &r)
	if err != nil || len(rest) > 0 {
		t.Fatalf("response does not decode: %v (%d trailing bytes)", err, len(rest))
	}
	return r
}

func TestRespondVerifiesWithOpenSSL(t *testing.T) {
	cases := []struct {
		name       string
		args       []string
		wantPolicy asn1.ObjectIdentifier
		certs      bool
		nonce      bool
	}{
		{"nonce and certReq", []string{"-cert"}, policyDefault, true, true},
		{"no nonce, certReq", []string{"-cert", "-no_nonce"}, policyDefault, true, false},
		{"nonce, no certReq", nil, policyDefault, false, true},
		{"no nonce, no certReq", []string{"-no_nonce"}, policyDefault, false, false},
		{"accepted policy", []string{"-cert", "-tspolicy", policyOther.String()}, policyOther, true, true},
		{"SHA-512 imprint", []string{"-cert", "-sha512"}, policyDefault, true, true},
	}
	for _, keySpec := range []string{"EC-P256", "RSA-2048"} {
		p := newPKI(t, keySpec)
		a := p.authority(t, func(o *Options) { o.IncludeStatusString = true })
		data := p.write(t, "data.txt", []byte("the document to time-stamp, "+keySpec))
		for i, tc := range cases {
			t.Run(keySpec+"/"+tc.name, func(t *testing.T) {
				tsq := filepath.Join(p.dir, "q"+string(rune('a'+i))+".tsq")
				args := []string{"ts", "-query", "-data", data, "-out", tsq}
				if !slices.Contains(tc.args, "-sha512") {
					args = append(args, "-sha256")
				}
				mustOpenSSL(t, append(args, tc.args...)...)
				query, err := os.ReadFile(tsq)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := a.Respond(context.Background(), query)
				if err != nil {
					t.Fatalf("Respond: %v", err)
				}
				tsr := p.write(t, "r"+string(rune('a'+i))+".tsr", resp)

				text := mustOpenSSL(t, "ts", "-reply", "-in", tsr, "-text")
				for _, want := range []string{"Status: Granted.", "Status description: Operation Okay", "Policy OID: " + tc.wantPolicy.String()} {
					if !strings.Contains(text, want) {
						t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
					}
				}
				if got := strings.Contains(text, "Nonce: unspecified"); got == tc.nonce {
					t.Errorf("nonce in reply = %v, want %v:\n%s", !got, tc.nonce, text)
				}

				verify := []string{"ts", "-verify", "-data", data, "-in", tsr, "-CAfile", p.caPEM}
				if !tc.certs {
					// The token carries no certificate: openssl must fail
					// without being given it, and succeed with it.
					if out, err := openssl(verify...); err == nil {
						t.Errorf("openssl ts -verify succeeded without the TSA certificate; the token should carry none:\n%s", out)
					}
					verify = append(verify, "-untrusted", p.tsaPEM)
				}
				if out := mustOpenSSL(t, verify...); !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl ts -verify: %s", out)
				}
				// Against the query: openssl checks the nonce, the policy
				// and the message imprint too.
				verify[2], verify[3] = "-queryfile", tsq
				if out := mustOpenSSL(t, verify...); !strings.Contains(out, "Verification: OK") {
					t.Errorf("openssl ts -verify -queryfile: %s", out)
				}

				// The token seen through digitorus/timestamp.
				req, err := timestamp.ParseRequest(query)
				if err != nil {
					t.Fatal(err)
				}
				r := decodeResponse(t, resp)
				ts, err := timestamp.Parse(r.TimeStampToken.FullBytes)
				if err != nil {
					t.Fatalf("timestamp.Parse: %v", err)
				}
				if got := len(ts.Certificates); (got > 0) != tc.certs {
					t.Errorf("token carries %d certificates, certReq=%v", got, tc.certs)
				}
				if tc.nonce && (ts.Nonce == nil || ts.Nonce.Cmp(req.Nonce) != 0) {
					t.Errorf("nonce %v, want %v", ts.Nonce, req.Nonce)
				}
				if !bytes.Equal(ts.HashedMessage, req.HashedMessage) || ts.HashAlgorithm != req.HashAlgorithm {
					t.Errorf("message imprint not echoed")
				}
			})
		}
	}
}

// rawQuery builds a TimeStampReq by hand, for queries openssl will not make.
func rawQuery(t testing.TB, alg asn1.ObjectIdentifier, digest []byte, ext []pkix.Extension) []byte {
	return rawQueryWith(t, 1, asn1.NullRawValue, alg, digest, ext)
}

// rawQueryWith is rawQuery with a version and the algorithm's parameters
// (the zero RawValue leaves them out).
func rawQueryWith(t testing.TB, version int, params asn1.RawValue, alg asn1.ObjectIdentifier, digest []byte, ext []pkix.Extension) []byte {
	t.Helper()
	type req struct {
		Version        int
		MessageImprint refImprint
		Extensions     []pkix.Extension `asn1:"tag:0,optional"`
	}
	der, err := asn1.Marshal(req{version, refImprint{pkix.AlgorithmIdentifier{Algorithm: alg, Parameters: params}, digest}, ext})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// queryOf builds a TimeStampReq SEQUENCE of version 1, a SHA-256 imprint
// of digest and then fields, each encoded by encoding/asn1 as given: for
// queries whose optional fields are out of order, repeated or unknown.
func queryOf(t testing.TB, digest []byte, fields ...any) []byte {
	t.Helper()
	imprint, err := asn1.Marshal(refImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, digest})
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{2, 1, 1}, imprint...)
	for _, f := range fields {
		der, err := asn1.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, der...)
	}
	der, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestImprintCopiedByteForByte: the token's messageImprint is the query's,
// its AlgorithmIdentifier included (RFC 3161 section 2.4.2; issue 14:
// SHA-256 without parameters came back with NULL parameters).
func TestImprintCopiedByteForByte(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "EC-P256")
	a := p.authority(t, nil)
	sum := sha256.Sum256([]byte("imprint"))
	for _, params := range []asn1.RawValue{{}, asn1.NullRawValue} {
		imprint, err := asn1.Marshal(refImprint{pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: params}, sum[:]})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Respond(context.Background(), rawQueryWith(t, 1, params, oidSHA256, sum[:], nil))
		if err != nil {
			t.Fatal(err)
		}
		r := decodeResponse(t, resp)
		if r.Status.Status != statusGranted || !bytes.Contains(r.TimeStampToken.FullBytes, imprint) {
			t.Errorf("parameters %x: status %d, token lacks the query's imprint %x", params.FullBytes, r.Status.Status, imprint)
		}
	}
}

func TestRespondRejects(t *testing.T) {
	p := newPKI(t, "EC-P256")
	data := p.write(t, "data.txt", []byte("rejected document"))
	query := func(args ...string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			out := filepath.Join(p.dir, "q.tsq")
			mustOpenSSL(t, append([]string{"ts", "-query", "-data", data, "-out", out}, args...)...)
			q, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
	}
	fixed := func(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }
	sum := sha256.Sum256([]byte("x"))
	cases := []struct {
		name     string
		query    func(*testing.T) []byte
		opts     func(*Options)
		fail     FailInfo
		opensslF string // openssl's text for the failure info
		text     string // in the statusString
	}{
		{"version 2", fixed(rawQueryWith(t, 2, asn1.NullRawValue, oidSHA256, sum[:], nil)), nil, BadRequest, "transaction not permitted or supported", "version is 2"},
		{"garbage", fixed([]byte("this is not a time-stamp query")), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"empty", fixed(nil), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"SHA-1 not accepted", query("-sha1"), nil, BadAlg, "unrecognized or unsupported algorithm identifier", "SHA1 is not accepted"},
		{"MD5", query("-md5"), func(o *Options) { o.AcceptedAlgorithms = []crypto.Hash{crypto.SHA1, crypto.SHA256} }, BadAlg, "unrecognized or unsupported algorithm identifier", "not supported"},
		{"SHA-512 not accepted", query("-sha512"), func(o *Options) { o.AcceptedAlgorithms = []crypto.Hash{crypto.SHA256} }, BadAlg, "unrecognized or unsupported algorithm identifier", "use SHA256"},
		{"unaccepted policy", query("-sha256", "-tspolicy", policyUnknown.String()), nil, UnacceptedPolicy, "the requested TSA policy is not supported by the TSA", policyUnknown.String()},
		{"default policy not listed", query("-sha256", "-tspolicy", policyDefault.String()), func(o *Options) { o.AcceptedPolicies = nil }, UnacceptedPolicy, "the requested TSA policy is not supported by the TSA", "not accepted"},
		{"short imprint", fixed(rawQuery(t, oidSHA256, sum[:20], nil)), nil, BadDataFormat, "the data submitted has the wrong format", "20 bytes long"},
		// encoding/asn1, which parses the query, skips an element it does
		// not expect and ignores what follows the last field: the nonce
		// and policy below were dropped and the query granted.
		{"nonce after certReq", fixed(queryOf(t, sum[:], true, 5)), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"policy after nonce", fixed(queryOf(t, sum[:], 5, policyOther)), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"policy twice", fixed(queryOf(t, sum[:], policyOther, policyDefault)), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"unknown last element", fixed(queryOf(t, sum[:], asn1.NullRawValue)), nil, BadDataFormat, "the data submitted has the wrong format", "not a DER TimeStampReq"},
		{"extension", fixed(rawQuery(t, oidSHA256, sum[:], []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}})), nil, UnacceptedExtension, "the requested extension is not supported by the TSA", "1.2.3.4"},
	}
	for _, tc := range cases {
		for _, withText := range []bool{true, false} {
			name := tc.name
			if !withText {
				name += "/no status string"
			}
			t.Run(name, func(t *testing.T) {
				a := p.authority(t, func(o *Options) {
					o.IncludeStatusString = withText
					if tc.opts != nil {
						tc.opts(o)
					}
				})
				resp, err := a.Respond(context.Background(), tc.query(t))
				if err != nil {
					t.Fatalf("Respond returned an error for a bad query: %v", err)
				}
				r := decodeResponse(t, resp)
				if r.Status.Status != statusRejection {
					t.Errorf("status %d, want rejection", r.Status.Status)
				}
				if r.Status.FailInfo.At(int(tc.fail)) != 1 || r.Status.FailInfo.BitLength != int(tc.fail)+1 {
					t.Errorf("failInfo %x/%d, want only bit %v", r.Status.FailInfo.Bytes, r.Status.FailInfo.BitLength, tc.fail)
				}
				if len(r.TimeStampToken.FullBytes) != 0 {
					t.Errorf("a rejection carries a token")
				}
				var texts []string
				for _, s := range r.Status.StatusString {
					if s.Tag != asn1.TagUTF8String {
						t.Errorf("statusString element with tag %d, want UTF8String", s.Tag)
					}
					texts = append(texts, string(s.Bytes))
				}
				switch {
				case withText && (len(texts) != 1 || !strings.Contains(texts[0], tc.text)):
					t.Errorf("statusString %q, want it to contain %q", texts, tc.text)
				case !withText && len(texts) != 0:
					t.Errorf("statusString %q without IncludeStatusString", texts)
				}
				text := mustOpenSSL(t, "ts", "-reply", "-in", p.write(t, "r.tsr", resp), "-text")
				for _, want := range []string{"Status: Rejected.", "Failure info: " + tc.opensslF} {
					if !strings.Contains(text, want) {
						t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
					}
				}
			})
		}
	}
}

func TestTokenFields(t *testing.T) {
	p := newPKI(t, "EC-P256")
	now := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)
	cases := []struct {
		name     string
		opts     func(*Options)
		time     time.Time // genTime as encoded
		accuracy time.Duration
		openssl  []string
	}{
		{"plain", nil, now.Truncate(time.Millisecond), 0,
			[]string{"Time stamp: Feb 29 23:59:58.123 2024 GMT", "Accuracy: unspecified", "Ordering: no", "TSA: unspecified"}},
		{"accuracy 1.5s, ordering, TSA from certificate", func(o *Options) {
			o.Accuracy = 1500 * time.Millisecond
			o.Ordering = true
			o.TSAName = &p.cert.Subject
		}, now, 1500 * time.Millisecond, // to the nanosecond: see TestOrderingGenTime
			[]string{"Time stamp: Feb 29 23:59:58.123456789 2024 GMT", "Accuracy: 0x01 seconds, 0x01F4 millis, unspecified micros", "Ordering: yes", "TSA: DirName:/O=Signet Demo/CN=Test TSA EC-P256"}},
		{"accuracy 250µs, named TSA", func(o *Options) {
			o.Accuracy = 250 * time.Microsecond
			o.TSAName = &pkix.Name{CommonName: "Signet TSA", Country: []string{"SE"}}
		}, now.Truncate(time.Microsecond), 250 * time.Microsecond,
			[]string{"Time stamp: Feb 29 23:59:58.123456 2024 GMT", "Accuracy: unspecified seconds, unspecified millis, 0xFA micros", "TSA: DirName:/C=SE/CN=Signet TSA"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := p.authority(t, func(o *Options) {
				o.Now = func() time.Time { return now }
				if tc.opts != nil {
					tc.opts(o)
				}
			})
			digest := sha256.Sum256([]byte(tc.name))
			q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Certificates: true, Nonce: big.NewInt(42)}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			resp, err := a.Respond(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			ts, err := timestamp.ParseResponse(resp)
			if err != nil {
				t.Fatal(err)
			}
			if !ts.Time.Equal(tc.time) || ts.Accuracy != tc.accuracy {
				t.Errorf("genTime %v ± %v, want %v ± %v", ts.Time, ts.Accuracy, tc.time, tc.accuracy)
			}
			if tc.name == "accuracy 1.5s, ordering, TSA from certificate" {
				if name := tsaName(t, ts.RawToken); !bytes.Equal(name, p.cert.RawSubject) {
					t.Errorf("TSA name %x is not the certificate subject %x byte for byte", name, p.cert.RawSubject)
				}
			}
			text := mustOpenSSL(t, "ts", "-reply", "-in", p.write(t, "r.tsr", resp), "-text")
			for _, want := range tc.openssl {
				if !strings.Contains(text, want) {
					t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// tsaName returns the DER Name in the directoryName of a token's TSTInfo.
func tsaName(t *testing.T, token []byte) []byte {
	t.Helper()
	p7, err := pkcs7.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint refImprint
		SerialNumber   *big.Int
		GenTime        time.Time     `asn1:"generalized"`
		Accuracy       accuracy      `asn1:"optional"`
		Ordering       bool          `asn1:"optional,default:false"`
		Nonce          *big.Int      `asn1:"optional"`
		TSA            asn1.RawValue `asn1:"tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil {
		t.Fatalf("TSTInfo: %v", err)
	}
	var gn asn1.RawValue // inside [0] EXPLICIT
	if _, err := asn1.Unmarshal(info.TSA.Bytes, &gn); err != nil || gn.Tag != 4 || gn.Class != asn1.ClassContextSpecific {
		t.Fatalf("TSA name is not a directoryName: %v %+v", err, gn)
	}
	return gn.Bytes
}

func TestIncludeCertificates(t *testing.T) {
	p := newPKI(t, "EC-P256")
	for _, tc := range []struct{ levels, want int }{{0, 1}, {1, 1}, {2, 2}, {5, 2}} {
		a := p.authority(t, func(o *Options) { o.IncludeCertificates = tc.levels })
		digest := sha256.Sum256([]byte("levels"))
		tok, err := a.Stamp(context.Background(), digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := timestamp.Parse(tok)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts.Certificates) != tc.want {
			t.Errorf("INCLUDE_CERTIFICATE_LEVELS=%d: %d certificates, want %d", tc.levels, len(ts.Certificates), tc.want)
		}
	}
}

func TestStampVerifiesWithOpenSSL(t *testing.T) {
	for _, tc := range []struct {
		key string
		h   crypto.Hash
		sig crypto.Hash
	}{
		{"EC-P256", crypto.SHA256, 0},
		{"RSA-2048", crypto.SHA512, crypto.SHA384},
	} {
		t.Run(tc.key, func(t *testing.T) {
			p := newPKI(t, tc.key)
			a := p.authority(t, func(o *Options) { o.Hash = tc.sig })
			d := tc.h.New()
			d.Write([]byte("signature value to time-stamp"))
			digest := d.Sum(nil)
			tok, err := a.Stamp(context.Background(), digest, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			in := p.write(t, "token.der", tok)
			out := mustOpenSSL(t, "ts", "-verify", "-digest", hex.EncodeToString(digest), "-in", in, "-token_in", "-CAfile", p.caPEM)
			if !strings.Contains(out, "Verification: OK") {
				t.Errorf("openssl: %s", out)
			}
			digest[0] ^= 1
			if out, err := openssl("ts", "-verify", "-digest", hex.EncodeToString(digest), "-in", in, "-token_in", "-CAfile", p.caPEM); err == nil {
				t.Errorf("openssl verified the token against another digest: %s", out)
			}
		})
	}
}

func TestStampRefuses(t *testing.T) {
	a := newPKI(t, "EC-P256").authority(t, nil)
	sha1 := make([]byte, 20)
	for _, tc := range []struct {
		name   string
		digest []byte
		h      crypto.Hash
	}{
		{"SHA-1 not accepted", sha1, crypto.SHA1},
		{"wrong length", sha1, crypto.SHA256},
		{"unsupported hash", make([]byte, 28), crypto.SHA224},
	} {
		if _, err := a.Stamp(context.Background(), tc.digest, tc.h); !errors.Is(err, ErrRejected) {
			t.Errorf("%s: error %v, want ErrRejected", tc.name, err)
		}
	}
}

// TestStampEd25519 checks an Ed25519 token by its parts, as openssl 3.0
// cannot verify Ed25519 CMS: digitorus/pkcs7 verifies the signature over the
// signed attributes, and the digest algorithm must be SHA-512 (RFC 8419).
func TestStampEd25519(t *testing.T) {
	p := newPKI(t, "Ed25519")
	a := p.authority(t, nil)
	digest := sha256.Sum256([]byte("ed25519"))
	tok, err := a.Stamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.VerifyWithChain(certPool(p.ca.Cert)); err != nil {
		t.Errorf("Ed25519 token does not verify: %v", err)
	}
	bad := bytes.Clone(tok)
	bad[len(bad)-1] ^= 1 // the signature value ends the token
	if p7bad, err := pkcs7.Parse(bad); err == nil && p7bad.VerifyWithChain(certPool(p.ca.Cert)) == nil {
		t.Errorf("a token with a corrupted Ed25519 signature verifies")
	}
	var sd struct {
		Version int
		Digests []pkix.AlgorithmIdentifier `asn1:"set"`
	}
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(tok, &ci); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatal(err)
	}
	if len(sd.Digests) != 1 || !sd.Digests[0].Algorithm.Equal(oidSHA512) {
		t.Errorf("digest algorithms %v, want SHA-512", sd.Digests)
	}
	if _, err := New(Options{Chain: []*x509.Certificate{p.cert}, Signer: p.key, DefaultPolicy: policyDefault, Hash: crypto.SHA256}); err == nil {
		t.Errorf("New accepted SHA-256 for an Ed25519 key")
	}
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// offlineSigner is a key whose token went offline.
type offlineSigner struct{ crypto.Signer }

func (offlineSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, tokens.ErrOffline
}

func TestRespondSigningFailure(t *testing.T) {
	p := newPKI(t, "EC-P256")
	a := p.authority(t, func(o *Options) { o.Signer = offlineSigner{p.key} })
	digest := sha512.Sum512([]byte("x"))
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA512, HashedMessage: digest[:]}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Respond(context.Background(), q); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Respond with an offline token: %v, want tokens.ErrOffline", err)
	}
}

func TestSerialsUnique(t *testing.T) {
	p := newPKI(t, "EC-P256")
	a := p.authority(t, nil)
	digest := sha256.Sum256([]byte("serials"))
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:]}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
		wg   sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for range n / 4 {
				resp, err := a.Respond(context.Background(), q)
				if err != nil {
					t.Error(err)
					return
				}
				ts, err := timestamp.ParseResponse(resp)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[ts.SerialNumber.String()] {
					t.Errorf("serial number %v issued twice", ts.SerialNumber)
				}
				seen[ts.SerialNumber.String()] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("%d distinct serial numbers for %d responses", len(seen), n)
	}
}

func TestRandomSerials(t *testing.T) {
	// A frozen clock: uniqueness must not depend on the clock moving.
	frozen := time.Unix(1700000000, 0)
	for name, src := range map[string]*randomSerials{
		"clock":  RandomSerials().(*randomSerials),
		"frozen": {now: func() time.Time { return frozen }},
		"1969":   {now: func() time.Time { return time.Unix(-10, 0) }},
	} {
		t.Run(name, func(t *testing.T) {
			var (
				mu   sync.Mutex
				seen = map[string]bool{}
				wg   sync.WaitGroup
			)
			for range 8 {
				wg.Go(func() {
					for range 2000 {
						s, err := src.NextSerial(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						if s.Sign() <= 0 || s.BitLen() > 127 {
							t.Errorf("serial %v is not positive or longer than 127 bits", s)
						}
						mu.Lock()
						if seen[s.String()] {
							t.Errorf("serial %v repeated", s)
						}
						seen[s.String()] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestNewRejects(t *testing.T) {
	p := newPKI(t, "EC-P256")
	docKey, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	docCert, err := p.ca.Issue("Document Signer", docKey.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Go's ExtKeyUsage writes the extension non-critical.
	nonCritical := issue(t, p.ca, docKey, &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	twoUsages := issue(t, p.ca, docKey, &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageCodeSigning}})
	other, _ := demo.NewCA("Other Root")

	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"document-signing certificate", func(o *Options) { o.Chain[0], o.Signer = docCert, docKey }, "has no extended key usage extension"},
		{"non-critical EKU", func(o *Options) { o.Chain[0], o.Signer = nonCritical, docKey }, "non-critical"},
		{"two EKUs", func(o *Options) { o.Chain[0], o.Signer = twoUsages, docKey }, "only extended key usage"},
		{"foreign key", func(o *Options) { o.Signer = docKey }, "does not belong"},
		{"no chain", func(o *Options) { o.Chain = nil }, "no certificate"},
		{"no key", func(o *Options) { o.Signer = nil }, "no signing key"},
		{"chain out of order", func(o *Options) { o.Chain[1] = other.Cert }, "out of order"},
		{"no default policy", func(o *Options) { o.DefaultPolicy = nil }, "DEFAULTTSAPOLICYOID"},
		{"SHA-1 signature", func(o *Options) { o.Hash = crypto.SHA1 }, "not supported"},
		{"MD5 accepted", func(o *Options) { o.AcceptedAlgorithms = []crypto.Hash{crypto.MD5} }, "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Chain: []*x509.Certificate{p.cert, p.ca.Cert}, Signer: p.key, DefaultPolicy: policyDefault}
			tc.mod(&opts)
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// issue makes a certificate from a template the demo CA has no purpose for.
func issue(t *testing.T, ca *demo.CA, key crypto.Signer, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.Subject = pkix.Name{CommonName: "Odd TSA"}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestOrderingGenTime: with ORDERING a token claims that every token of
// the TSA can be ordered by genTime whatever its accuracy (RFC 3161 section
// 2.4.2), so no two tokens may share a genTime nor go back in time, even
// when the clock stands still (tokens within one millisecond) or steps back.
func TestOrderingGenTime(t *testing.T) {
	t.Parallel()
	p := newPKI(t, "EC-P256")
	start := time.Date(2025, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	cases := []struct {
		name  string
		clock []time.Time // what Now returns, token after token
	}{
		{"clock standing still", []time.Time{start, start, start, start}},
		{"within one millisecond", []time.Time{start, start.Add(300 * time.Microsecond), start.Add(600 * time.Microsecond)}},
		{"clock stepping back", []time.Time{start, start.Add(-time.Second), start.Add(-time.Millisecond), start.Add(time.Second)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			tick := 0
			a := p.authority(t, func(o *Options) {
				o.Ordering = true
				o.Accuracy = time.Second
				o.Now = func() time.Time {
					mu.Lock()
					defer mu.Unlock()
					tick++
					return tc.clock[tick-1]
				}
			})
			var last time.Time
			for i := range tc.clock {
				digest := sha256.Sum256([]byte{byte(i)})
				var token []byte
				if i%2 == 0 { // both ways of making a token
					q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Certificates: true}).Marshal()
					if err != nil {
						t.Fatal(err)
					}
					resp, err := a.Respond(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					token = decodeResponse(t, resp).TimeStampToken.FullBytes
				} else {
					var err error
					if token, err = a.Stamp(context.Background(), digest[:], crypto.SHA256); err != nil {
						t.Fatal(err)
					}
				}
				ts, err := timestamp.Parse(token)
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 && !ts.Time.After(last) {
					t.Errorf("token %d: genTime %s is not after the previous token's %s", i, ts.Time.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
				}
				if clock := tc.clock[i]; ts.Time.After(clock) && ts.Time.Sub(last) > time.Microsecond {
					t.Errorf("token %d: genTime %s is after the clock's %s by more than the ordering needs", i, ts.Time.Format(time.RFC3339Nano), clock.Format(time.RFC3339Nano))
				}
				last = ts.Time
			}
		})
	}
}
