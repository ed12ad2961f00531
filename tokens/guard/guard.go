// Package guard is the one enforcement point of a key's policy. Every
// signature Signet makes — through a worker, the TSA, the DSM or NetHSM key
// API, or the admin test-sign — is made by a token that Guard.Wrap wrapped,
// so that the key's usage limit and counter, its certificate checks, the
// refusal of SHA-1 and MD5 and the signing log apply the same whichever
// surface asked. The surfaces only say who asked, through WithCaller.
//
// The policy belongs to the key (SignServer counts per key, not per
// worker): the usage counter is keyed by the SHA-256 of the key's public
// key, so every name and alias of one key shares one count.
package guard

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
)

// Policy is the policy of one key (tokens.KeyPolicy).
type Policy = tokens.KeyPolicy

// DefaultPolicy is SignServer's: no limit, counted, certificate checks on.
var DefaultPolicy = tokens.DefaultKeyPolicy

// Guard applies key policies. Its zero value counts nothing and logs
// nothing but still checks certificates and digests.
type Guard struct {
	Counters state.Counters   // key usage counters; nil: not counted
	Log      state.SigningLog // the signing log; nil: not recorded
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// Wrap returns tok guarded by the policies policy returns per alias (nil:
// DefaultPolicy for every key).
func (g *Guard) Wrap(tok tokens.Token, policy func(alias string) Policy) tokens.Token {
	if policy == nil {
		policy = func(string) Policy { return DefaultPolicy }
	}
	return &Token{g: g, inner: tok, policy: policy}
}

// Token is a guarded token. Signing (Signer, SignBatch) goes through the
// policy; key management is on Unwrap.
type Token struct {
	g      *Guard
	inner  tokens.Token
	policy func(alias string) Policy

	mu    sync.Mutex
	certs map[string]certEntry // signer certificate per alias, briefly cached
	ids   map[string]keyID     // usage counter key per alias and public key
}

// recordWait bounds how long a signature with an unlimited key waits for
// its signing log record.
const recordWait = time.Second

// certTTL is how long a key's signer certificate is remembered between
// signatures: reading a chain from an HSM costs object searches.
const certTTL = 5 * time.Second

type certEntry struct {
	cert *x509.Certificate // nil: the key has no certificate
	at   time.Time
}

type keyID struct {
	pub crypto.PublicKey
	id  string
}

var _ tokens.KeyGuard = (*Guard)(nil)

var (
	_ tokens.Token        = (*Token)(nil)
	_ tokens.BatchSigner  = (*Token)(nil)
	_ tokens.Parallelizer = (*Token)(nil)
	_ tokens.Wrapper      = (*Token)(nil)
	_ tokens.KeyChecker   = (*Token)(nil)
)

func (t *Token) Name() string                                   { return t.inner.Name() }
func (t *Token) Status(ctx context.Context) tokens.Status       { return t.inner.Status(ctx) }
func (t *Token) Activate(ctx context.Context, pin string) error { return t.inner.Activate(ctx, pin) }
func (t *Token) Deactivate(ctx context.Context) error           { return t.inner.Deactivate(ctx) }
func (t *Token) Keys(ctx context.Context) ([]tokens.KeyInfo, error) {
	return t.inner.Keys(ctx)
}
func (t *Token) Chain(ctx context.Context, alias string) ([]*x509.Certificate, error) {
	return t.inner.Chain(ctx, alias)
}

// Unwrap returns the token it guards, for key management.
func (t *Token) Unwrap() tokens.Token { return t.inner }

// Parallelism forwards the inner token's.
func (t *Token) Parallelism() int {
	if p, ok := t.inner.(tokens.Parallelizer); ok {
		return p.Parallelism()
	}
	return 0
}

// Policy returns the policy of alias.
func (t *Token) Policy(alias string) Policy { return t.policy(alias) }

// Signer returns a signer for alias whose signatures go through the policy,
// recorded with the Caller of ctx.
func (t *Token) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	s, err := t.inner.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return &signer{t: t, alias: alias, inner: s, ctx: ctx}, nil
}

