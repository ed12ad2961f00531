// Package soft is Signet's software crypto token, the equivalent of
// SignServer's KeystoreCryptoToken: keys kept in files on disk, decrypted
// into memory when the token is activated.
//
// # Keystore layout
//
// A keystore is a folder with one file (PKCS12) or one pair of files (PEM) per
// key, named after the key's alias:
//
//	PKCS12: <dir>/<alias>.p12 (or .pfx): the key and its chain, signer first,
//	        protected by the token's PIN.
//	PEM:    <dir>/<alias>.key: the key as an unencrypted PKCS#8 "PRIVATE KEY"
//	        block; <dir>/<alias>.pem: its chain as "CERTIFICATE" blocks,
//	        signer first (optional).
//
// The path may also name a single file (a .p12 made by `openssl pkcs12
// -export`, or a PEM file holding one PRIVATE KEY block and its CERTIFICATE
// blocks). Such a keystore holds exactly one key, whose alias is the file name
// without its extension; it can take a new chain but not new keys.
//
// Why a folder rather than one PKCS#12 file with several aliases:
// go-pkcs12, the PKCS#12 library Signet uses, reads and writes exactly one
// private key per file (Encoder.Encode, DecodeChain) and does not expose the
// friendlyName attribute. A several-key file would need a hand-written
// PKCS#12 codec (PBES2, the PKCS#12 MAC key derivation, legacy PBE ciphers);
// one standard file per key keeps every file readable by openssl, Java and
// Windows, and lets an operator add a key by dropping in an exported .p12.
// go-pkcs12 handles Ed25519 keys (it stores PKCS#8, which crypto/x509 encodes
// for Ed25519), so both formats hold every key type.
//
// # Keystore in a database
//
// With Options.Store the PKCS#12 files are kept by a Store instead of a
// folder: in a cluster, the PostgreSQL state (state/postgres.Keystore), as
// SignServer's keystore-in-database crypto token, so that a key generated
// or a chain stored through one node signs on every node. The files are the
// same encrypted PKCS#12 files, under the same PIN, which the database
// never sees. A key another node added is read when it is first asked
// for; a key without a chain is read again until it has one, so that a
// chain stored through another node is seen.
//
// # PINs
//
// PKCS12: every file of a keystore is protected by the same password, the
// token's PIN. Activate decrypts every file with it; a wrong PIN fails with
// an error wrapping tokens.ErrBadPIN and the token stays Offline. A keystore
// with no keys yet accepts any PIN, and the keys generated after that are
// protected with it. Files are written with go-pkcs12's Modern encoder
// (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA-256, HMAC-SHA-256 MAC).
//
// PEM: keys are not encrypted and are protected by file permissions only
// (files are written with mode 0600). Activate ignores the PIN: it reads the
// keys into memory, and any PIN, empty included, is accepted.
//
// # Keys without certificates
//
// A PKCS#12 file must hold a certificate for its key, so GenerateKey stores a
// self-signed placeholder certificate with the key, as SignServer (CESeCore)
// does for Java keystores. The placeholder is not a chain: Chain returns no
// certificates and KeyInfo.HasChain is false until ImportChain stores one.
package soft

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/signet-project/signet/tokens"
)

// Keystore types accepted in Options.Type.
const (
	TypePKCS12 = "PKCS12"
	TypePEM    = "PEM"
)

// ErrChainMismatch reports that a certificate chain given to ImportChain does
// not start with a certificate for the key.
var ErrChainMismatch = errors.New("certificate does not match the key")

// Options configure a soft token.
type Options struct {
	// Path is the keystore folder, or a single keystore file holding one key.
	Path string
	// Type is "PKCS12" or "PEM" (case-insensitive).
	Type string
	// Name is the token's name; the base name of Path when empty.
	Name string
	// Store, when set, keeps the keystore's PKCS#12 files instead of the
	// folder Path (which is then not used); Type must be PKCS12 and Name
	// set.
	Store Store
}

