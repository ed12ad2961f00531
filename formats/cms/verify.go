package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha1" // signing-certificate-v2 may name its certificate by SHA-1
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrInvalidSignature is wrapped by Verify errors that mean the signature
// does not match the content or the signer's key.
var ErrInvalidSignature = errors.New("cms: invalid signature")

// SignerCertificate returns the certificate of signer i (counted from 0),
// found by its signer identifier among the embedded certificates and extra.
func (sd *SignedData) SignerCertificate(i int, extra ...*x509.Certificate) (*x509.Certificate, error) {
	if i < 0 || i >= len(sd.Signers) {
		return nil, fmt.Errorf("cms: there is no signer %d; the SignedData has %d", i, len(sd.Signers))
	}
	si := sd.Signers[i]
	for _, set := range [][]*x509.Certificate{sd.Certificates, extra} {
		for _, c := range set {
			if si.SubjectKeyID != nil {
				if bytes.Equal(c.SubjectKeyId, si.SubjectKeyID) {
					return c, nil
				}
			} else if bytes.Equal(c.RawIssuer, si.IssuerRaw) && c.SerialNumber.Cmp(si.SerialNumber) == 0 {
				return c, nil
			}
		}
	}
	return nil, fmt.Errorf("cms: the certificate of signer %d is neither in the signature nor given; pass it to Verify", i+1)
}

// Verify checks every signer: the message digest against the content (read
// from detachedContent when the signature is detached), the content type,
// the signing-certificate-v2 attribute when present, and the signature with
// the signer's certificate, found among the embedded certificates or extra.
// It does not build a path to a trust anchor: use x509.Certificate.Verify on
// the certificate SignerCertificate returns.
func (sd *SignedData) Verify(detachedContent io.Reader, extra ...*x509.Certificate) error {
	if len(sd.Signers) == 0 {
		return malformed("no signerInfos")
	}
	digests, err := sd.contentDigests(detachedContent)
	if err != nil {
		return err
	}
	for i, si := range sd.Signers {
		cert, err := sd.SignerCertificate(i, extra...)
		if err != nil {
			return err
		}
		if err := sd.verifySigner(si, cert, digests[si.Algorithm.Hash]); err != nil {
			return fmt.Errorf("%w (signer %d)", err, i+1)
		}
	}
	return nil
}

// contentDigests hashes the content once with every signer's digest.
func (sd *SignedData) contentDigests(detached io.Reader) (map[crypto.Hash][]byte, error) {
	hs := map[crypto.Hash]hash.Hash{}
	var ws []io.Writer
	for _, si := range sd.Signers {
		if hs[si.Algorithm.Hash] == nil {
			h := si.Algorithm.Hash.New()
			hs[si.Algorithm.Hash] = h
			ws = append(ws, h)
		}
	}
	w := io.MultiWriter(ws...)
	switch {
	case sd.Content != nil:
		w.Write(sd.Content)
	case detached == nil:
		return nil, errors.New("cms: the signature is detached; give the signed document to verify it")
	default:
		if _, err := io.Copy(w, detached); err != nil {
			return nil, fmt.Errorf("cms: reading the signed document: %w", err)
		}
	}
	out := make(map[crypto.Hash][]byte, len(hs))
	for k, h := range hs {
		out[k] = h.Sum(nil)
	}
	return out, nil
}

func (sd *SignedData) verifySigner(si *SignerInfo, cert *x509.Certificate, digest []byte) error {
	if si.RawSignedAttrs == nil {
		// RFC 5652 5.4: without signed attributes the signature is over
		// the content digest itself.
		if si.Algorithm.Scheme == Ed25519 {
			return fmt.Errorf("%w: Ed25519 without signed attributes", ErrUnsupported)
		}
		return verifySignature(cert.PublicKey, si, digest, nil)
	}
	if si.MessageDigest == nil {
		return malformed("the signed attributes have no message-digest")
	}
	if !bytes.Equal(si.MessageDigest, digest) {
		return fmt.Errorf("%w: the message digest does not match the content", ErrInvalidSignature)
	}
	if !si.ContentType.Equal(sd.ContentType) {
		return fmt.Errorf("%w: the content-type attribute %v differs from the content type %v", ErrInvalidSignature, si.ContentType, sd.ContentType)
	}
	if si.HasSigningCertificateV2 {
		// The attribute binds the signature to its certificate (a B-B
		// signature's): one that cannot be checked is not taken as checked.
		if si.SigningCertificateAlg == 0 {
			return fmt.Errorf("%w: signing-certificate-v2 names its certificate with a hash algorithm Signet does not know", ErrUnsupported)
		}
		h := si.SigningCertificateAlg.New()
		h.Write(cert.Raw)
		if !bytes.Equal(h.Sum(nil), si.SigningCertificateHash) {
			return fmt.Errorf("%w: signing-certificate-v2 names another certificate", ErrInvalidSignature)
		}
	}
	if si.Algorithm.Scheme == Ed25519 {
		return verifySignature(cert.PublicKey, si, nil, si.RawSignedAttrs)
	}
	h := si.Algorithm.Hash.New()
	h.Write(si.RawSignedAttrs)
	return verifySignature(cert.PublicKey, si, h.Sum(nil), nil)
}

// verifySignature checks the signature over digest, or over message for
// Ed25519.
func verifySignature(pub crypto.PublicKey, si *SignerInfo, digest, message []byte) error {
	bad := fmt.Errorf("%w: the %s signature does not verify with the signer certificate", ErrInvalidSignature, si.Algorithm)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		var err error
		switch si.Algorithm.Scheme {
		case PKCS1v15:
			err = rsa.VerifyPKCS1v15(k, si.Algorithm.Hash, digest, si.Signature)
		case PSS:
			err = rsa.VerifyPSS(k, si.Algorithm.Hash, digest, si.Signature, &rsa.PSSOptions{SaltLength: si.pssSalt})
		default:
			return fmt.Errorf("%w: %s with an RSA certificate", ErrInvalidSignature, si.Algorithm)
		}
		if err != nil {
			return bad
		}
		return nil
	case *ecdsa.PublicKey:
		if si.Algorithm.Scheme != ECDSA {
			return fmt.Errorf("%w: %s with an ECDSA certificate", ErrInvalidSignature, si.Algorithm)
		}
		if !ecdsa.VerifyASN1(k, digest, si.Signature) {
			return bad
		}
		return nil
	case ed25519.PublicKey:
		if si.Algorithm.Scheme != Ed25519 {
			return fmt.Errorf("%w: %s with an Ed25519 certificate", ErrInvalidSignature, si.Algorithm)
		}
		if !ed25519.Verify(k, message, si.Signature) {
			return bad
		}
		return nil
	}
	return fmt.Errorf("%w signer key type %T", ErrUnsupported, pub)
}

// VerifyDigest checks signer i against a content digest computed by the
// caller (with si.Algorithm.Hash) and the signer's certificate: what Verify
// does for one signer, for validators that report a digest mismatch apart
// from a bad signature value.
func (sd *SignedData) VerifyDigest(i int, cert *x509.Certificate, digest []byte) error {
	if i < 0 || i >= len(sd.Signers) {
		return fmt.Errorf("cms: there is no signer %d; the SignedData has %d", i, len(sd.Signers))
	}
	return sd.verifySigner(sd.Signers[i], cert, digest)
}