// SignBatch signs inputs as one request: one policy check, one count of
// len(inputs), one signing log record with every input's hash.
func (t *Token) SignBatch(ctx context.Context, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]tokens.Result, error) {
	s, err := t.inner.Signer(ctx, alias)
	if err != nil {
		t.record(ctx, alias, nil, inputs, opts, err)
		return nil, err
	}
	if err := t.admit(ctx, alias, s.Public(), len(inputs), opts); err != nil {
		t.record(ctx, alias, s.Public(), inputs, opts, err)
		return nil, err
	}
	res, err := tokens.SignAll(ctx, t.inner, alias, inputs, opts)
	if err != nil {
		t.record(ctx, alias, s.Public(), inputs, opts, err)
		return nil, err
	}
	// The caller may start its work on them (a batch's answer) while they
	// are recorded; they are handed out only if the record is stored.
	tokens.TraceSigned(ctx, res)
	var signed, failed []int
	var ferr error
	for i, r := range res {
		if r.Err == nil {
			signed = append(signed, i)
		} else if failed = append(failed, i); ferr == nil {
			ferr = fmt.Errorf("item %d: %w", i, r.Err)
		}
	}
	if len(failed) == 0 {
		if lerr := t.record(ctx, alias, s.Public(), inputs, opts, nil); lerr != nil {
			return nil, lerr // not recorded: not handed out
		}
		return res, nil
	}
	// Some items failed: the others' signatures are handed out (a key
	// API answers per item), so they are recorded as signed, and the
	// failed items apart as refused.
	t.record(pick(ctx, len(inputs), failed), alias, s.Public(), picked(inputs, failed), opts, ferr)
	if len(signed) > 0 {
		if lerr := t.record(pick(ctx, len(inputs), signed), alias, s.Public(), picked(inputs, signed), opts, nil); lerr != nil {
			return nil, lerr
		}
	}
	return res, nil
}

// picked returns the inputs at idx.
func picked(inputs [][]byte, idx []int) [][]byte {
	out := make([][]byte, len(idx))
	for j, i := range idx {
		out[j] = inputs[i]
	}
	return out
}

// pick returns ctx with its Caller's Documents, one per input of n,
// cut to those at idx: the documents of a record of those inputs alone.
func pick(ctx context.Context, n int, idx []int) context.Context {
	c := tokens.CallerFrom(ctx)
	if len(c.Documents) != n {
		return tokens.WithCaller(ctx, tokens.Caller{}) // not one per input: none
	}
	return tokens.WithCaller(ctx, tokens.Caller{Documents: picked(c.Documents, idx), DocumentHash: c.DocumentHash})
}

// CheckKey reports why alias may not sign now: its usage limit is reached
// or its certificate does not allow it.
func (t *Token) CheckKey(ctx context.Context, alias string) error {
	s, err := t.inner.Signer(ctx, alias)
	if err != nil {
		return err
	}
	p := t.policy(alias)
	if err := t.checkCert(ctx, alias, p); err != nil {
		return err
	}
	if p.UsageLimit >= 0 {
		if err := t.g.logHealth(); err != nil {
			return err // it signs nothing unrecorded (record)
		}
	}
	if t.g.Counters == nil || p.NoCount || p.UsageLimit < 0 {
		return nil
	}
	id, err := t.keyID(alias, s.Public())
	if err != nil {
		return err
	}
	n, err := t.g.Counters.Count(ctx, id)
	if err != nil {
		return err
	}
	if n >= p.UsageLimit {
		return fmt.Errorf("key %q has made %d of its %d signatures (KEYUSAGELIMIT): %w", alias, n, p.UsageLimit, tokens.ErrUsageLimit)
	}
	return nil
}

// Count returns how many signatures the key alias made, as counted.
func (t *Token) Count(ctx context.Context, alias string) (int64, error) {
	if t.g.Counters == nil {
		return 0, nil
	}
	s, err := t.inner.Signer(ctx, alias)
	if err != nil {
		return 0, err
	}
	id, err := t.keyID(alias, s.Public())
	if err != nil {
		return 0, err
	}
	return t.g.Counters.Count(ctx, id)
}

