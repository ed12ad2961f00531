// Package tokens defines Signet's crypto token abstraction: a named set of keys
// that can sign, with optional capabilities (batch signing, key generation,
// certificate storage) discovered by type assertion, in the way crypto.Signer
// and crypto.Decrypter are used in the standard library.
//
// Workers never loop over a token themselves: they call SignAll, which uses a
// token's BatchSigner when it has one and otherwise signs item by item with
// bounded parallelism, keeping the order of the inputs.
package tokens

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors returned by tokens. Implementations wrap them with %w so that callers
// can test with errors.Is and map them to protocol status codes.
var (
	// ErrOffline reports that the token cannot sign now (not activated, module
	// unavailable, remote end unreachable). Clients see 503.
	ErrOffline = errors.New("crypto token is offline")
	// ErrKeyNotFound reports that no key with the requested alias exists.
	ErrKeyNotFound = errors.New("key not found")
	// ErrBadPIN reports that activation failed because of a wrong PIN.
	ErrBadPIN = errors.New("wrong PIN")
	// ErrNoPIN reports that activation was given no PIN where the token
	// needs one and has none of its own to try (a DSM token's configured
	// API key is one: its refusal is ErrBadPIN alone). It wraps ErrBadPIN,
	// so that a caller that does not know it answers as for a wrong PIN;
	// the admin API tells the client that it sent none.
	ErrNoPIN = fmt.Errorf("no PIN given: %w", ErrBadPIN)
	// ErrUnsupported reports that the token or key cannot do what was asked
	// (an algorithm, a padding, an operation).
	ErrUnsupported = errors.New("not supported by this token")
	// ErrUsageLimit reports that a key reached its usage limit. Clients see 503.
	ErrUsageLimit = errors.New("key usage limit exceeded")
)

// State is the life-cycle state of a token.
type State int

// Token states.
const (
	Offline State = iota
	Active
)

// String returns SignServer's spelling of the state.
func (s State) String() string {
	if s == Active {
		return "ACTIVE"
	}
	return "OFFLINE"
}

// Status is a token's state and, when it is offline, why.
type Status struct {
	State  State
	Reason string // empty when Active
}

// KeyInfo describes one key of a token.
type KeyInfo struct {
	Alias     string
	Algorithm string // "RSA", "ECDSA", "Ed25519"
	Bits      int    // RSA modulus size or curve size
	Curve     string // "P-256", … for ECDSA
	HasChain  bool
	NotAfter  time.Time // signer certificate expiry, zero without a chain
}

// Closer is the optional capability of a token that holds resources
// (PKCS#11 sessions and login, HTTP connections): Close releases them, and
// the token is not used again. A reload closes the tokens it no longer uses
// once their requests have finished; shutdown closes every token.
type Closer interface {
	Close() error
}

// Token is a set of keys that can sign. Implementations are safe for
// concurrent use.
type Token interface {
	// Name is the token's configured name.
	Name() string
	// Status reports whether the token can sign now.
	Status(ctx context.Context) Status
	// Activate makes the token usable with the given PIN.
	Activate(ctx context.Context, pin string) error
	// Deactivate logs out; the token is Offline until activated again.
	Deactivate(ctx context.Context) error
	// Keys lists the token's keys.
	Keys(ctx context.Context) ([]KeyInfo, error)
	// Signer returns a crypto.Signer for the key with the given alias.
	// It wraps ErrKeyNotFound or ErrOffline.
	Signer(ctx context.Context, alias string) (crypto.Signer, error)
	// Chain returns the certificate chain of the key, signer first. A key
	// without certificates returns an empty chain and no error.
	//
	// Workers call it on every request, so it should be cheap (a cache is
	// the token's business). The certificates are shared and read-only:
	// callers must not modify them, and implementations must not modify
	// a certificate once returned (a new chain is a new slice of new
	// certificates). A token may return the same pointers each time or new
	// ones: callers compare certificates by their bytes (Raw), never by
	// pointer, to see whether the key's certificate changed.
	Chain(ctx context.Context, alias string) ([]*x509.Certificate, error)
}

// Result is the outcome of signing one item: a signature or an error.
type Result struct {
	Signature []byte
	Err       error
}