// Store keeps a PKCS#12 keystore's files, one per alias, somewhere other
// than a folder (see "Keystore in a database"). Found is false for an
// alias it does not hold.
type Store interface {
	List(ctx context.Context) (map[string][]byte, error)
	Get(ctx context.Context, alias string) (data []byte, found bool, err error)
	// Replace stores data as the key file of alias in place of old;
	// replaced is false, and nothing is stored, when alias no longer holds
	// old (changed or removed through another node meanwhile).
	Replace(ctx context.Context, alias string, old, data []byte) (replaced bool, err error)
	// Add stores the key file of a new alias; added is false, and nothing
	// is stored, when the alias is taken (another node's key, made
	// meanwhile).
	Add(ctx context.Context, alias string, data []byte) (added bool, err error)
	Delete(ctx context.Context, alias string) error
}

// Token is a crypto token over a keystore on disk. It is Offline until
// Activate succeeds. A Token is safe for concurrent use; signing takes no
// lock, so signers of one token run in parallel.
type Token struct {
	name  string
	path  string
	typ   string
	store Store // nil: the keystore is the folder or file at path

	mu     sync.RWMutex
	active bool
	reason string // why the token is Offline
	pin    string // kept while active to protect the files GenerateKey and ImportChain write
	single bool   // path is a file holding one key
	keys   map[string]*entry
}

var (
	_ tokens.Token            = (*Token)(nil)
	_ tokens.KeyGenerator     = (*Token)(nil)
	_ tokens.CertificateStore = (*Token)(nil)
	_ tokens.PINless          = (*Token)(nil)
)

// notActivated is the reason of a token not activated yet, saying what to
// do, as the other tokens' reasons do: a PEM keystore needs no PIN.
func notActivated(typ string) string {
	if typ == TypePEM {
		return "not activated: activate the token (a PEM keystore needs no PIN)"
	}
	return "not activated: activate the token with its keystore PIN"
}

// NeedsPIN reports whether the keystore's keys are encrypted with the
// token's PIN: a PEM keystore's are not (tokens.PINless).
func (t *Token) NeedsPIN() bool { return t.typ != TypePEM }

func (o Options) check() (Options, error) {
	if o.Store != nil {
		if o.Type = strings.ToUpper(o.Type); o.Type != TypePKCS12 {
			return o, fmt.Errorf("a keystore in the database holds PKCS12 files, not %s: set the keystore type to PKCS12", o.Type)
		}
		if o.Name == "" {
			return o, errors.New("a keystore in the database needs the token's name")
		}
		return o, nil
	}
	if o.Path == "" {
		return o, errors.New("soft token needs a keystore path: set the token's keystore path")
	}
	switch strings.ToUpper(o.Type) {
	case TypePKCS12, "P12", "PFX":
		o.Type = TypePKCS12
	case TypePEM:
		o.Type = TypePEM
	default:
		return o, fmt.Errorf("unknown keystore type %q: use PKCS12 or PEM", o.Type)
	}
	o.Path = filepath.Clean(o.Path)
	if o.Name == "" {
		o.Name = filepath.Base(o.Path)
	}
	return o, nil
}

// Open returns a token over the keystore at opts.Path. The token is Offline
// with the reason "not activated" until Activate succeeds, or with the reason
// "keystore unreadable: …" when the path cannot be read. Open fails only for
// invalid options.
func Open(opts Options) (*Token, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	t := &Token{name: opts.Name, path: opts.Path, typ: opts.Type, store: opts.Store, reason: notActivated(opts.Type)}
	if t.store != nil {
		return t, nil
	}
	if _, err := t.files(); err != nil {
		t.reason = unreadable(err)
	}
	return t, nil
}

// Create makes a new empty keystore folder at opts.Path (mode 0700) and
// returns its token, activated with pin. It fails when opts.Path is a file or
// a folder that already holds keys, so an existing keystore is never
// overwritten.
func Create(opts Options, pin string) (*Token, error) {
	opts, err := opts.check()
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(opts.Path); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("cannot create keystore %s: a file with that name exists", opts.Path)
	}
	if err := os.MkdirAll(opts.Path, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create keystore folder: %w", err)
	}
	t := &Token{name: opts.Name, path: opts.Path, typ: opts.Type, reason: notActivated(opts.Type)}
	files, err := t.files()
	if err != nil {
		return nil, fmt.Errorf("cannot read new keystore: %w", err)
	}
	if len(files) > 0 {
		return nil, fmt.Errorf("keystore %s already holds keys: open it instead of creating it", opts.Path)
	}
	if err := t.Activate(context.Background(), pin); err != nil {
		return nil, err
	}
	return t, nil
}