// admit applies the policy to n signatures with opts, and counts them:
// once admit returns nil, they are counted and stored.
func (t *Token) admit(ctx context.Context, alias string, pub crypto.PublicKey, n int, opts crypto.SignerOpts) error {
	if err := checkHash(ctx, opts); err != nil {
		return err
	}
	p := t.policy(alias)
	if !tokens.CallerFrom(ctx).Renewal { // a CSR is how a failing certificate is replaced
		if err := t.checkCert(ctx, alias, p); err != nil {
			return err
		}
	}
	if p.UsageLimit >= 0 {
		// It signs nothing unrecorded (record): while the signing log's
		// store is known not to take writes, it is not made to sign, and
		// count, signatures that would then be withheld.
		if err := t.g.logHealth(); err != nil {
			return &stateError{tokens.ErrNotRecorded, err}
		}
	}
	if t.g.Counters == nil || p.NoCount || n == 0 {
		return nil
	}
	id, err := t.keyID(alias, pub)
	if err != nil {
		return err
	}
	if _, err := t.g.Counters.Reserve(ctx, id, int64(n), p.UsageLimit); err != nil {
		switch {
		case errors.Is(err, state.ErrLimit):
			return fmt.Errorf("key %q reached its usage limit of %d signatures (KEYUSAGELIMIT): %w", alias, p.UsageLimit, tokens.ErrUsageLimit)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return err // the caller gave up before it was counted
		}
		// The count could not be stored (a cluster's database does not
		// answer, the data folder's disk is full): the key cannot sign
		// now, which every surface answers 503, naming the cause here.
		t.g.logger().Error("key usage not counted: the key does not sign", "key", t.inner.Name()+"/"+alias, "error", err)
		return &stateError{tokens.ErrNotCounted, fmt.Errorf("key %q: %w", alias, err)}
	}
	return nil
}

// stateError is a refusal of a key because the state failed under it: the
// token error every surface answers 503 (tokens.ErrNotCounted,
// ErrNotRecorded), and the state's own error, for errors.Is and As (a
// state.WriteError names the cause for anyone; a cluster's
// state.ErrUnavailable) and the server log. Its text is kind's alone: a
// database driver's error may name the database's address and user.
type stateError struct{ kind, cause error }

func (e *stateError) Error() string   { return e.kind.Error() }
func (e *stateError) Unwrap() []error { return []error{e.kind, e.cause} }

// logHealth returns the signing log's store's health (Health, which the
// SQLite and PostgreSQL stores have): an error while it is known not to
// take writes.
func (g *Guard) logHealth() error {
	if h, ok := g.Log.(interface{ Health() error }); ok {
		return h.Health()
	}
	return nil
}

// checkHash refuses MD5 always and SHA-1 unless the caller allows it.
func checkHash(ctx context.Context, opts crypto.SignerOpts) error {
	switch h := opts.HashFunc(); h {
	case crypto.MD4, crypto.MD5, crypto.MD5SHA1:
		return fmt.Errorf("%v digests are not signed: use SHA-256 or stronger: %w", h, tokens.ErrWeakHash)
	case crypto.SHA1:
		if !tokens.CallerFrom(ctx).AllowSHA1 {
			return fmt.Errorf("SHA-1 digests are not signed (collisions can be forged): use SHA-256 or stronger: %w", tokens.ErrWeakHash)
		}
	}
	return nil
}

// oidPrivateKeyUsagePeriod is id-ce-privateKeyUsagePeriod (RFC 5280 4.2.1.4
// of RFC 3280).
var oidPrivateKeyUsagePeriod = asn1.ObjectIdentifier{2, 5, 29, 16}

type privateKeyUsagePeriod struct {
	NotBefore time.Time `asn1:"optional,tag:0,generalized"`
	NotAfter  time.Time `asn1:"optional,tag:1,generalized"`
}

