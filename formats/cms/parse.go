package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is wrapped by Parse errors about input that is not a DER
// ContentInfo holding a SignedData.
var ErrMalformed = errors.New("cms: malformed SignedData")

// SignedData is a parsed CMS SignedData. Bytes re-encodes it; only the
// signers' UnsignedAttributes may be changed before that, through
// AddUnsignedAttribute or directly: the other fields are informative and
// the encoding keeps the parsed bytes.
type SignedData struct {
	Version          int
	DigestAlgorithms []asn1.ObjectIdentifier
	ContentType      asn1.ObjectIdentifier // eContentType
	Content          []byte                // eContent; nil when detached
	Certificates     []*x509.Certificate
	Signers          []*SignerInfo

	head []byte // DER of the fields before signerInfos, verbatim
}

// SignerInfo is one parsed signer.
type SignerInfo struct {
	Version   int
	Algorithm Algorithm // digestAlgorithm and signature scheme

	// The signer identifier: IssuerAndSerialNumber (IssuerRaw and
	// SerialNumber) or SubjectKeyID.
	IssuerRaw    []byte // DER Name
	SerialNumber *big.Int
	SubjectKeyID []byte

	// Values of the signed attributes Signet knows.
	MessageDigest           []byte
	ContentType             asn1.ObjectIdentifier
	SigningTime             time.Time // zero if absent
	HasSigningCertificateV2 bool
	SigningCertificateHash  []byte      // certHash of the first ESSCertIDv2
	SigningCertificateAlg   crypto.Hash // its hash algorithm; 0 if not one Signet knows (Verify refuses it)

	SignedAttributes []Attribute
	RawSignedAttrs   []byte // DER SET OF as signed; nil if there are none
	Signature        []byte

	// UnsignedAttributes are encoded again by SignedData.Bytes.
	UnsignedAttributes []Attribute

	pssSalt int
	head    []byte // DER of the fields before unsignedAttrs, verbatim
}

// Attribute is a CMS attribute: a type and its values.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue // each with FullBytes set
}

var (
	tagCtx0Cons = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagCtx1Cons = cbasn1.Tag(1).Constructed().ContextSpecific()
	tagCtx0Prim = cbasn1.Tag(0).ContextSpecific()
)

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Parse reads a DER ContentInfo holding a SignedData; a BER one (indefinite
// lengths, chunked eContent, zero bytes after it) is re-encoded as DER
// first. It fails on digests and signature algorithms this package does not
// support. The result refers to der (or its DER copy), which must not change
// while it is in use.
func Parse(der []byte) (*SignedData, error) {
	in := cryptobyte.String(der)
	var ci, inner, sd cryptobyte.String
	var ctOID asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		conv, err := berToDER(der)
		if err != nil {
			return nil, malformed("not a DER or BER ContentInfo")
		}
		in = cryptobyte.String(conv)
		if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
			return nil, malformed("not a DER or BER ContentInfo")
		}
	}
	if !ci.ReadASN1ObjectIdentifier(&ctOID) || !ctOID.Equal(OIDSignedData) {
		return nil, malformed("the ContentInfo does not hold a SignedData")
	}
	if !ci.ReadASN1(&inner, tagCtx0Cons) || !inner.ReadASN1(&sd, cbasn1.SEQUENCE) || !inner.Empty() || !ci.Empty() {
		return nil, malformed("SignedData")
	}
	whole := sd
	out := &SignedData{}
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&out.Version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		return nil, malformed("SignedData version, digestAlgorithms or encapContentInfo")
	}
	for !digestAlgs.Empty() {
		oid, _, ok := readAlgorithm(&digestAlgs)
		if !ok {
			return nil, malformed("digestAlgorithms")
		}
		out.DigestAlgorithms = append(out.DigestAlgorithms, oid)
	}
	if !encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, malformed("eContentType")
	}
	if encap.PeekASN1Tag(tagCtx0Cons) {
		var ec, os cryptobyte.String
		if !encap.ReadASN1(&ec, tagCtx0Cons) || !ec.ReadASN1(&os, cbasn1.OCTET_STRING) || !ec.Empty() {
			return nil, malformed("eContent (only a primitive OCTET STRING is read)")
		}
		out.Content = os
	}
	if !encap.Empty() {
		return nil, malformed("encapContentInfo")
	}
	if sd.PeekASN1Tag(tagCtx0Cons) {
		var certs cryptobyte.String
		if !sd.ReadASN1(&certs, tagCtx0Cons) {
			return nil, malformed("certificates")
		}
		for !certs.Empty() {
			var c cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&c, &tag) {
				return nil, malformed("certificates")
			}
			if tag != cbasn1.SEQUENCE {
				continue // attribute or other certificate formats
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("%w: certificate %d: %v", ErrMalformed, len(out.Certificates)+1, err)
			}
			out.Certificates = append(out.Certificates, cert)
		}
	}
	if !sd.SkipOptionalASN1(tagCtx1Cons) { // crls
		return nil, malformed("crls")
	}
	out.head = whole[:len(whole)-len(sd)]
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("signerInfos")
	}
	for !sis.Empty() {
		var si cryptobyte.String
		if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, malformed("signerInfo")
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, fmt.Errorf("%w (signer %d)", err, len(out.Signers)+1)
		}
		out.Signers = append(out.Signers, s)
	}
	if len(out.Signers) == 0 {
		return nil, malformed("no signerInfos")
	}
	return out, nil
}

