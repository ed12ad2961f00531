// Package cms is Signet's CMS (RFC 5652) SignedData encoder and parser,
// with the CAdES-BASELINE-B signed attributes (ETSI EN 319 122-1).
//
// It is written on golang.org/x/crypto/cryptobyte rather than on a general
// PKCS#7 library because a signing server needs what those do badly: signing
// from a precomputed digest (client-side hashing and batches), a two-step
// Prepare/Encode so that a token can sign many inputs in one call, streaming
// of large encapsulated content, and per-signer precomputation so that the
// per-item cost stays small.
//
// A Signer is built once per key, certificate chain and algorithm. For each
// document, Prepare takes the content digest and returns a Pending whose
// Input the token signs with SignerOpts; Encode (or WriteTo, for content
// streamed from a reader) then returns the DER ContentInfo. Parse reads a
// SignedData back, Verify checks it, and AddUnsignedAttribute and Bytes
// extend a signature, for example with a signature-time-stamp (CAdES-B-T).
package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	_ "crypto/sha256" // register the SHA-2 hashes with crypto.Hash.New
	_ "crypto/sha3"   // register the SHA-3 hashes
	_ "crypto/sha512"
)

// Scheme is a signature scheme.
type Scheme int

// Signature schemes.
const (
	PKCS1v15 Scheme = iota // RSASSA-PKCS1-v1_5
	PSS                    // RSASSA-PSS, MGF1 with the same hash, salt as long as the hash
	ECDSA                  // ECDSA with a DER Ecdsa-Sig-Value
	Ed25519                // pure Ed25519 over the signed attributes (RFC 8419)
)

// String returns the scheme's name.
func (s Scheme) String() string {
	switch s {
	case PKCS1v15:
		return "PKCS1v15"
	case PSS:
		return "PSS"
	case ECDSA:
		return "ECDSA"
	case Ed25519:
		return "Ed25519"
	}
	return fmt.Sprintf("Scheme(%d)", int(s))
}

// Algorithm is a digest plus a signature scheme. Hash digests both the
// content and the signed attributes (except for Ed25519, which signs the
// attributes themselves).
type Algorithm struct {
	Hash   crypto.Hash
	Scheme Scheme
}

// ErrUnsupported is wrapped by errors about algorithms, keys and encodings
// this package does not handle.
var ErrUnsupported = errors.New("cms: unsupported")

// Object identifiers of the content types and attributes Signet writes.
var (
	OIDData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	// OIDTSTInfo is the content type of an RFC 3161 time-stamp token.
	OIDTSTInfo = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}

	OIDAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDAttrSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	OIDAttrSigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	// OIDSignatureTimeStampToken is the CAdES-T unsigned attribute holding
	// an RFC 3161 token over the signature value.
	OIDSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
)

var (
	oidRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidPSS     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidSHA1    = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26} // read in signing-certificate-v2 only
)

// hashInfo holds a supported digest's names and identifiers.
type hashInfo struct {
	h         crypto.Hash
	name      string // "SHA-256"
	jca       string // "SHA256", "SHA3-256"
	oid       asn1.ObjectIdentifier
	ecdsaOID  asn1.ObjectIdentifier // ecdsa-with-SHA256, id-ecdsa-with-sha3-256, …
	rsaSigOID asn1.ObjectIdentifier // sha256WithRSAEncryption, … (read, never written)
}

// supportedHashes lists the digests in the order errors name them.
var supportedHashes = [...]crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256, crypto.SHA3_384, crypto.SHA3_512}

func lookupHash(h crypto.Hash) (hashInfo, bool) {
	nist := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, n} }
	sig := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, n} }
	ec := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, n} }
	rsa := func(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, n} }
	switch h {
	case crypto.SHA256:
		return hashInfo{h, "SHA-256", "SHA256", nist(1), ec(2), rsa(11)}, true
	case crypto.SHA384:
		return hashInfo{h, "SHA-384", "SHA384", nist(2), ec(3), rsa(12)}, true
	case crypto.SHA512:
		return hashInfo{h, "SHA-512", "SHA512", nist(3), ec(4), rsa(13)}, true
	case crypto.SHA3_256:
		return hashInfo{h, "SHA3-256", "SHA3-256", nist(8), sig(10), sig(14)}, true
	case crypto.SHA3_384:
		return hashInfo{h, "SHA3-384", "SHA3-384", nist(9), sig(11), sig(15)}, true
	case crypto.SHA3_512:
		return hashInfo{h, "SHA3-512", "SHA3-512", nist(10), sig(12), sig(16)}, true
	}
	return hashInfo{}, false
}

