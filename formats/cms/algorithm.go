// Package cms is Signet's CMS (RFC 5652) SignedData encoder and parser,
// with the CAdES-BASELINE-B signed attributes (ETSI EN 319 122-1).
//
// It is written on golang.org/x/crypto/cryptobyte rather than on a general
// PKCS#7 library because a signing server needs what those do badly: signing
// from a precomputed digest (client-side hashing and batches), a two-step
// Prepare/Encode so that a token can sign many inputs in one call, and
// per-signer precomputation so that the per-item cost stays small.
package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"strings"

	_ "crypto/sha256" // register hashes
	_ "crypto/sha512"
	_ "golang.org/x/crypto/sha3"
)

// Scheme is a signature scheme.
type Scheme int

// Signature schemes.
const (
	PKCS1v15 Scheme = iota
	PSS
	ECDSA
	Ed25519
)

// Algorithm is a digest plus a signature scheme.
type Algorithm struct {
	Hash   crypto.Hash
	Scheme Scheme
}

// Object identifiers used in SignedData.
var (
	OIDData                    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDAttrContentType         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCertV2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	OIDSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

	oidRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// hashInfo maps each supported digest to its names and identifiers.
type hashInfo struct {
	h         crypto.Hash
	name      string // "SHA-256"
	jca       string // "SHA256", "SHA3-256"
	oid       asn1.ObjectIdentifier
	ecdsaOID  asn1.ObjectIdentifier
	rsaSigOID asn1.ObjectIdentifier
}

func hashes() []hashInfo {
	return []hashInfo{
		{crypto.SHA256, "SHA-256", "SHA256", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}},
		{crypto.SHA384, "SHA-384", "SHA384", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}},
		{crypto.SHA512, "SHA-512", "SHA512", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}},
		{crypto.SHA3_256, "SHA3-256", "SHA3-256", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 8}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 10}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 14}},
		{crypto.SHA3_384, "SHA3-384", "SHA3-384", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 9}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 11}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 15}},
		{crypto.SHA3_512, "SHA3-512", "SHA3-512", asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 10}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 12}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 16}},
	}
}

func lookupHash(h crypto.Hash) (hashInfo, bool) {
	for _, hi := range hashes() {
		if hi.h == h {
			return hi, true
		}
	}
	return hashInfo{}, false
}

func norm(s string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(strings.TrimSpace(s)))
}

// ParseHash accepts "SHA-256", "SHA256", "sha256", "SHA3-256", "SHA3_256", …
func ParseHash(name string) (crypto.Hash, error) {
	n := norm(name)
	for _, hi := range hashes() {
		if norm(hi.name) == n {
			return hi.h, nil
		}
	}
	return 0, fmt.Errorf("unknown digest algorithm %q: use SHA-256, SHA-384, SHA-512 or SHA3-256/384/512", name)
}

// HashName returns the digest's name, e.g. "SHA-256".
func HashName(h crypto.Hash) string {
	if hi, ok := lookupHash(h); ok {
		return hi.name
	}
	return h.String()
}

// String returns the JCA name, e.g. "SHA256withECDSA".
func (a Algorithm) String() string {
	hi, _ := lookupHash(a.Hash)
	switch a.Scheme {
	case PKCS1v15:
		return hi.jca + "withRSA"
	case PSS:
		return hi.jca + "withRSAandMGF1"
	case ECDSA:
		return hi.jca + "withECDSA"
	case Ed25519:
		return "Ed25519"
	}
	return "unknown"
}

// ParseSignatureAlgorithm accepts SignServer/JCA names: SHA256withRSA,
// SHA3-256withRSA, SHA256withRSAandMGF1 (PSS), SHA256withECDSA, Ed25519 or
// EdDSA. Case-insensitive.
func ParseSignatureAlgorithm(name string) (Algorithm, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if up == "ED25519" || up == "EDDSA" {
		return Algorithm{Hash: crypto.SHA512, Scheme: Ed25519}, nil
	}
	hashPart, rest, ok := strings.Cut(up, "WITH")
	if !ok {
		return Algorithm{}, fmt.Errorf("unknown signature algorithm %q: use e.g. SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA or Ed25519", name)
	}
	h, err := ParseHash(hashPart)
	if err != nil {
		return Algorithm{}, fmt.Errorf("signature algorithm %q: %w", name, err)
	}
	switch rest {
	case "RSA":
		return Algorithm{h, PKCS1v15}, nil
	case "RSAANDMGF1", "RSASSA-PSS", "RSA/PSS":
		return Algorithm{h, PSS}, nil
	case "ECDSA":
		return Algorithm{h, ECDSA}, nil
	}
	return Algorithm{}, fmt.Errorf("unknown signature algorithm %q: use e.g. SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA or Ed25519", name)
}

// DefaultAlgorithm returns SignServer's default for a key: SHA256withRSA,
// SHA-256/384/512withECDSA by curve size, Ed25519.
func DefaultAlgorithm(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Algorithm{crypto.SHA256, PKCS1v15}, nil
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 384:
			return Algorithm{crypto.SHA384, ECDSA}, nil
		case 521:
			return Algorithm{crypto.SHA512, ECDSA}, nil
		}
		return Algorithm{crypto.SHA256, ECDSA}, nil
	case ed25519.PublicKey:
		return Algorithm{crypto.SHA512, Ed25519}, nil
	}
	return Algorithm{}, fmt.Errorf("unsupported key type %T: use RSA, ECDSA or Ed25519", pub)
}

// Check reports an error if a cannot be used with pub.
func (a Algorithm) Check(pub crypto.PublicKey) error {
	if _, ok := lookupHash(a.Hash); !ok {
		return fmt.Errorf("digest %v is not supported", a.Hash)
	}
	switch pub.(type) {
	case *rsa.PublicKey:
		if a.Scheme != PKCS1v15 && a.Scheme != PSS {
			return fmt.Errorf("%s cannot be used with an RSA key", a)
		}
	case *ecdsa.PublicKey:
		if a.Scheme != ECDSA {
			return fmt.Errorf("%s cannot be used with an ECDSA key", a)
		}
	case ed25519.PublicKey:
		if a.Scheme != Ed25519 {
			return fmt.Errorf("%s cannot be used with an Ed25519 key", a)
		}
		if a.Hash != crypto.SHA512 {
			return fmt.Errorf("Ed25519 signatures in CMS use SHA-512 digests (RFC 8419), not %s", HashName(a.Hash))
		}
	default:
		return fmt.Errorf("unsupported key type %T", pub)
	}
	return nil
}

// SignerOpts returns the crypto.SignerOpts for the scheme.
func (a Algorithm) SignerOpts() crypto.SignerOpts {
	switch a.Scheme {
	case PSS:
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.Hash}
	case Ed25519:
		return crypto.Hash(0)
	}
	return a.Hash
}