// checkCert applies the certificate checks of p to the signer certificate
// of alias; a key without a certificate (a raw key of the vendor APIs)
// passes.
func (t *Token) checkCert(ctx context.Context, alias string, p Policy) error {
	if !p.CheckCertValidity && !p.CheckPrivateKeyValidity && p.MinRemaining <= 0 {
		return nil
	}
	now := t.g.now()
	t.mu.Lock()
	e, ok := t.certs[alias]
	t.mu.Unlock()
	if !ok || now.Sub(e.at) > certTTL || now.Before(e.at) {
		chain, err := t.inner.Chain(ctx, alias)
		if err != nil {
			return err
		}
		e = certEntry{at: now}
		if len(chain) > 0 {
			e.cert = chain[0]
		}
		t.mu.Lock()
		if t.certs == nil {
			t.certs = map[string]certEntry{}
		}
		t.certs[alias] = e
		t.mu.Unlock()
	}
	c := e.cert
	if c == nil {
		return nil
	}
	const layout = "2006-01-02 15:04:05 MST"
	if p.CheckCertValidity {
		if now.Before(c.NotBefore) {
			return fmt.Errorf("the certificate of key %q is not valid before %s (CHECKCERTVALIDITY): %w", alias, c.NotBefore.UTC().Format(layout), tokens.ErrCertificateValidity)
		}
		if now.After(c.NotAfter) {
			return fmt.Errorf("the certificate of key %q expired on %s (CHECKCERTVALIDITY): renew it: %w", alias, c.NotAfter.UTC().Format(layout), tokens.ErrCertificateValidity)
		}
	}
	if p.CheckPrivateKeyValidity {
		for _, ext := range c.Extensions {
			if !ext.Id.Equal(oidPrivateKeyUsagePeriod) {
				continue
			}
			var pkup privateKeyUsagePeriod
			if _, err := asn1.Unmarshal(ext.Value, &pkup); err != nil {
				return fmt.Errorf("the certificate of key %q has a malformed PrivateKeyUsagePeriod (CHECKCERTPRIVATEKEYVALIDITY): %w", alias, tokens.ErrCertificateValidity)
			}
			if !pkup.NotBefore.IsZero() && now.Before(pkup.NotBefore) {
				return fmt.Errorf("the private key %q may not sign before %s (PrivateKeyUsagePeriod, CHECKCERTPRIVATEKEYVALIDITY): %w", alias, pkup.NotBefore.UTC().Format(layout), tokens.ErrCertificateValidity)
			}
			if !pkup.NotAfter.IsZero() && now.After(pkup.NotAfter) {
				return fmt.Errorf("the private key %q may not sign after %s (PrivateKeyUsagePeriod, CHECKCERTPRIVATEKEYVALIDITY): %w", alias, pkup.NotAfter.UTC().Format(layout), tokens.ErrCertificateValidity)
			}
		}
	}
	if p.MinRemaining > 0 && c.NotAfter.Sub(now) < p.MinRemaining {
		return fmt.Errorf("the certificate of key %q expires on %s, within the %d days MINREMAININGCERTVALIDITY requires: renew it: %w", alias, c.NotAfter.UTC().Format(layout), int(p.MinRemaining/(24*time.Hour)), tokens.ErrCertificateValidity)
	}
	return nil
}

// keyID returns the usage counter key of pub: "sha256:" and the hex
// SHA-256 of its SubjectPublicKeyInfo.
func (t *Token) keyID(alias string, pub crypto.PublicKey) (string, error) {
	t.mu.Lock()
	k, ok := t.ids[alias]
	t.mu.Unlock()
	if eq, can := pub.(interface{ Equal(crypto.PublicKey) bool }); ok && can && eq.Equal(k.pub) {
		return k.id, nil
	}
	id, err := KeyID(pub)
	if err != nil {
		return "", fmt.Errorf("key %q: %w", alias, err)
	}
	t.mu.Lock()
	if t.ids == nil {
		t.ids = map[string]keyID{}
	}
	t.ids[alias] = keyID{pub: pub, id: id}
	t.mu.Unlock()
	return id, nil
}