func unreadable(err error) string { return "keystore unreadable: " + err.Error() }

// KeystoreError returns why the keystore's files cannot be read, as Open
// reads them (the token is then Offline, "keystore unreadable: …", and no
// PIN activates it), or nil: config check refuses such a token, whose
// workers the server would start OFFLINE.
func (t *Token) KeystoreError() error {
	if t.store != nil {
		return nil
	}
	if _, err := t.files(); err != nil {
		return errors.New(unreadable(err))
	}
	return nil
}

// Name returns the token's name.
func (t *Token) Name() string { return t.name }

// Status reports whether the token is Active, or Offline and why.
func (t *Token) Status(ctx context.Context) tokens.Status {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.active {
		return tokens.Status{State: tokens.Active}
	}
	return tokens.Status{State: tokens.Offline, Reason: t.reason}
}

// Activate reads the keystore and decrypts its keys with pin (PKCS12), or
// reads its unencrypted keys and ignores pin (PEM). On a wrong PIN the error
// wraps tokens.ErrBadPIN and the token keeps its state. Activating an active
// token reloads the keystore from disk.
func (t *Token) Activate(ctx context.Context, pin string) error {
	keys, single, err := t.load(ctx, pin)
	if err != nil {
		if errors.Is(err, tokens.ErrBadPIN) {
			return fmt.Errorf("cannot activate token %s: %w", t.name, err)
		}
		t.mu.Lock()
		if !t.active {
			t.reason = unreadable(err)
		}
		t.mu.Unlock()
		return fmt.Errorf("cannot activate token %s: keystore unreadable: %w", t.name, err)
	}
	t.mu.Lock()
	old := t.keys
	for alias, e := range keys {
		// A key read again as it was keeps its entry, so that the signers
		// of requests in flight during a reload still sign.
		if o, ok := old[alias]; ok && o.live.Load() && matchesKey(o.key, e.key) {
			o.chain, o.file = e.chain, e.file
			keys[alias] = o
		}
	}
	t.keys, t.single, t.pin, t.active, t.reason = keys, single, pin, true, ""
	t.mu.Unlock()
	for alias, o := range old {
		if keys[alias] != o {
			o.live.Store(false)
		}
	}
	return nil
}

// Deactivate drops the keys and the PIN from memory. Signers handed out
// before fail with tokens.ErrOffline from then on.
func (t *Token) Deactivate(ctx context.Context) error {
	t.mu.Lock()
	old := t.keys
	t.keys, t.pin, t.active, t.reason = nil, "", false, notActivated(t.typ)
	t.mu.Unlock()
	kill(old)
	return nil
}

func kill(keys map[string]*entry) {
	for _, e := range keys {
		e.live.Store(false)
	}
}

// lookup returns the entry of alias; the caller holds t.mu.
func (t *Token) lookup(alias string) (*entry, error) {
	if !t.active {
		return nil, fmt.Errorf("token %s is not activated: %w", t.name, tokens.ErrOffline)
	}
	e, ok := t.keys[alias]
	if !ok {
		return nil, fmt.Errorf("token %s has no key %q: %w", t.name, alias, tokens.ErrKeyNotFound)
	}
	return e, nil
}

// Keys lists the keys of an active token, sorted by alias.
func (t *Token) Keys(ctx context.Context) ([]tokens.KeyInfo, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.active {
		return nil, fmt.Errorf("token %s is not activated: %w", t.name, tokens.ErrOffline)
	}
	out := make([]tokens.KeyInfo, 0, len(t.keys))
	for alias, e := range t.keys {
		info := describe(e.key.Public())
		info.Alias = alias
		if len(e.chain) > 0 {
			info.HasChain = true
			info.NotAfter = e.chain[0].NotAfter
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b tokens.KeyInfo) int { return strings.Compare(a.Alias, b.Alias) })
	return out, nil
}

// Signer returns the key alias as a crypto.Signer. The signer is a thin
// wrapper around the key: it takes no lock, and fails with tokens.ErrOffline
// once the token is deactivated or the key removed.
func (t *Token) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	e, err := t.find(ctx, alias)
	if err != nil {
		return nil, err
	}
	return &signer{e: e}, nil
}

