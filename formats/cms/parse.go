package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	ContentType  asn1.ObjectIdentifier
	Content      []byte // nil when detached
	Certificates []*x509.Certificate
	Signers      []*SignerInfo
}

// SignerInfo is one parsed signer.
type SignerInfo struct {
	Algorithm               Algorithm
	IssuerRaw               []byte
	Serial                  []byte // DER INTEGER contents
	MessageDigest           []byte
	ContentType             asn1.ObjectIdentifier
	SigningTime             time.Time
	HasSigningCertificateV2 bool
	RawSignedAttrs          []byte // DER SET OF as signed (tag SET)
	Signature               []byte
}

var errMalformed = errors.New("cms: malformed SignedData")

// Parse reads a DER ContentInfo holding SignedData.
func Parse(der []byte) (*SignedData, error) {
	in := cryptobyte.String(der)
	var ci, sd, inner cryptobyte.String
	var ctOID asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ctOID) || !ctOID.Equal(OIDSignedData) ||
		!ci.ReadASN1(&inner, cbasn1.Tag(0).Constructed().ContextSpecific()) || !inner.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: not a ContentInfo with SignedData", errMalformed)
	}
	var version int64
	var digestAlgs, encap cryptobyte.String
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: header", errMalformed)
	}
	out := &SignedData{}
	if !encap.ReadASN1ObjectIdentifier(&out.ContentType) {
		return nil, fmt.Errorf("%w: eContentType", errMalformed)
	}
	if encap.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var ec, os cryptobyte.String
		if !encap.ReadASN1(&ec, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ec.ReadASN1(&os, cbasn1.OCTET_STRING) {
			return nil, fmt.Errorf("%w: eContent", errMalformed)
		}
		out.Content = append([]byte{}, os...)
	}
	if sd.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		if !sd.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, fmt.Errorf("%w: certificates", errMalformed)
		}
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1Element(&c, cbasn1.SEQUENCE) {
				return nil, fmt.Errorf("%w: certificate", errMalformed)
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("cms: certificate: %w", err)
			}
			out.Certificates = append(out.Certificates, cert)
		}
	}
	sd.SkipOptionalASN1(cbasn1.Tag(1).Constructed().ContextSpecific()) // crls
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) {
		return nil, fmt.Errorf("%w: signerInfos", errMalformed)
	}
	for !sis.Empty() {
		var si cryptobyte.String
		if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("%w: signerInfo", errMalformed)
		}
		s, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		out.Signers = append(out.Signers, s)
	}
	if len(out.Signers) == 0 {
		return nil, fmt.Errorf("%w: no signers", errMalformed)
	}
	return out, nil
}

func readAlgOID(s *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, bool) {
	var alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false
	}
	return oid, alg, true
}