// KeyID returns the usage counter key of a public key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("the public key cannot be encoded to count its usage: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// record writes one signing log record for a request of inputs. Its error
// says that a signature could not be recorded: the caller must not hand it
// out.
func (t *Token) record(ctx context.Context, alias string, pub crypto.PublicKey, inputs [][]byte, opts crypto.SignerOpts, err error) error {
	if t.g.Log == nil {
		return nil
	}
	c := tokens.CallerFrom(ctx)
	r := state.SignRecord{
		Surface: c.Surface, Key: t.inner.Name() + "/" + alias, User: c.User, Client: c.Client,
		RequestID: c.RequestID, Result: "ok",
	}
	if r.Surface == "" {
		r.Surface = "unknown"
	}
	if pub != nil {
		r.KeyID, _ = t.keyID(alias, pub)
	}
	h := opts.HashFunc()
	r.DigestAlg = h.String()
	if h == 0 {
		r.DigestAlg = "NONE"
	}
	r.Hashes = make([]string, len(inputs))
	if len(c.Documents) == len(inputs) && c.DocumentHash != 0 {
		// What a user searches by: the documents' digests, as they are.
		inputs, h, r.DigestAlg = c.Documents, c.DocumentHash, c.DocumentHash.String()
	}
	for i, in := range inputs {
		if h == 0 { // a whole message: its SHA-256 finds it
			sum := sha256.Sum256(in)
			in = sum[:]
		}
		r.Hashes[i] = hex.EncodeToString(in)
	}
	if err != nil {
		r.Result = "refused: " + err.Error()
		if len(inputs) > 1 {
			r.Result += " (" + strconv.Itoa(len(inputs)) + " items)"
		}
	}
	// The record is written even when the request was cancelled: a
	// signature may have left. A limited key waits for it; an unlimited
	// one waits at most recordWait (a cluster's database down must not
	// stall every signature), and a record that comes later or fails is
	// in the server log.
	done := make(chan error, 1)
	go func() {
		_, err := t.g.Log.Record(context.WithoutCancel(ctx), r)
		done <- err
	}()
	var lerr error
	if t.policy(alias).UsageLimit >= 0 {
		lerr = <-done
	} else {
		select {
		case lerr = <-done:
		case <-time.After(recordWait):
			go func() {
				if err := <-done; err != nil {
					t.g.logger().Error("signing log record not stored", "error", err, "key", r.Key, "requestId", r.RequestID, "hashes", strings.Join(r.Hashes, ","))
				}
			}()
			return nil
		}
	}
	if lerr != nil {
		// A limited key does not sign unrecorded. An unlimited one keeps
		// signing while the state is unreachable (a cluster whose database
		// is down), its record written whole to the server log instead.
		t.g.logger().Error("signing log record not stored; it is here", "error", lerr, "time", r.Time, "surface", r.Surface,
			"key", r.Key, "keyId", r.KeyID, "user", r.User, "client", r.Client, "requestId", r.RequestID,
			"digestAlg", r.DigestAlg, "hashes", strings.Join(r.Hashes, ","), "result", r.Result)
		if t.policy(alias).UsageLimit >= 0 {
			return &stateError{tokens.ErrNotRecorded, lerr}
		}
	}
	return nil
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

// signer is a guarded crypto.Signer; Sign uses the context of the Signer
// call, SignContext the one it is given.
type signer struct {
	t     *Token
	alias string
	inner crypto.Signer
	ctx   context.Context
}

var _ tokens.ContextSigner = (*signer)(nil)

func (s *signer) Public() crypto.PublicKey { return s.inner.Public() }

func (s *signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(s.ctx, r, digest, opts)
}

func (s *signer) SignContext(ctx context.Context, r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	in := [][]byte{digest}
	if err := s.t.admit(ctx, s.alias, s.inner.Public(), 1, opts); err != nil {
		s.t.record(ctx, s.alias, s.inner.Public(), in, opts, err)
		return nil, err
	}
	if r == nil {
		r = rand.Reader
	}
	sig, err := s.inner.Sign(r, digest, opts)
	if lerr := s.t.record(ctx, s.alias, s.inner.Public(), in, opts, err); lerr != nil && err == nil {
		return nil, lerr
	}
	return sig, err
}

// Usage returns the signatures counted for the key alias and its
// KEYUSAGELIMIT (-1 for none); counted is false when the key is not
// counted (no counters, DISABLEKEYUSAGECOUNTER) or cannot be read now.
func (t *Token) Usage(ctx context.Context, alias string) (used, limit int64, counted bool) {
	p := t.policy(alias)
	if t.g.Counters == nil || p.NoCount {
		return 0, p.UsageLimit, false
	}
	n, err := t.Count(ctx, alias)
	if err != nil {
		return 0, p.UsageLimit, false
	}
	return n, p.UsageLimit, true
}
