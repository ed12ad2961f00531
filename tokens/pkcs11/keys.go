package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"

	"github.com/ThalesGroup/crypto11"

	"github.com/signet-project/signet/tokens"
)

// Keys lists the token's key pairs (private keys with a public half) with
// their labels, algorithms and sizes, and the expiry of their signer
// certificates.
func (t *Token) Keys(ctx context.Context) ([]tokens.KeyInfo, error) {
	c, err := t.acquire(ctx)
	if err != nil {
		return nil, err
	}
	infos, err := c.list()
	c.release()
	if err != nil {
		return nil, t.failure(c, "", fmt.Errorf("list keys: %w", err))
	}
	// An unreadable token may answer a search with nothing rather than an
	// error (SoftHSM2 does), so the list is only trusted after a check.
	if !t.check(c) {
		return nil, t.offlineErr()
	}
	slices.SortFunc(infos, func(a, b tokens.KeyInfo) int {
		switch {
		case a.Alias < b.Alias:
			return -1
		case a.Alias > b.Alias:
			return 1
		}
		return 0
	})
	return infos, nil
}

func (c *conn) list() ([]tokens.KeyInfo, error) {
	ks, err := c.c.FindAllKeyPairs()
	if err != nil {
		return nil, err
	}
	var infos []tokens.KeyInfo
	for _, k := range ks {
		a, err := c.c.GetAttribute(k, crypto11.CkaLabel)
		if err != nil {
			return nil, err
		}
		if a == nil || len(a.Value) == 0 {
			continue // no alias to use it by
		}
		info := keyInfo(k.Public())
		info.Alias = string(a.Value)
		cert, err := c.c.FindCertificate(nil, a.Value, nil)
		if err != nil {
			return nil, err
		}
		if cert != nil {
			info.HasChain, info.NotAfter = true, cert.NotAfter
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func keyInfo(pub crypto.PublicKey) tokens.KeyInfo {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return tokens.KeyInfo{Algorithm: "RSA", Bits: p.N.BitLen()}
	case *ecdsa.PublicKey:
		return tokens.KeyInfo{Algorithm: "ECDSA", Bits: p.Curve.Params().BitSize, Curve: p.Curve.Params().Name}
	}
	return tokens.KeyInfo{Algorithm: fmt.Sprintf("%T", pub)}
}

// Signer returns a crypto.Signer for the key labelled alias. It wraps
// tokens.ErrKeyNotFound or tokens.ErrOffline. The signer outlives a
// re-opening of the token: it finds its key again by label, and refuses to
// sign if the label then names a key with another public key.
func (t *Token) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	c, err := t.acquire(ctx)
	if err != nil {
		return nil, err
	}
	k, err := c.key(alias)
	c.release()
	if err != nil {
		return nil, t.failure(c, alias, err)
	}
	if k == nil {
		return nil, t.notFound(c, alias)
	}
	s := &signer{t: t, alias: alias, pub: k.Public()}
	s.last.Store(&bound{c: c, k: k})
	return s, nil
}

// notFound is the error for a key that a search did not find, after a
// check that the token answers searches at all.
func (t *Token) notFound(c *conn, alias string) error {
	if !t.check(c) {
		return t.offlineErr()
	}
	return fmt.Errorf("pkcs11 token %s has no key labelled %q: %w", t.name, alias, tokens.ErrKeyNotFound)
}

// signer signs with the key labelled alias on whichever conn is current.
type signer struct {
	t     *Token
	alias string
	pub   crypto.PublicKey
	last  atomic.Pointer[bound] // the key as found on the last conn used
}

type bound struct {
	c *conn
	k crypto11.Signer
}

// Public returns the key's public key.
func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest (a hash made with opts.HashFunc()) with RSA PKCS#1 v1.5,
// RSA-PSS when opts is an *rsa.PSSOptions, or ECDSA (ASN.1 DER), on the
// token. rand is not used: the token makes its own randomness.
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	opts, err := s.checkOpts(digest, opts)
	if err != nil {
		return nil, err
	}
	c, err := s.t.acquire(context.Background())
	if err != nil {
		return nil, err
	}
	k, err := s.key(c)
	if err != nil {
		c.release()
		return nil, s.t.failure(c, s.alias, err)
	}
	sig, err := k.Sign(rand.Reader, digest, opts)
	c.release()
	if err != nil {
		err = s.t.failure(c, s.alias, fmt.Errorf("sign with key %q: %w", s.alias, err))
		if errors.Is(err, tokens.ErrKeyNotFound) {
			s.last.Store(&bound{}) // find the key again next time
		}
		return nil, err
	}
	return sig, nil
}

// key returns the key on c, finding it again after a re-opening. The
// caller holds c's read lock.
func (s *signer) key(c *conn) (crypto11.Signer, error) {
	if b := s.last.Load(); b.c == c {
		return b.k, nil
	}
	k, err := c.key(s.alias)
	if err != nil {
		return nil, err
	}
	pub, ok := s.pub.(interface{ Equal(crypto.PublicKey) bool })
	if k == nil || !ok || !pub.Equal(k.Public()) {
		return nil, fmt.Errorf("pkcs11 token %s: key %q is no longer on the token: %w", s.t.name, s.alias, tokens.ErrKeyNotFound)
	}
	s.last.Store(&bound{c: c, k: k})
	return k, nil
}