// hashByOID returns the supported digest with the given identifier.
func hashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range supportedHashes {
		if hi, _ := lookupHash(h); hi.oid.Equal(oid) {
			return h, true
		}
	}
	return 0, false
}

// norm upper-cases a name and drops dashes, underscores and spaces.
func norm(s string) string {
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToUpper(s))
}

// ParseHash accepts "SHA-256", "SHA256", "sha256", "SHA3-256", "SHA3_256"
// and the like for SHA-256/384/512 and SHA3-256/384/512.
func ParseHash(name string) (crypto.Hash, error) {
	// The fast path: an ASCII name, normalised on the stack. It runs for
	// every item of a batch, so it must not allocate.
	var buf [16]byte
	n, ascii := 0, true
	for i := 0; i < len(name) && ascii; i++ {
		c := name[i]
		switch {
		case c >= 0x80 || n == len(buf):
			ascii = false
		case c == '-' || c == '_' || c == ' ':
		case 'a' <= c && c <= 'z':
			buf[n] = c - 'a' + 'A'
			n++
		default:
			buf[n] = c
			n++
		}
	}
	if ascii {
		switch string(buf[:n]) {
		case "SHA256":
			return crypto.SHA256, nil
		case "SHA384":
			return crypto.SHA384, nil
		case "SHA512":
			return crypto.SHA512, nil
		case "SHA3256":
			return crypto.SHA3_256, nil
		case "SHA3384":
			return crypto.SHA3_384, nil
		case "SHA3512":
			return crypto.SHA3_512, nil
		}
	}
	nn := norm(name)
	for _, h := range supportedHashes {
		if hi, _ := lookupHash(h); norm(hi.name) == nn {
			return h, nil
		}
	}
	return 0, fmt.Errorf("%w digest algorithm %q: use SHA-256, SHA-384, SHA-512, SHA3-256, SHA3-384 or SHA3-512", ErrUnsupported, name)
}

// DigestNames returns the spellings of the digests ParseHash accepts, as a
// configuration writes them: for each, its name ("SHA-256") and, when it
// differs, its JCA name ("SHA256"). The property schema derives the values
// of its digest properties from this list, so that a configuration check
// refuses exactly the digests this package cannot sign with (SHA-1,
// SHA-224, SHA3-224).
func DigestNames() []string {
	var names []string
	for _, h := range supportedHashes {
		hi, _ := lookupHash(h)
		names = append(names, hi.name)
		if hi.jca != hi.name {
			names = append(names, hi.jca)
		}
	}
	return names
}

// HashName returns the digest's name, e.g. "SHA-256" or "SHA3-256".
func HashName(h crypto.Hash) string {
	if hi, ok := lookupHash(h); ok {
		return hi.name
	}
	return h.String()
}

// String returns the JCA name, e.g. "SHA256withECDSA",
// "SHA256withRSAandMGF1" or "Ed25519".
func (a Algorithm) String() string {
	hi, ok := lookupHash(a.Hash)
	if !ok && a.Scheme != Ed25519 {
		return fmt.Sprintf("%vwith%v", a.Hash, a.Scheme)
	}
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
	return fmt.Sprintf("%swith%v", hi.jca, a.Scheme)
}

// ParseSignatureAlgorithm accepts SignServer/JCA names, case-insensitive:
// SHA256withRSA, SHA3-256withRSA, SHA256withRSAandMGF1 (RSA-PSS),
// SHA256withECDSA, SHA3-256withECDSA (and the 384 and 512 variants),
// Ed25519 or EdDSA.
func ParseSignatureAlgorithm(name string) (Algorithm, error) {
	up := strings.ToUpper(strings.TrimSpace(name))
	if up == "ED25519" || up == "EDDSA" {
		return Algorithm{Hash: crypto.SHA512, Scheme: Ed25519}, nil
	}
	bad := fmt.Errorf("%w signature algorithm %q: use for example SHA256withRSA, SHA256withRSAandMGF1, SHA256withECDSA or Ed25519", ErrUnsupported, name)
	hashPart, rest, ok := strings.Cut(up, "WITH")
	if !ok {
		return Algorithm{}, bad
	}
	h, err := ParseHash(hashPart)
	if err != nil {
		return Algorithm{}, bad
	}
	switch rest {
	case "RSA", "RSAENCRYPTION":
		return Algorithm{h, PKCS1v15}, nil
	case "RSAANDMGF1", "RSASSA-PSS", "RSA/PSS", "RSAPSS":
		return Algorithm{h, PSS}, nil
	case "ECDSA":
		return Algorithm{h, ECDSA}, nil
	}
	return Algorithm{}, bad
}