// Sync reads the key alias again from the Store, after another node
// generated it, stored its chain or removed it: a removed key stops
// signing here too (its signers fail with tokens.ErrOffline), a new chain
// is used by the signers handed out. Without a Store, or while the token
// is not active, it does nothing.
func (t *Token) Sync(ctx context.Context, alias string) error {
	t.mu.RLock()
	active, pin := t.active, t.pin
	t.mu.RUnlock()
	if t.store == nil || !active {
		return nil
	}
	data, found, err := t.store.Get(ctx, alias)
	if err != nil {
		return fmt.Errorf("token %s: %w", t.name, err)
	}
	return t.sync(alias, data, found, pin)
}

// SyncAll reads every key of the Store again, as Sync does one: a node
// that was not told of other nodes' changes for a while (its watch of the
// cluster reconnecting) drops the keys removed meanwhile and takes the new
// ones and new chains. Every key is tried; the errors are joined.
func (t *Token) SyncAll(ctx context.Context) error {
	t.mu.RLock()
	active, pin := t.active, t.pin
	held := slices.Collect(maps.Keys(t.keys))
	t.mu.RUnlock()
	if t.store == nil || !active {
		return nil
	}
	stored, err := t.store.List(ctx)
	if err != nil {
		return fmt.Errorf("token %s: %w", t.name, err)
	}
	var errs []error
	for _, alias := range held {
		if _, ok := stored[alias]; !ok {
			errs = append(errs, t.sync(alias, nil, false, pin))
		}
	}
	for alias, data := range stored {
		errs = append(errs, t.sync(alias, data, true, pin))
	}
	return errors.Join(errs...)
}

// sync makes the key alias what the Store holds: data when found, no key
// otherwise.
func (t *Token) sync(alias string, data []byte, found bool, pin string) error {
	var key crypto.Signer
	var chain []*x509.Certificate
	if found {
		var err error
		if key, chain, err = decodeP12(data, alias, pin); err != nil {
			return fmt.Errorf("token %s: %w", t.name, err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := t.keys[alias]
	switch {
	case !t.active:
	case !found && ok:
		delete(t.keys, alias)
		cur.live.Store(false)
	case !found:
	case ok && matchesKey(cur.key, key):
		cur.chain = chain
	default:
		if ok {
			cur.live.Store(false)
		}
		t.keys[alias] = newEntry(key, chain, alias)
	}
	return nil
}

// find returns the entry of alias, reading it from the Store when this
// node has not seen it, or has seen it without a chain.
func (t *Token) find(ctx context.Context, alias string) (*entry, error) {
	t.mu.RLock()
	e, err := t.lookup(alias)
	pin, hasChain := t.pin, err == nil && len(e.chain) > 0
	t.mu.RUnlock()
	if t.store == nil || errors.Is(err, tokens.ErrOffline) || hasChain {
		return e, err
	}
	data, found, ferr := t.store.Get(ctx, alias)
	switch {
	case ferr != nil && err == nil:
		return e, nil // the key is known; its chain can wait
	case ferr != nil:
		return nil, fmt.Errorf("token %s: %w", t.name, ferr)
	case !found:
		return e, err
	}
	key, chain, derr := decodeP12(data, alias, pin)
	if derr != nil {
		return nil, fmt.Errorf("token %s: %w", t.name, derr)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.active {
		return nil, fmt.Errorf("token %s is not activated: %w", t.name, tokens.ErrOffline)
	}
	if cur, ok := t.keys[alias]; ok && matchesKey(cur.key, key) {
		if len(cur.chain) == 0 {
			cur.chain = chain // signers handed out stay valid
		}
		return cur, nil
	} else if ok {
		cur.live.Store(false) // removed and generated again through another node
	}
	ne := newEntry(key, chain, alias)
	t.keys[alias] = ne
	return ne, nil
}

// Chain returns the certificate chain of the key alias, signer first; empty
// when no chain has been imported.
func (t *Token) Chain(ctx context.Context, alias string) ([]*x509.Certificate, error) {
	e, err := t.find(ctx, alias)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(e.chain), nil
}

// matchesKey reports whether a and b are the same key.
func matchesKey(a, b crypto.Signer) bool {
	pub, ok := a.Public().(publicKey)
	return ok && pub.Equal(b.Public())
}
