package soft

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/internal/atomicfile"
	"github.com/signet-project/signet/tokens"
	"software.sslmate.com/src/go-pkcs12"
)

// entry is one key in memory.
type entry struct {
	key   crypto.Signer
	chain []*x509.Certificate // signer first; empty without an imported chain
	file  string              // the .p12, .key or single keystore file
	live  atomic.Bool         // false once deactivated or removed
}

func newEntry(key crypto.Signer, chain []*x509.Certificate, file string) *entry {
	e := &entry{key: key, chain: chain, file: file}
	e.live.Store(true)
	return e
}

// signer is what Token.Signer hands out: the key, plus a check that the token
// was not deactivated since. One atomic load per signature, no lock.
type signer struct{ e *entry }

func (s *signer) Public() crypto.PublicKey { return s.e.key.Public() }

func (s *signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if !s.e.live.Load() {
		return nil, fmt.Errorf("the token was deactivated or the key removed: %w", tokens.ErrOffline)
	}
	return s.e.key.Sign(r, digest, opts)
}

func describe(pub crypto.PublicKey) tokens.KeyInfo {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return tokens.KeyInfo{Algorithm: "RSA", Bits: k.N.BitLen()}
	case *ecdsa.PublicKey:
		return tokens.KeyInfo{Algorithm: "ECDSA", Bits: k.Curve.Params().BitSize, Curve: k.Curve.Params().Name}
	case ed25519.PublicKey:
		return tokens.KeyInfo{Algorithm: "Ed25519", Bits: 256}
	}
	return tokens.KeyInfo{Algorithm: fmt.Sprintf("%T", pub)}
}

// Key file extensions.
const (
	extP12   = ".p12"
	extPFX   = ".pfx"
	extKey   = ".key"
	extChain = ".pem"
)

// files lists the keystore's key files by alias, and reports whether the
// path is a single file.
func (t *Token) files() (map[string]string, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return map[string]string{aliasOf(t.path): t.path}, nil
	}
	des, err := os.ReadDir(t.path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || strings.HasPrefix(name, ".") {
			continue // temp files of an interrupted write start with a dot
		}
		ext := strings.ToLower(filepath.Ext(name))
		if t.typ == TypePKCS12 && ext != extP12 && ext != extPFX || t.typ == TypePEM && ext != extKey {
			continue
		}
		alias := aliasOf(name)
		if prev, dup := out[alias]; dup {
			return nil, fmt.Errorf("files %s and %s both hold key %q: remove one", filepath.Base(prev), name, alias)
		}
		out[alias] = filepath.Join(t.path, name)
	}
	return out, nil
}

func aliasOf(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// load reads every key of the keystore.
func (t *Token) load(ctx context.Context, pin string) (map[string]*entry, bool, error) {
	if t.store != nil {
		datas, err := t.store.List(ctx)
		if err != nil {
			return nil, false, err
		}
		keys := make(map[string]*entry, len(datas))
		for alias, data := range datas {
			key, chain, err := decodeP12(data, alias, pin)
			if err != nil {
				return nil, false, err
			}
			keys[alias] = newEntry(key, chain, alias)
		}
		return keys, false, nil
	}
	files, err := t.files()
	if err != nil {
		return nil, false, err
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return nil, false, err
	}
	keys := make(map[string]*entry, len(files))
	for alias, file := range files {
		var key crypto.Signer
		var chain []*x509.Certificate
		if t.typ == TypePKCS12 {
			key, chain, err = readP12(file, pin)
		} else {
			key, chain, err = readPEM(file, !fi.IsDir())
		}
		if err != nil {
			return nil, false, err
		}
		keys[alias] = newEntry(key, chain, file)
	}
	return keys, !fi.IsDir(), nil
}

func readP12(file, pin string) (crypto.Signer, []*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	return decodeP12(data, file, pin)
}

// decodeP12 decodes the PKCS#12 file data, named file in errors.
func decodeP12(data []byte, file, pin string) (crypto.Signer, []*x509.Certificate, error) {
	k, cert, cas, err := pkcs12.DecodeChain(data, pin)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		bad := tokens.ErrBadPIN
		if pin == "" {
			bad = tokens.ErrNoPIN // the keystore is protected, and none was given
		}
		return nil, nil, fmt.Errorf("the PIN does not open %s: %w", filepath.Base(file), bad)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	key, err := supported(k, file)
	if err != nil {
		return nil, nil, err
	}
	chain, err := signerFirst(key, append([]*x509.Certificate{cert}, cas...), file)
	if err != nil {
		return nil, nil, err
	}
	if isPlaceholder(chain) {
		chain = nil
	}
	return key, chain, nil
}

// readPEM reads <alias>.key and <alias>.pem, or one file holding both.
func readPEM(file string, single bool) (crypto.Signer, []*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	if !single {
		chainFile := strings.TrimSuffix(file, filepath.Ext(file)) + extChain
		c, err := os.ReadFile(chainFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, nil, err
		}
		data = append(append(data, '\n'), c...)
	}
	var key crypto.Signer
	var certs []*x509.Certificate
	name := filepath.Base(file)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "PRIVATE KEY":
			if key != nil {
				return nil, nil, fmt.Errorf("%s holds more than one private key: keep one key per file", name)
			}
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: private key: %w", name, err)
			}
			if key, err = supported(k, file); err != nil {
				return nil, nil, err
			}
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: certificate %d: %w", name, len(certs)+1, err)
			}
			certs = append(certs, c)
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, fmt.Errorf("%s holds an encrypted key, which PEM keystores do not read: decrypt it (openssl pkcs8 -topk8 -nocrypt) or use a PKCS12 keystore", name)
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return nil, nil, fmt.Errorf("%s holds a %s block: convert it to PKCS#8 with openssl pkcs8 -topk8 -nocrypt", name, b.Type)
		}
	}
	if key == nil {
		return nil, nil, fmt.Errorf("%s holds no PRIVATE KEY block", name)
	}
	chain, err := signerFirst(key, certs, file)
	if err != nil {
		return nil, nil, err
	}
	return key, chain, nil
}