// readAlgorithm reads an AlgorithmIdentifier and returns its OID and
// parameters (empty if absent).
func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, bool) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false
	}
	return oid, alg, true
}

func parseSignerInfo(si cryptobyte.String) (*SignerInfo, error) {
	whole := si
	out := &SignerInfo{}
	if !si.ReadASN1Integer(&out.Version) {
		return nil, malformed("SignerInfo version")
	}
	if si.PeekASN1Tag(tagCtx0Prim) {
		var ski cryptobyte.String
		if !si.ReadASN1(&ski, tagCtx0Prim) {
			return nil, malformed("subjectKeyIdentifier")
		}
		out.SubjectKeyID = ski
	} else {
		var sid, issuer cryptobyte.String
		out.SerialNumber = new(big.Int)
		if !si.ReadASN1(&sid, cbasn1.SEQUENCE) || !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!sid.ReadASN1Integer(out.SerialNumber) || !sid.Empty() {
			return nil, malformed("issuerAndSerialNumber")
		}
		out.IssuerRaw = issuer
	}
	digestOID, _, ok := readAlgorithm(&si)
	if !ok {
		return nil, malformed("digestAlgorithm")
	}
	if out.Algorithm.Hash, ok = hashByOID(digestOID); !ok {
		return nil, fmt.Errorf("%w digest algorithm %s", ErrUnsupported, digestOID)
	}
	if si.PeekASN1Tag(tagCtx0Cons) {
		var attrs cryptobyte.String
		if !si.ReadASN1Element(&attrs, tagCtx0Cons) {
			return nil, malformed("signedAttrs")
		}
		// The signature covers the DER SET OF: the same bytes with the
		// universal SET tag instead of [0].
		out.RawSignedAttrs = bytes.Clone(attrs)
		out.RawSignedAttrs[0] = tagSet
		var err error
		if out.SignedAttributes, err = parseAttributes(out.RawSignedAttrs); err != nil {
			return nil, fmt.Errorf("%w (signedAttrs)", err)
		}
		if err := out.readSignedAttributes(); err != nil {
			return nil, err
		}
	}
	sigOID, params, ok := readAlgorithm(&si)
	if !ok {
		return nil, malformed("signatureAlgorithm")
	}
	if err := out.setScheme(sigOID, params); err != nil {
		return nil, err
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, malformed("signature")
	}
	out.Signature = sig
	out.head = whole[:len(whole)-len(si)]
	if si.PeekASN1Tag(tagCtx1Cons) {
		var attrs cryptobyte.String
		if !si.ReadASN1Element(&attrs, tagCtx1Cons) {
			return nil, malformed("unsignedAttrs")
		}
		var err error
		if out.UnsignedAttributes, err = parseAttributes(attrs); err != nil {
			return nil, fmt.Errorf("%w (unsignedAttrs)", err)
		}
	}
	if !si.Empty() {
		return nil, malformed("data after the SignerInfo")
	}
	return out, nil
}

// parseAttributes reads a DER SET OF Attribute with any outer tag.
func parseAttributes(der []byte) ([]Attribute, error) {
	in := cryptobyte.String(der)
	var set cryptobyte.String
	var tag cbasn1.Tag
	if !in.ReadAnyASN1(&set, &tag) {
		return nil, malformed("attributes")
	}
	var out []Attribute
	for !set.Empty() {
		var a, values cryptobyte.String
		var attr Attribute
		if !set.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&attr.Type) || !a.ReadASN1(&values, cbasn1.SET) || !a.Empty() {
			return nil, malformed("attribute")
		}
		for len(values) > 0 {
			var v asn1.RawValue
			rest, err := asn1.Unmarshal(values, &v)
			if err != nil {
				return nil, fmt.Errorf("%w: attribute %s: %v", ErrMalformed, attr.Type, err)
			}
			values = rest
			attr.Values = append(attr.Values, v)
		}
		out = append(out, attr)
	}
	return out, nil
}