// ParseRawSignatureAlgorithm parses the algorithm of a raw (plain)
// signature, one that is not wrapped in CMS: the names ParseSignatureAlgorithm
// accepts, and NONEwithRSA and NONEwithECDSA, which sign their input as it
// is (a DER DigestInfo, a digest). An algorithm that signs its input as it
// is has Hash 0: NONEwith…, and Ed25519, which signs the message itself.
// NONEwithRSAandMGF1 is refused: RSA-PSS needs a digest algorithm.
func ParseRawSignatureAlgorithm(name string) (Algorithm, error) {
	rest, none := strings.CutPrefix(strings.ToUpper(strings.TrimSpace(name)), "NONEWITH")
	if !none {
		alg, err := ParseSignatureAlgorithm(name)
		if alg.Scheme == Ed25519 {
			alg.Hash = 0
		}
		return alg, err
	}
	alg, err := ParseSignatureAlgorithm("SHA256with" + rest)
	if err != nil || alg.Scheme == PSS {
		return Algorithm{}, fmt.Errorf("%w raw signature algorithm %q: use NONEwithRSA or NONEwithECDSA (RSA-PSS needs a digest algorithm, such as SHA256withRSAandMGF1)", ErrUnsupported, name)
	}
	alg.Hash = 0
	return alg, nil
}

// DefaultAlgorithm returns SignServer's default for a key: SHA256withRSA for
// RSA; SHA256withECDSA, SHA384withECDSA or SHA512withECDSA for P-256, P-384
// and P-521; Ed25519 (with SHA-512 digests) for Ed25519.
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
	return Algorithm{}, fmt.Errorf("%w key type %T: use an RSA, ECDSA or Ed25519 key", ErrUnsupported, pub)
}

// Check reports an error if a cannot be used with pub: an RSA scheme on an
// EC key, an RSA key too small for PSS with the digest, Ed25519 with a
// digest other than SHA-512, and so on.
func (a Algorithm) Check(pub crypto.PublicKey) error {
	if _, ok := lookupHash(a.Hash); !ok {
		return fmt.Errorf("%w digest algorithm %v: use SHA-256, SHA-384, SHA-512 or SHA3-256/384/512", ErrUnsupported, a.Hash)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if a.Scheme != PKCS1v15 && a.Scheme != PSS {
			return fmt.Errorf("%w: %s cannot be used with an RSA key; use SHAxxxwithRSA or SHAxxxwithRSAandMGF1", ErrUnsupported, a)
		}
		if a.Scheme == PSS && k.Size() < 2*a.Hash.Size()+2 {
			return fmt.Errorf("%w: a %d-bit RSA key is too small for %s; use a smaller digest", ErrUnsupported, k.N.BitLen(), a)
		}
	case *ecdsa.PublicKey:
		if a.Scheme != ECDSA {
			return fmt.Errorf("%w: %s cannot be used with an ECDSA key; use SHAxxxwithECDSA", ErrUnsupported, a)
		}
	case ed25519.PublicKey:
		if a.Scheme != Ed25519 {
			return fmt.Errorf("%w: %s cannot be used with an Ed25519 key; use Ed25519", ErrUnsupported, a)
		}
		if a.Hash != crypto.SHA512 {
			return fmt.Errorf("%w: Ed25519 signatures in CMS use SHA-512 digests (RFC 8419), not %s; set the digest algorithm to SHA-512", ErrUnsupported, HashName(a.Hash))
		}
	default:
		return fmt.Errorf("%w key type %T: use an RSA, ECDSA or Ed25519 key", ErrUnsupported, pub)
	}
	return nil
}

// SignerOpts returns the crypto.SignerOpts a crypto.Signer needs for the
// scheme: the hash, *rsa.PSSOptions with a salt as long as the hash, or
// crypto.Hash(0) for Ed25519.
func (a Algorithm) SignerOpts() crypto.SignerOpts {
	switch a.Scheme {
	case PSS:
		return &rsa.PSSOptions{SaltLength: a.Hash.Size(), Hash: a.Hash}
	case Ed25519:
		return crypto.Hash(0)
	}
	return a.Hash
}