func supported(k any, file string) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("%s holds a %T key: use RSA, ECDSA or Ed25519", filepath.Base(file), k)
}

type publicKey interface{ Equal(crypto.PublicKey) bool }

func matches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(publicKey)
	return ok && pub.Equal(cert.PublicKey)
}

// signerFirst moves the certificate of key to the front of certs (files made
// by other tools do not always put it first). Without certificates it
// returns nil.
func signerFirst(key crypto.Signer, certs []*x509.Certificate, file string) ([]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, nil
	}
	for i, c := range certs {
		if matches(key, c) {
			out := append([]*x509.Certificate{c}, certs[:i]...)
			return append(out, certs[i+1:]...), nil
		}
	}
	return nil, fmt.Errorf("%s: no certificate in the file matches its private key", filepath.Base(file))
}

// placeholderCN names the self-signed certificate stored with a key that has
// no chain yet (see the package documentation).
const placeholderCN = "Signet soft token placeholder, not a chain"

func placeholder(key crypto.Signer) (*x509.Certificate, error) {
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: placeholderCN},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(30, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create placeholder certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func isPlaceholder(chain []*x509.Certificate) bool {
	return len(chain) == 1 && chain[0].Subject.CommonName == placeholderCN &&
		bytes.Equal(chain[0].RawSubject, chain[0].RawIssuer)
}

// encodeP12 is the PKCS#12 file of key and chain (a placeholder certificate
// when there is none) under pin; file names it in errors.
func encodeP12(file string, key crypto.Signer, chain []*x509.Certificate, pin string) ([]byte, error) {
	if len(chain) == 0 {
		ph, err := placeholder(key)
		if err != nil {
			return nil, err
		}
		chain = []*x509.Certificate{ph}
	}
	data, err := pkcs12.Modern.Encode(key, chain[0], chain[1:], pin)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", filepath.Base(file), err)
	}
	return data, nil
}

// replace stores data, a new file of key, in place of the store's file of
// alias, and only while that file holds key: through another node the key
// may have been removed, or removed and made anew under the same alias,
// since this node read it (it hears of it a moment later), and a chain
// stored then brought the removed key back, or put the old key in place
// of the new one, on every node.
func (t *Token) replace(alias string, key crypto.Signer, data []byte) error {
	ctx := context.Background()
	old, found, err := t.store.Get(ctx, alias)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("it was removed through another node meanwhile: %w", tokens.ErrKeyNotFound)
	}
	if stored, _, err := decodeP12(old, alias, t.pin); err != nil || !matchesKey(stored, key) {
		return fmt.Errorf("another key was made under its name through another node meanwhile: %w", tokens.ErrKeyNotFound)
	}
	replaced, err := t.store.Replace(ctx, alias, old, data)
	if err != nil {
		return err
	}
	if !replaced {
		return fmt.Errorf("it was changed through another node meanwhile: try again")
	}
	return nil
}

// writeKey stores key and chain at file in the keystore's format with pin.
// For PEM keystores in a folder, the chain goes to <alias>.pem beside the
// .key file.
func (t *Token) writeKey(file string, key crypto.Signer, chain []*x509.Certificate, pin string) error {
	if t.typ == TypePKCS12 {
		data, err := encodeP12(file, key, chain, pin)
		if err != nil {
			return err
		}
		if t.store != nil {
			return t.replace(file, key, data) // file is the alias
		}
		return atomicfile.Write(file, data, 0o600)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	var certs []byte
	for _, c := range chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if t.single {
		return atomicfile.Write(file, append(data, certs...), 0o600)
	}
	chainFile := strings.TrimSuffix(file, filepath.Ext(file)) + extChain
	if len(certs) > 0 {
		if err := atomicfile.Write(chainFile, certs, 0o600); err != nil {
			return err
		}
	} else if err := os.Remove(chainFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return atomicfile.Write(file, data, 0o600)
}
