package tokens

import (
	"context"
	"crypto"
)

// Caller says who asks for a signature: the surfaces (web layer, workers,
// key APIs) set it on the request's context with WithCaller, and the key
// guard (tokens/guard) records it in the signing log and applies
// AllowSHA1. It lives here, beside the Token interface every surface
// already uses, so that no surface depends on the guard.
type Caller struct {
	Surface   string // "worker/NAME", "dsm", "nethsm", "admin/test-sign", "admin/csr"
	User      string // user name, or the client certificate
	Client    string // client address
	RequestID string
	// AllowSHA1 lets SHA-1 digests be signed: a worker that allows them
	// for legacy clients says so. MD5 is never signed.
	AllowSHA1 bool
	// Documents are the digests of the documents behind the inputs, one
	// per input, where the key signs something else (a CMS signature signs
	// its signed attributes, which hold the document's digest): the signing
	// log records these, so that a signature is found by the hash of the
	// document it signs (sha256sum FILE, or the client-side digest). They
	// are never inherited by WithCaller: a signature made for another (the
	// time-stamp of a B-T signature) has documents of its own.
	Documents [][]byte
	// DocumentHash is the digest algorithm of Documents: what the key
	// signs may use another (Ed25519 signs the signed attributes whole).
	DocumentHash crypto.Hash
	// Renewal says the signature is the key's certificate signing request
	// (the admin API's CSR): the checks of the key's certificate, which
	// the request is made to replace, do not apply to it, since an
	// expired certificate, or one within MINREMAININGCERTVALIDITY of its
	// end, is when a key needs a new one. It is counted and recorded as
	// any other signature. Never inherited by WithCaller.
	Renewal bool
}

type callerKey struct{}

// WithCaller returns ctx carrying c, with the fields c leaves empty taken
// from the Caller ctx carries already (the web layer sets the user and the
// address, the worker its surface).
func WithCaller(ctx context.Context, c Caller) context.Context {
	old := CallerFrom(ctx)
	if c.Surface == "" {
		c.Surface = old.Surface
	}
	if c.User == "" {
		c.User = old.User
	}
	if c.Client == "" {
		c.Client = old.Client
	}
	if c.RequestID == "" {
		c.RequestID = old.RequestID
	}
	c.AllowSHA1 = c.AllowSHA1 || old.AllowSHA1
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the Caller of ctx, zero when there is none.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