func parseSignerInfo(si cryptobyte.String) (*SignerInfo, error) {
	var version int64
	var sid cryptobyte.String
	if !si.ReadASN1Integer(&version) || !si.ReadASN1(&sid, cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: signer version or sid (only IssuerAndSerialNumber is read)", errMalformed)
	}
	out := &SignerInfo{}
	var issuer cryptobyte.String
	var serial cryptobyte.String
	if !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !sid.ReadASN1(&serial, cbasn1.INTEGER) {
		return nil, fmt.Errorf("%w: sid", errMalformed)
	}
	out.IssuerRaw, out.Serial = issuer, serial
	digestOID, _, ok := readAlgOID(&si)
	if !ok {
		return nil, fmt.Errorf("%w: digestAlgorithm", errMalformed)
	}
	for _, hi := range hashes() {
		if hi.oid.Equal(digestOID) {
			out.Algorithm.Hash = hi.h
		}
	}
	if out.Algorithm.Hash == 0 {
		return nil, fmt.Errorf("cms: unsupported digest algorithm %s", digestOID)
	}
	var attrs cryptobyte.String
	if !si.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: signer without signed attributes", errMalformed)
	}
	out.RawSignedAttrs = mustBuild(func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(attrs) })
	})
	for !attrs.Empty() {
		var a, values cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !attrs.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&typ) || !a.ReadASN1(&values, cbasn1.SET) {
			return nil, fmt.Errorf("%w: attribute", errMalformed)
		}
		switch {
		case typ.Equal(OIDAttrMessageDigest):
			var md cryptobyte.String
			if !values.ReadASN1(&md, cbasn1.OCTET_STRING) {
				return nil, fmt.Errorf("%w: message-digest", errMalformed)
			}
			out.MessageDigest = md
		case typ.Equal(OIDAttrContentType):
			values.ReadASN1ObjectIdentifier(&out.ContentType)
		case typ.Equal(OIDAttrSigningTime):
			if values.PeekASN1Tag(cbasn1.UTCTime) {
				values.ReadASN1UTCTime(&out.SigningTime)
			} else {
				values.ReadASN1GeneralizedTime(&out.SigningTime)
			}
		case typ.Equal(OIDAttrSigningCertV2):
			out.HasSigningCertificateV2 = true
		}
	}
	sigOID, sigParams, ok := readAlgOID(&si)
	if !ok {
		return nil, fmt.Errorf("%w: signatureAlgorithm", errMalformed)
	}
	out.Algorithm.Scheme = -1
	switch {
	case sigOID.Equal(oidRSA):
		out.Algorithm.Scheme = PKCS1v15
	case sigOID.Equal(oidPSS):
		out.Algorithm.Scheme = PSS
		_ = sigParams
	case sigOID.Equal(oidEd25519):
		out.Algorithm.Scheme = Ed25519
	default:
		for _, hi := range hashes() {
			if hi.ecdsaOID.Equal(sigOID) {
				out.Algorithm.Scheme = ECDSA
			}
			if hi.rsaSigOID.Equal(sigOID) {
				out.Algorithm.Scheme = PKCS1v15
			}
		}
	}
	if out.Algorithm.Scheme < 0 {
		return nil, fmt.Errorf("cms: unsupported signature algorithm %s", sigOID)
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: signature", errMalformed)
	}
	out.Signature = sig
	return out, nil
}

// Verify checks every signer: the message digest against the content
// (detachedContent when the signature is detached) and the signature over
// the signed attributes with the signer's certificate, found among the
// embedded certificates or extra. It does not build a path to a trust
// anchor; use x509.Certificate.Verify for that.
func (sd *SignedData) Verify(detachedContent io.Reader, extra ...*x509.Certificate) error {
	certs := append(append([]*x509.Certificate{}, sd.Certificates...), extra...)
	for i, si := range sd.Signers {
		h := si.Algorithm.Hash.New()
		if sd.Content != nil {
			h.Write(sd.Content)
		} else if detachedContent != nil {
			if _, err := io.Copy(h, detachedContent); err != nil {
				return fmt.Errorf("cms: reading content: %w", err)
			}
		} else {
			return errors.New("cms: detached signature and no content given")
		}
		if !bytes.Equal(h.Sum(nil), si.MessageDigest) {
			return fmt.Errorf("cms: signer %d: message digest does not match the content", i)
		}
		var cert *x509.Certificate
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, si.IssuerRaw) && bytes.Equal(c.SerialNumber.Bytes(), bytes.TrimLeft(si.Serial, "\x00")) {
				cert = c
			}
		}
		if cert == nil {
			return fmt.Errorf("cms: signer %d: certificate not found", i)
		}
		if err := verifySig(cert.PublicKey, si); err != nil {
			return fmt.Errorf("cms: signer %d: %w", i, err)
		}
	}
	return nil
}

func verifySig(pub crypto.PublicKey, si *SignerInfo) error {
	if si.Algorithm.Scheme == Ed25519 {
		k, ok := pub.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(k, si.RawSignedAttrs, si.Signature) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	h := si.Algorithm.Hash.New()
	h.Write(si.RawSignedAttrs)
	d := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if si.Algorithm.Scheme == PSS {
			return rsa.VerifyPSS(k, si.Algorithm.Hash, d, si.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		}
		return rsa.VerifyPKCS1v15(k, si.Algorithm.Hash, d, si.Signature)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d, si.Signature) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T", pub)
}