// checkOpts checks what crypto11 does not: the digest length, a hash that
// the key can sign with, and PSSSaltLengthAuto (which crypto11 refuses),
// turned into the longest salt as crypto/rsa does.
func (s *signer) checkOpts(digest []byte, opts crypto.SignerOpts) (crypto.SignerOpts, error) {
	h := opts.HashFunc()
	switch pub := s.pub.(type) {
	case *rsa.PublicKey:
		switch h {
		case crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		default:
			return nil, fmt.Errorf("RSA key %q signs SHA-1 or SHA-2 digests, not %v: %w", s.alias, h, tokens.ErrUnsupported)
		}
		if pss, ok := opts.(*rsa.PSSOptions); ok && pss.SaltLength == rsa.PSSSaltLengthAuto {
			o := *pss
			o.SaltLength = (pub.N.BitLen()-1+7)/8 - h.Size() - 2
			opts = &o
		}
	case *ecdsa.PublicKey:
		if h == 0 {
			return nil, fmt.Errorf("ECDSA key %q signs digests: give the hash function: %w", s.alias, tokens.ErrUnsupported)
		}
	}
	if h != 0 && len(digest) != h.Size() {
		return nil, fmt.Errorf("the digest is %d bytes, not the %d of %v", len(digest), h.Size(), h)
	}
	return opts, nil
}

// GenerateKey makes a key pair labelled alias in the token, with a random
// CKA_ID. RSA keys are 2048, 3072 or 4096 bits and ECDSA keys P-256, P-384 or
// P-521; Ed25519 wraps tokens.ErrUnsupported. An existing alias is an error.
func (t *Token) GenerateKey(ctx context.Context, alias string, spec tokens.KeySpec) (crypto.PublicKey, error) {
	if alias == "" {
		return nil, fmt.Errorf("pkcs11 token %s: give the key an alias", t.name)
	}
	var curve elliptic.Curve
	switch spec.Algorithm {
	case "RSA":
		if spec.Bits != 2048 && spec.Bits != 3072 && spec.Bits != 4096 {
			return nil, fmt.Errorf("pkcs11 token %s: RSA keys are 2048, 3072 or 4096 bits, not %d: %w", t.name, spec.Bits, tokens.ErrUnsupported)
		}
	case "ECDSA":
		switch spec.Curve {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("pkcs11 token %s: ECDSA keys use the curve P-256, P-384 or P-521, not %q: %w", t.name, spec.Curve, tokens.ErrUnsupported)
		}
	case "Ed25519":
		return nil, fmt.Errorf("pkcs11 token %s cannot make Ed25519 keys (its crypto11 library has no EdDSA): use an RSA or ECDSA key, or a soft token: %w", t.name, tokens.ErrUnsupported)
	default:
		return nil, fmt.Errorf("pkcs11 token %s: the key algorithm is RSA or ECDSA, not %q: %w", t.name, spec.Algorithm, tokens.ErrUnsupported)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	c, err := t.acquire(ctx)
	if err != nil {
		return nil, err
	}
	k, err := c.key(alias)
	if err == nil && k != nil {
		c.release()
		return nil, fmt.Errorf("pkcs11 token %s already has a key labelled %q: remove it or choose another alias", t.name, alias)
	}
	var gen crypto11.Signer
	var pub, priv crypto11.AttributeSet
	if err == nil {
		pub, priv, err = signOnlyAttributes(id, alias)
	}
	if err == nil {
		if curve != nil {
			gen, err = c.c.GenerateECDSAKeyPairWithAttributes(pub, priv, curve)
		} else {
			gen, err = c.c.GenerateRSAKeyPairWithAttributes(pub, priv, spec.Bits)
		}
	}
	c.release()
	if err != nil {
		return nil, t.failure(c, alias, fmt.Errorf("generate key %q: %w", alias, err))
	}
	return gen.Public(), nil
}

// signOnlyAttributes are the templates of a generated key pair: a signing
// key that can do nothing else. The private key is sensitive and never
// extractable, and may not decrypt, unwrap or derive (crypto11's default
// RSA template lets it decrypt: a signing key that decrypts is a padding
// oracle and a key whose use no signing log shows); the public key may
// verify only.
func signOnlyAttributes(id []byte, alias string) (pub, priv crypto11.AttributeSet, err error) {
	if pub, err = crypto11.NewAttributeSetWithIDAndLabel(id, []byte(alias)); err != nil {
		return nil, nil, err
	}
	priv = pub.Copy()
	set := func(a crypto11.AttributeSet, attrs map[crypto11.AttributeType]bool) {
		for t, v := range attrs {
			if err == nil {
				err = a.Set(t, v)
			}
		}
	}
	set(pub, map[crypto11.AttributeType]bool{crypto11.CkaVerify: true, crypto11.CkaEncrypt: false, crypto11.CkaWrap: false})
	set(priv, map[crypto11.AttributeType]bool{
		crypto11.CkaSign: true, crypto11.CkaDecrypt: false, crypto11.CkaUnwrap: false, crypto11.CkaDerive: false,
		crypto11.CkaSensitive: true, crypto11.CkaExtractable: false, crypto11.CkaPrivate: true,
	})
	if err != nil {
		return nil, nil, err
	}
	return pub, priv, nil
}

// RemoveKey deletes the key pair labelled alias and its certificates.
func (t *Token) RemoveKey(ctx context.Context, alias string) error {
	c, err := t.acquire(ctx)
	if err != nil {
		return err
	}
	found, err := c.remove(alias)
	c.release()
	if err != nil {
		return t.failure(c, alias, fmt.Errorf("remove key %q: %w", alias, err))
	}
	if !found {
		return t.notFound(c, alias)
	}
	return nil
}

func (c *conn) remove(alias string) (bool, error) {
	ks, err := c.c.FindKeyPairs(nil, []byte(alias))
	if err != nil || len(ks) == 0 {
		return false, err
	}
	c.forget(alias)
	for _, k := range ks {
		if err := k.Delete(); err != nil {
			return true, err
		}
	}
	return true, c.deleteChain(alias)
}