// readSignedAttributes fills in the values of the attributes Signet knows.
func (si *SignerInfo) readSignedAttributes() error {
	seen := map[string]bool{}
	for _, a := range si.SignedAttributes {
		one := func() (cryptobyte.String, error) {
			key := a.Type.String()
			if seen[key] || len(a.Values) != 1 {
				return nil, malformed(key + " must occur once with one value")
			}
			seen[key] = true
			return cryptobyte.String(a.Values[0].FullBytes), nil
		}
		var ok bool
		switch {
		case a.Type.Equal(OIDAttrMessageDigest):
			v, err := one()
			if err != nil {
				return err
			}
			var md cryptobyte.String
			ok = v.ReadASN1(&md, cbasn1.OCTET_STRING)
			si.MessageDigest = md
		case a.Type.Equal(OIDAttrContentType):
			v, err := one()
			if err != nil {
				return err
			}
			ok = v.ReadASN1ObjectIdentifier(&si.ContentType)
		case a.Type.Equal(OIDAttrSigningTime):
			v, err := one()
			if err != nil {
				return err
			}
			if v.PeekASN1Tag(cbasn1.UTCTime) {
				ok = v.ReadASN1UTCTime(&si.SigningTime)
			} else {
				ok = v.ReadASN1GeneralizedTime(&si.SigningTime)
			}
		case a.Type.Equal(OIDAttrSigningCertV2):
			v, err := one()
			if err != nil {
				return err
			}
			si.HasSigningCertificateV2 = true
			ok = si.readSigningCertificateV2(v)
		default:
			ok = true
		}
		if !ok {
			return malformed("signed attribute " + a.Type.String())
		}
	}
	return nil
}

// readSigningCertificateV2 reads the hash of the first ESSCertIDv2.
func (si *SignerInfo) readSigningCertificateV2(v cryptobyte.String) bool {
	var scv2, certs, id cryptobyte.String
	if !v.ReadASN1(&scv2, cbasn1.SEQUENCE) || !scv2.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return false
	}
	si.SigningCertificateAlg = crypto.SHA256 // DEFAULT
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		oid, _, ok := readAlgorithm(&id)
		if !ok {
			return false
		}
		si.SigningCertificateAlg, _ = hashByOID(oid)
		if oid.Equal(oidSHA1) {
			// RFC 5035 allows it, and older signers write it: it
			// identifies a certificate, which SHA-1 still does.
			si.SigningCertificateAlg = crypto.SHA1
		}
	}
	var h cryptobyte.String
	if !id.ReadASN1(&h, cbasn1.OCTET_STRING) {
		return false
	}
	si.SigningCertificateHash = h
	return true
}

// setScheme reads the signatureAlgorithm.
func (si *SignerInfo) setScheme(oid asn1.ObjectIdentifier, params cryptobyte.String) error {
	switch {
	case oid.Equal(oidRSA):
		si.Algorithm.Scheme = PKCS1v15
		return nil
	case oid.Equal(oidPSS):
		si.Algorithm.Scheme = PSS
		return si.readPSSParams(params)
	case oid.Equal(oidEd25519):
		si.Algorithm.Scheme = Ed25519
		return nil
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}): // id-ecPublicKey, written by some signers
		si.Algorithm.Scheme = ECDSA
		return nil
	}
	for _, h := range supportedHashes {
		hi, _ := lookupHash(h)
		switch {
		case hi.ecdsaOID.Equal(oid):
			si.Algorithm.Scheme = ECDSA
			return nil
		case hi.rsaSigOID.Equal(oid):
			si.Algorithm.Scheme = PKCS1v15
			return nil
		}
	}
	return fmt.Errorf("%w signature algorithm %s", ErrUnsupported, oid)
}

