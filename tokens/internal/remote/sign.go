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
