package cms

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Options configure a Signer.
type Options struct {
	Chain               []*x509.Certificate   // signer first; required
	IncludeCertificates int                   // how many of Chain to embed; <0 means all
	Algorithm           Algorithm             // Hash digests the content and the signed attributes
	ContentType         asn1.ObjectIdentifier // eContentType; nil means id-data
	CAdES               bool                  // add signing-certificate-v2 (CAdES-BASELINE-B)
}

// Signer builds SignedData for one key and certificate. Everything that does
// not depend on the document is encoded once in NewSigner. A Signer is safe
// for concurrent use.
type Signer struct {
	alg         Algorithm
	cert        *x509.Certificate
	version     int64
	digestAlgID []byte // DER AlgorithmIdentifier
	sigAlgID    []byte // DER AlgorithmIdentifier
	sid         []byte // DER IssuerAndSerialNumber
	certs       []byte // concatenated certificate DER
	contentType []byte // DER OBJECT IDENTIFIER
	ctAttr      []byte // DER Attribute content-type
	scv2Attr    []byte // DER Attribute signing-certificate-v2, or nil
}

// NewSigner checks the options and precomputes the per-signer encodings.
func NewSigner(opts Options) (*Signer, error) {
	if len(opts.Chain) == 0 {
		return nil, errors.New("cms: a signer certificate is required")
	}
	cert := opts.Chain[0]
	if err := opts.Algorithm.Check(cert.PublicKey); err != nil {
		return nil, err
	}
	hi, _ := lookupHash(opts.Algorithm.Hash)
	ct := opts.ContentType
	if ct == nil {
		ct = OIDData
	}
	s := &Signer{alg: opts.Algorithm, cert: cert, version: 1}
	if !ct.Equal(OIDData) {
		s.version = 3 // RFC 5652 5.1: eContentType other than id-data
	}
	s.digestAlgID = algID(hi.oid, false)
	s.sigAlgID = sigAlgID(opts.Algorithm, hi)
	s.sid = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(cert.RawIssuer)
			b.AddASN1BigInt(cert.SerialNumber)
		})
	})
	n := opts.IncludeCertificates
	if n < 0 || n > len(opts.Chain) {
		n = len(opts.Chain)
	}
	for _, c := range opts.Chain[:n] {
		s.certs = append(s.certs, c.Raw...)
	}
	s.contentType = mustBuild(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(ct) })
	s.ctAttr = attribute(OIDAttrContentType, s.contentType)
	if opts.CAdES {
		certHash := sha256.Sum256(cert.Raw)
		value := mustBuild(func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm SHA-256 by default
						b.AddASN1OctetString(certHash[:])
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
							b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
								b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
									b.AddBytes(cert.RawIssuer)
								})
							})
							b.AddASN1BigInt(cert.SerialNumber)
						})
					})
				})
			})
		})
		s.scv2Attr = attribute(OIDAttrSigningCertV2, value)
	}
	return s, nil
}

// mustBuild runs an encoder that cannot fail on valid inputs.
func mustBuild(f func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func algID(oid asn1.ObjectIdentifier, null bool) []byte {
	return mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if null {
				b.AddASN1NULL()
			}
		})
	})
}

func sigAlgID(a Algorithm, hi hashInfo) []byte {
	switch a.Scheme {
	case PKCS1v15:
		return algID(oidRSA, true)
	case ECDSA:
		return algID(hi.ecdsaOID, false)
	case Ed25519:
		return algID(oidEd25519, false)
	}
	// RSASSA-PSS with explicit parameters: hash, MGF1 with the same hash,
	// salt length equal to the hash length.
	hashAlg := algID(hi.oid, true)
	return mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidPSS)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(hashAlg) })
				b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidMGF1)
						b.AddBytes(hashAlg)
					})
				})
				b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(a.Hash.Size())) })
			})
		})
	})
}

// attribute encodes Attribute ::= SEQUENCE { attrType, attrValues SET OF }
// with one value given as DER.
func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	return mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
		})
	})
}

// SignerOpts returns what the token must sign Input() with.
func (s *Signer) SignerOpts() crypto.SignerOpts { return s.alg.SignerOpts() }

// Hash returns the digest algorithm of content and signed attributes.
func (s *Signer) Hash() crypto.Hash { return s.alg.Hash }

// Algorithm returns the signer's algorithm.
func (s *Signer) Algorithm() Algorithm { return s.alg }

// Certificate returns the signer certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Pending is a SignerInfo waiting for its signature.
type Pending struct {
	s     *Signer
	attrs []byte // DER SET OF Attribute, tag SET, as signed
	input []byte
}

// Prepare builds the signed attributes for a content digest made with
// s.Hash() and a signing time.
func (s *Signer) Prepare(digest []byte, signingTime time.Time) (*Pending, error) {
	if len(digest) != s.alg.Hash.Size() {
		return nil, fmt.Errorf("the digest is %d bytes but a %s digest is %d bytes", len(digest), HashName(s.alg.Hash), s.alg.Hash.Size())
	}
	md := mustBuild(func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	st, err := encodeTime(signingTime)
	if err != nil {
		return nil, err
	}
	list := [][]byte{s.ctAttr, attribute(OIDAttrSigningTime, st), attribute(OIDAttrMessageDigest, md)}
	if s.scv2Attr != nil {
		list = append(list, s.scv2Attr)
	}
	slices.SortFunc(list, bytes.Compare) // DER SET OF order
	attrs := mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, a := range list {
				b.AddBytes(a)
			}
		})
	})
	p := &Pending{s: s, attrs: attrs}
	if s.alg.Scheme == Ed25519 {
		p.input = attrs
	} else {
		h := s.alg.Hash.New()
		h.Write(attrs)
		p.input = h.Sum(nil)
	}
	return p, nil
}

// encodeTime encodes a signing time as UTCTime, or GeneralizedTime from 2050
// as RFC 5652 11.3 requires.
func encodeTime(t time.Time) ([]byte, error) {
	t = t.UTC().Truncate(time.Second)
	var b cryptobyte.Builder
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
	return b.Bytes()
}

// Input is what the token signs with SignerOpts(): the digest of the signed
// attributes, or the attributes themselves for Ed25519.
func (p *Pending) Input() []byte { return p.input }

// Encode returns the DER ContentInfo holding SignedData; content nil makes a
// detached signature.
func (p *Pending) Encode(signature []byte, content []byte) ([]byte, error) {
	s := p.s
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(s.version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(s.digestAlgID) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddBytes(s.contentType)
					if content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(content)
						})
					}
				})
				if len(s.certs) > 0 {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(s.certs) })
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // SignerInfos
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddBytes(s.sid)
						b.AddBytes(s.digestAlgID)
						// signedAttrs [0] IMPLICIT: the SET's contents under tag A0.
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(setContents(p.attrs))
						})
						b.AddBytes(s.sigAlgID)
						b.AddASN1OctetString(signature)
					})
				})
			})
		})
	})
	return b.Bytes()
}

// setContents returns the contents of a DER SET.
func setContents(set []byte) []byte {
	in := cryptobyte.String(set)
	var out cryptobyte.String
	in.ReadASN1(&out, cbasn1.SET)
	return out
}