// readPSSParams reads RSASSA-PSS-params (RFC 4055) and accepts those Go can
// verify with the SignerInfo's digest: the same hash for the message and for
// MGF1.
func (si *SignerInfo) readPSSParams(params cryptobyte.String) error {
	var seq cryptobyte.String
	if !params.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return malformed("RSASSA-PSS parameters")
	}
	hash, mgfHash, salt := crypto.SHA1, crypto.SHA1, int64(20) // DEFAULTs
	var ok bool
	if seq.PeekASN1Tag(tagCtx0Cons) {
		var f cryptobyte.String
		seq.ReadASN1(&f, tagCtx0Cons)
		oid, _, okAlg := readAlgorithm(&f)
		if !okAlg {
			return malformed("RSASSA-PSS hashAlgorithm")
		}
		if hash, ok = hashByOID(oid); !ok {
			return fmt.Errorf("%w RSASSA-PSS hash %s", ErrUnsupported, oid)
		}
	}
	if seq.PeekASN1Tag(tagCtx1Cons) {
		var f cryptobyte.String
		seq.ReadASN1(&f, tagCtx1Cons)
		oid, p, okAlg := readAlgorithm(&f)
		if !okAlg || !oid.Equal(oidMGF1) {
			return fmt.Errorf("%w RSASSA-PSS mask generation function", ErrUnsupported)
		}
		hoid, _, okAlg := readAlgorithm(&p)
		if !okAlg {
			return malformed("RSASSA-PSS MGF1 parameters")
		}
		if mgfHash, ok = hashByOID(hoid); !ok {
			return fmt.Errorf("%w RSASSA-PSS MGF1 hash %s", ErrUnsupported, hoid)
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(2).Constructed().ContextSpecific()) {
		var f cryptobyte.String
		if !seq.ReadASN1(&f, cbasn1.Tag(2).Constructed().ContextSpecific()) || !f.ReadASN1Integer(&salt) || salt < 0 {
			return malformed("RSASSA-PSS saltLength")
		}
	}
	if hash != si.Algorithm.Hash || mgfHash != hash {
		return fmt.Errorf("%w: RSASSA-PSS with hash %s and MGF1 hash %s under digest %s", ErrUnsupported, HashName(hash), HashName(mgfHash), HashName(si.Algorithm.Hash))
	}
	si.pssSalt = int(salt)
	return nil
}

// AddUnsignedAttribute appends an unsigned attribute of type typ with one
// value, given as DER, to signer i (counted from 0), for example a
// signature-time-stamp (OIDSignatureTimeStampToken) over Signers[i].Signature.
// Bytes then encodes the extended SignedData.
func (sd *SignedData) AddUnsignedAttribute(i int, typ asn1.ObjectIdentifier, value []byte) error {
	if i < 0 || i >= len(sd.Signers) {
		return fmt.Errorf("cms: there is no signer %d; the SignedData has %d", i, len(sd.Signers))
	}
	if len(typ) < 2 {
		return errors.New("cms: the attribute type is not a valid object identifier")
	}
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(bytes.Clone(value), &v)
	if err != nil || len(rest) > 0 {
		return fmt.Errorf("cms: the attribute value must be one DER element")
	}
	si := sd.Signers[i]
	si.UnsignedAttributes = append(si.UnsignedAttributes, Attribute{Type: slices.Clone(typ), Values: []asn1.RawValue{v}})
	return nil
}

// Bytes returns the DER ContentInfo: the parsed SignedData with each
// signer's UnsignedAttributes encoded again.
func (sd *SignedData) Bytes() ([]byte, error) {
	if sd.head == nil {
		return nil, errors.New("cms: Bytes needs a SignedData made by Parse")
	}
	sis := make([][]byte, len(sd.Signers))
	for i, si := range sd.Signers {
		enc, err := si.encode()
		if err != nil {
			return nil, fmt.Errorf("cms: signer %d: %w", i+1, err)
		}
		sis[i] = enc
	}
	slices.SortFunc(sis, bytes.Compare) // DER SET OF order
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(tagCtx0Cons, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(sd.head)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, s := range sis {
						b.AddBytes(s)
					}
				})
			})
		})
	})
	return b.Bytes()
}

// encode returns the DER SignerInfo with its unsigned attributes.
func (si *SignerInfo) encode() ([]byte, error) {
	if si.head == nil {
		return nil, errors.New("the SignerInfo was not made by Parse")
	}
	attrs := make([][]byte, 0, len(si.UnsignedAttributes))
	for _, a := range si.UnsignedAttributes {
		if len(a.Values) == 0 {
			return nil, fmt.Errorf("unsigned attribute %s has no value", a.Type)
		}
		values := make([][]byte, len(a.Values))
		for j, v := range a.Values {
			if len(v.FullBytes) == 0 {
				return nil, fmt.Errorf("a value of unsigned attribute %s has no encoding (FullBytes)", a.Type)
			}
			values[j] = v.FullBytes
		}
		slices.SortFunc(values, bytes.Compare)
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(a.Type)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, v := range values {
					b.AddBytes(v)
				}
			})
		})
		enc, err := b.Bytes()
		if err != nil {
			return nil, fmt.Errorf("unsigned attribute %s: %w", a.Type, err)
		}
		attrs = append(attrs, enc)
	}
	slices.SortFunc(attrs, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(si.head)
		if len(attrs) > 0 {
			b.AddASN1(tagCtx1Cons, func(b *cryptobyte.Builder) {
				for _, a := range attrs {
					b.AddBytes(a)
				}
			})
		}
	})
	return b.Bytes()
}