// BatchSigner is implemented by tokens that sign many inputs with one key in
// one call (a remote HSM's batch API). Results are in input order, one per
// input; a failed item does not fail the others. The returned error reports a
// failure of the whole call (nothing was signed).
type BatchSigner interface {
	SignBatch(ctx context.Context, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]Result, error)
}

// Parallelizer is implemented by tokens that know how many signatures they can
// compute at once (a PKCS#11 session pool, a connection pool). SignAll uses it
// to bound its parallelism.
type Parallelizer interface {
	Parallelism() int
}

// KeySpec describes a key to generate.
type KeySpec struct {
	Algorithm string // "RSA", "ECDSA", "Ed25519"
	Bits      int    // RSA size: 2048, 3072, 4096
	Curve     string // ECDSA curve: "P-256", "P-384", "P-521"
}

// KeyGenerator is implemented by tokens that can create and remove keys.
type KeyGenerator interface {
	GenerateKey(ctx context.Context, alias string, spec KeySpec) (crypto.PublicKey, error)
	RemoveKey(ctx context.Context, alias string) error
}

// CertificateStore is implemented by tokens that can store a key's
// certificate chain (signer first).
type CertificateStore interface {
	ImportChain(ctx context.Context, alias string, chain []*x509.Certificate) error
}

// ErrWeakHash reports that a signature over a SHA-1 or MD5 digest was
// refused: such signatures can be forged by collision. Clients see 400.
var ErrWeakHash = errors.New("digest algorithm refused for new signatures")

// ErrNotRecorded reports that a key with a usage limit signs nothing
// unrecorded (tokens/guard): the signing log could not record signatures
// it made, which are not handed out, or its store is known not to take
// writes, and the key was not made to sign. The cause (a full disk, a
// cluster database that does not answer) is in the server log and in the
// error that wraps it (a state.WriteError names it for anyone), not in
// this sentence, which clients see. It wraps ErrOffline: a caller that
// does not know it answers as for a token that cannot sign now (503).
var ErrNotRecorded = fmt.Errorf("the signing log could not record the signature: %w", ErrOffline)

// ErrNotCounted reports that a key did not sign: its usage counter could
// not count the signatures (the state database cannot be written, or a
// cluster's does not answer), and a counted key signs nothing uncounted
// (tokens/guard). Clients see 503 naming neither the database nor its
// error; the error that wraps it keeps the state's own (a state.WriteError
// names the cause for anyone). It wraps ErrOffline, as ErrNotRecorded does.
var ErrNotCounted = fmt.Errorf("the key's usage count could not be stored: %w", ErrOffline)

// ErrCertificateValidity reports that the key's signer certificate does not
// allow signing now (expired, not yet valid, private key usage period
// over, less validity left than required). Clients see 503.
var ErrCertificateValidity = errors.New("signer certificate does not allow signing now")

// Wrapper is implemented by tokens that wrap another one (the key policy
// guard). Optional capabilities that the wrapper does not forward, such as
// KeyGenerator, are found on Unwrap(t).
type Wrapper interface {
	Unwrap() Token
}

// Unwrap returns the innermost token of t.
func Unwrap(t Token) Token {
	for {
		w, ok := t.(Wrapper)
		if !ok {
			return t
		}
		t = w.Unwrap()
	}
}

// ContextSigner is implemented by signers that can take the context of the
// request they sign for (the key policy guard records who asked). Callers
// that hold a crypto.Signer across requests use it when it is there.
type ContextSigner interface {
	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// PINless is implemented by tokens that may need no secret to activate:
// NeedsPIN is false for one whose keys are not encrypted (a soft PEM
// keystore), which the server then activates at start without a PIN; a
// token without it needs one.
type PINless interface {
	NeedsPIN() bool
}

// KeyChecker is implemented by tokens that apply a policy to their keys: it
// reports why the key alias may not sign now (usage limit reached,
// certificate not valid), or nil.
type KeyChecker interface {
	CheckKey(ctx context.Context, alias string) error
}

// Remote is implemented by tokens whose keys live on another server reached
// over the network (a remote HSM's API). Signet does not serve such keys
// again on its own vendor APIs, so that two Signets pointing at each other
// cannot loop.
type Remote interface {
	Token
	// Endpoint is the address of the server that holds the keys.
	Endpoint() string
}
