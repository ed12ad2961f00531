package soft

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/signet-project/signet/tokens"
)

// checkAlias accepts aliases that are safe as file names on every system.
func checkAlias(alias string) error {
	ok := alias != "" && len(alias) <= 64 && alias[0] != '.'
	for _, r := range alias {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("invalid key alias %q: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'", alias)
	}
	return nil
}

// newKey generates a key for spec.
func newKey(spec tokens.KeySpec) (crypto.Signer, error) {
	switch strings.ToUpper(spec.Algorithm) {
	case "RSA":
		switch spec.Bits {
		case 2048, 3072, 4096:
			return rsa.GenerateKey(rand.Reader, spec.Bits)
		}
		return nil, fmt.Errorf("RSA keys of %d bits: use 2048, 3072 or 4096: %w", spec.Bits, tokens.ErrUnsupported)
	case "ECDSA", "EC":
		curve := spec.Curve
		if curve == "" && spec.Bits != 0 {
			curve = fmt.Sprintf("P-%d", spec.Bits)
		}
		var c elliptic.Curve
		switch strings.ToUpper(curve) {
		case "P-256", "P256":
			c = elliptic.P256()
		case "P-384", "P384":
			c = elliptic.P384()
		case "P-521", "P521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("ECDSA curve %q: use P-256, P-384 or P-521: %w", curve, tokens.ErrUnsupported)
		}
		return ecdsa.GenerateKey(c, rand.Reader)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("key algorithm %q: use RSA, ECDSA or Ed25519: %w", spec.Algorithm, tokens.ErrUnsupported)
}

// writable returns an error unless keys can be added to or removed from the
// keystore; the caller holds t.mu.
func (t *Token) writable() error {
	if !t.active {
		return fmt.Errorf("token %s is not activated: %w", t.name, tokens.ErrOffline)
	}
	if t.single {
		return fmt.Errorf("keystore %s is a single file holding one key; point the token at a folder to add or remove keys: %w", t.path, tokens.ErrUnsupported)
	}
	return nil
}

// keyFile is where a new key of the keystore goes.
func (t *Token) keyFile(alias string) string {
	if t.store != nil {
		return alias
	}
	if t.typ == TypePKCS12 {
		return filepath.Join(t.path, alias+extP12)
	}
	return filepath.Join(t.path, alias+extKey)
}

// GenerateKey creates a key and writes it to the keystore (see the package
// documentation for the files), protected with the PIN the token was
// activated with. The alias must be new.
func (t *Token) GenerateKey(ctx context.Context, alias string, spec tokens.KeySpec) (crypto.PublicKey, error) {
	if err := checkAlias(alias); err != nil {
		return nil, err
	}
	t.mu.RLock()
	err := t.writable()
	_, exists := t.keys[alias]
	t.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("token %s already has a key %q: remove it first or choose another alias", t.name, alias)
	}
	// Generating an RSA key takes long: do it without holding the lock.
	key, err := newKey(spec)
	if err != nil {
		return nil, err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.writable(); err != nil {
		return nil, err
	}
	if _, exists := t.keys[alias]; exists {
		return nil, fmt.Errorf("token %s already has a key %q: remove it first or choose another alias", t.name, alias)
	}
	file := t.keyFile(alias)
	if t.store != nil {
		// Added only if the alias is free, in one step: a check before a
		// Put let two nodes generating one alias at once both succeed, the
		// second key overwriting the first, whose public key (and CSR, and
		// certificate) its caller already had.
		data, err := encodeP12(file, key, nil, t.pin)
		if err != nil {
			return nil, fmt.Errorf("cannot store key %q: %w", alias, err)
		}
		added, err := t.store.Add(ctx, alias, data)
		if err != nil {
			return nil, fmt.Errorf("cannot store key %q: %w", alias, err)
		}
		if !added {
			return nil, fmt.Errorf("token %s already has a key %q in the database: remove it first or choose another alias", t.name, alias)
		}
	} else if _, err := os.Lstat(file); err == nil {
		return nil, fmt.Errorf("file %s exists but is not loaded: reactivate the token or remove the file", file)
	} else if err := t.writeKey(file, key, nil, t.pin); err != nil {
		return nil, fmt.Errorf("cannot store key %q: %w", alias, err)
	}
	t.keys[alias] = newEntry(key, nil, file)
	return key.Public(), nil
}

// RemoveKey deletes the key alias from the keystore and from memory. Signers
// of the key handed out before fail with tokens.ErrOffline from then on.
func (t *Token) RemoveKey(ctx context.Context, alias string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.writable(); err != nil {
		return err
	}
	e, err := t.lookup(alias)
	if err != nil {
		return err
	}
	if t.store != nil {
		if err := t.store.Delete(ctx, alias); err != nil {
			return fmt.Errorf("cannot remove key %q: %w", alias, err)
		}
		delete(t.keys, alias)
		e.live.Store(false)
		return nil
	}
	if err := t.fileHolds(e.file, e.key); err != nil {
		if _, serr := os.Lstat(e.file); serr == nil {
			// The file holds another key now: it is not this key's to
			// remove.
			return fmt.Errorf("cannot remove key %q: %w", alias, err)
		}
	}
	if t.typ == TypePEM {
		chainFile := strings.TrimSuffix(e.file, filepath.Ext(e.file)) + extChain
		if err := os.Remove(chainFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot remove key %q: %w", alias, err)
		}
	}
	if err := os.Remove(e.file); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove key %q: %w", alias, err)
	}
	delete(t.keys, alias)
	e.live.Store(false)
	return nil
}

