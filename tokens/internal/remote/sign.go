package remote

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/signet-project/signet/tokens"
)

// CheckEd25519 refuses what a remote HSM's EdDSA cannot do: Ed25519ph,
// Ed25519ctx, and a digest where Ed25519 signs the whole message.
func CheckEd25519(opts crypto.SignerOpts) error {
	if eo, ok := opts.(*ed25519.Options); ok && (eo.Context != "" || eo.Hash != 0) {
		return fmt.Errorf("Ed25519ph and Ed25519ctx: %w", tokens.ErrUnsupported)
	}
	if h := opts.HashFunc(); h != 0 {
		return fmt.Errorf("Ed25519 signs the whole message, not a %v digest: %w", h, tokens.ErrUnsupported)
	}
	return nil
}

// CheckPSSSalt refuses an RSA-PSS salt length other than the hash length,
// the only one remote HSMs use; PSSSaltLengthAuto verifies any salt, so it
// is satisfied too. server names the HSM in the error.
func CheckPSSSalt(server string, pss *rsa.PSSOptions, h crypto.Hash) error {
	if sl := pss.SaltLength; sl != rsa.PSSSaltLengthAuto && sl != rsa.PSSSaltLengthEqualsHash && sl != h.Size() {
		return fmt.Errorf("RSA-PSS salt length %d (the %s uses the hash length): %w", sl, server, tokens.ErrUnsupported)
	}
	return nil
}

// ECDSADER returns an ECDSA signature as ASN.1 DER, as crypto.Signer
// promises. The HSM APIs describe DER; a raw r||s answer (older NetHSM
// releases) is converted.
func ECDSADER(k *ecdsa.PublicKey, sig []byte) ([]byte, error) {
	if isDERSignature(sig) {
		return sig, nil
	}
	n := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return nil, fmt.Errorf("the ECDSA signature is neither DER nor %d-byte r||s", 2*n)
	}
	var rs struct{ R, S *big.Int }
	rs.R = new(big.Int).SetBytes(sig[:n])
	rs.S = new(big.Int).SetBytes(sig[n:])
	return asn1.Marshal(rs)
}

// isDERSignature reports whether sig is a DER SEQUENCE of two INTEGERs
// and nothing else, read in place: encoding/asn1's reflection and big.Int
// values were a noticeable part of a remote signature's client CPU.
func isDERSignature(sig []byte) bool {
	var seq cryptobyte.String
	var r, s []byte
	in := cryptobyte.String(sig)
	return in.ReadASN1(&seq, cbasn1.SEQUENCE) && in.Empty() &&
		seq.ReadASN1Integer(&r) && seq.ReadASN1Integer(&s) && seq.Empty()
}

// ParseCerts reads certificates from PEM (CERTIFICATE blocks, others are
// skipped) or, without a PEM header, from DER.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	if !strings.Contains(string(data), "-----BEGIN") {
		return x509.ParseCertificates(data)
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var p *pem.Block
		if p, rest = pem.Decode(rest); p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// ErrBadSignature reports that the HSM answered a signature that does not
// verify with the key's public key over what was sent: another key's, over
// another digest, or corrupted on the way. Such a signature is never handed
// out, and clients see 503 with the error's sentence.
var ErrBadSignature = errors.New("the signature does not verify with the key's public key")

// Verify checks that sig, the HSM's answer to signing digest (the whole
// message when opts.HashFunc() is 0: Ed25519, or RSA PKCS#1 v1.5 over a
// DigestInfo) with opts, verifies with pub. A remote HSM is another server:
// what it answers is checked as any other input before a client gets it,
// since a wrong signature would only be found by whoever validates the
// document later.
func Verify(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	h := opts.HashFunc()
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digest, sig)
	case ed25519.PublicKey:
		ok = len(k) == ed25519.PublicKeySize && ed25519.Verify(k, digest, sig)
	case *rsa.PublicKey:
		if pss, isPSS := opts.(*rsa.PSSOptions); isPSS {
			ok = rsa.VerifyPSS(k, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: pss.Hash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
		}
	default:
		return fmt.Errorf("key type %T cannot be verified: %w", pub, tokens.ErrUnsupported)
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}