// ImportChain stores chain, signer first, as the certificate chain of the key
// alias, replacing any chain it had. It rejects a chain whose first
// certificate is not for the key (the error wraps ErrChainMismatch) and a
// chain whose certificates are not each issued by the next.
func (t *Token) ImportChain(ctx context.Context, alias string, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("the certificate chain is empty: give at least the signer certificate")
	}
	for i, c := range chain {
		if c == nil {
			return fmt.Errorf("certificate %d of the chain is missing", i+1)
		}
		if i > 0 {
			if err := chain[i-1].CheckSignatureFrom(c); err != nil {
				return fmt.Errorf("certificate %d of the chain (%s) is not issued by certificate %d (%s): give the chain signer first, then its issuers in order",
					i, chain[i-1].Subject.CommonName, i+1, c.Subject.CommonName)
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, err := t.lookup(alias)
	if err != nil {
		return err
	}
	if !matches(e.key, chain[0]) {
		return fmt.Errorf("certificate %q is not for key %q, its public key is another key: %w", chain[0].Subject.CommonName, alias, ErrChainMismatch)
	}
	if err := t.fileHolds(e.file, e.key); err != nil {
		return fmt.Errorf("cannot store the chain of key %q: %w", alias, err)
	}
	chain = slices.Clone(chain)
	if err := t.writeKey(e.file, e.key, chain, t.pin); err != nil {
		return fmt.Errorf("cannot store the chain of key %q: %w", alias, err)
	}
	e.chain = chain
	return nil
}

// fileHolds reports, for a keystore of files, why file no longer holds
// key: removed, or holding another key (another Signet sharing the folder,
// or an operator, changed it since the token read it). Writing key back
// there would bring a removed key back or destroy the new one, as
// Token.replace refuses for a keystore in the database.
func (t *Token) fileHolds(file string, key crypto.Signer) error {
	if t.store != nil {
		return nil // Token.replace checks in the same write
	}
	var held crypto.Signer
	var err error
	if t.typ == TypePKCS12 {
		held, _, err = readP12(file, t.pin)
	} else {
		held, _, err = readPEM(file, t.single)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("its file %s was removed meanwhile: activate the token again to read the keystore: %w", filepath.Base(file), tokens.ErrKeyNotFound)
	case err != nil:
		return err
	case !matchesKey(held, key):
		return fmt.Errorf("its file %s holds another key now: activate the token again to read the keystore: %w", filepath.Base(file), tokens.ErrKeyNotFound)
	}
	return nil
}
