// Package nethsm is a Signet crypto token backed by a Nitrokey NetHSM (or any
// server of the NetHSM REST API, such as Signet's own web/nethsm), signing
// through POST /api/v1/keys/{KeyID}/sign.
//
// The NetHSM signs one message per request and has no batch API, so the
// token does not implement tokens.BatchSigner: tokens.SignAll signs item by
// item on Parallelism() goroutines, each using one of at most PoolSize
// keep-alive connections. Key aliases are NetHSM key IDs.
//
// The token is Offline, with the reason, while the NetHSM is unreachable,
// not Operational, or refuses the credentials; Status and Signer probe it
// again at most once per ProbeInterval, so the token recovers on its own.
package nethsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
)

// DefaultPoolSize is the number of connections when Options.PoolSize is
// zero, the schema's POOLSIZE default for nethsm tokens (a test of
// internal/server holds them equal); Timeout and ProbeInterval default to
// those of every remote token, 30 s and 5 s.
const DefaultPoolSize = 16

// Options configure a NetHSM token.
type Options struct {
	// Name is the token's configured name.
	Name string
	// URL is the NetHSM's address, "https://host[:port]"; the API path
	// /api/v1 is added unless the URL already ends with it.
	URL string
	// User is the NetHSM user (an Operator; "namespace~user" for a
	// namespaced user). Passphrase is its passphrase, the token's secret;
	// when it is empty the token waits for Activate.
	User, Passphrase string
	// KeyIDs restricts the token to these NetHSM keys; empty means every key
	// GET /keys lists.
	KeyIDs []string
	// CABundle is a PEM file (or PEM text) of the CA certificates that
	// issued the NetHSM's TLS certificate; empty means the system roots.
	CABundle string
	// Timeout bounds each HTTP request (30 s when zero).
	Timeout time.Duration
	// PoolSize is the number of connections, and so of signatures in
	// flight (DefaultPoolSize when zero).
	PoolSize int
	// ProbeInterval is the shortest time between two probes of a NetHSM
	// (5 s when zero).
	ProbeInterval time.Duration
	// Now is the clock of the probe interval and the certificate cache;
	// time.Now when nil.
	Now func() time.Time
	// HTTPClient replaces the client the token makes; CABundle and the
	// connection limit are then the caller's business.
	HTTPClient *http.Client
}

// Token is a NetHSM crypto token. It is safe for concurrent use.
type Token struct {
	name   string
	user   string
	keyIDs []string
	pool   int
	api    remote.Client
	health remote.Health
	now    func() time.Time

	mu        sync.Mutex
	basic     string // the Authorization header of user and passphrase
	publicKey map[string]crypto.PublicKey
	chains    remote.ChainCache
}

var (
	_ tokens.Token        = (*Token)(nil)
	_ tokens.Parallelizer = (*Token)(nil)
	_ tokens.Remote       = (*Token)(nil)
)

const notActivated = "not activated: activate the token with the NetHSM operator passphrase"

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func validID(id string) bool { return len(id) <= 128 && idPattern.MatchString(id) }

// New returns a token for the NetHSM at opts.URL. It does not contact the
// NetHSM: the first Status or Signer call does.
func New(opts Options) (*Token, error) {
	if opts.Name == "" {
		return nil, errors.New("nethsm token: set a name")
	}
	prefix := "nethsm token " + opts.Name
	u, err := remote.ParseURL(opts.URL, "put the user and passphrase in their own settings, not in the URL")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	if opts.User == "" {
		return nil, fmt.Errorf("%s: set the NetHSM operator user", prefix)
	}
	for _, id := range opts.KeyIDs {
		if !validID(id) {
			return nil, fmt.Errorf("%s: %q is not a NetHSM key ID (letters, digits, '_', '.', '-')", prefix, id)
		}
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/api/v1") {
		path += "/api/v1"
	}
	u.Path, u.RawPath = path, ""
	t := &Token{
		name:      opts.Name,
		user:      opts.User,
		keyIDs:    slices.Clone(opts.KeyIDs),
		pool:      remote.OrDefault(opts.PoolSize, DefaultPoolSize),
		health:    remote.Health{Prefix: prefix, Every: remote.OrDefault(opts.ProbeInterval, remote.DefaultProbeInterval)},
		now:       opts.Now,
		basic:     basicAuth(opts.User, opts.Passphrase),
		publicKey: map[string]crypto.PublicKey{},
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.health.Now = t.now
	t.api = remote.Client{
		Server:  "NetHSM",
		Base:    u.String(),
		HTTP:    opts.HTTPClient,
		Timeout: remote.OrDefault(opts.Timeout, remote.DefaultTimeout),
		MaxBody: maxBody,
		Health:  &t.health,
	}
	reason := "not contacted yet"
	if opts.Passphrase == "" {
		reason = notActivated
	}
	t.health.Reset(opts.Passphrase != "", tokens.Status{State: tokens.Offline, Reason: reason})
	if t.api.HTTP == nil {
		tr, err := remote.NewTransport(opts.CABundle, t.pool)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		tr.MaxConnsPerHost = t.pool
		t.api.HTTP = &http.Client{Transport: tr}
	}
	t.api.HTTP = remote.NoRedirects(t.api.HTTP)
	return t, nil
}

// Name returns the token's configured name.
func (t *Token) Name() string { return t.name }

// Endpoint returns the NetHSM's API address: the token's keys are served
// there.
func (t *Token) Endpoint() string { return t.api.Base }

// Parallelism reports the connection pool size: how many signatures
// tokens.SignAll asks for at once.
func (t *Token) Parallelism() int { return t.pool }

// Status reports whether the token can sign. The NetHSM is probed again
// when the last probe is older than ProbeInterval, whether the token is
// Active or not, so that health reports follow the NetHSM.
func (t *Token) Status(ctx context.Context) tokens.Status {
	return t.health.Status(ctx, t.probe)
}

// Activate sets the operator passphrase and checks it against the NetHSM.
// A passphrase the NetHSM refuses is ErrBadPIN and is forgotten; an
// unreachable NetHSM is ErrOffline, and the passphrase is kept so that the
// token becomes Active when the NetHSM comes back.
func (t *Token) Activate(ctx context.Context, pin string) error {
	if pin == "" {
		return fmt.Errorf("nethsm token %s: the passphrase is empty: %w", t.name, tokens.ErrNoPIN)
	}
	t.mu.Lock()
	oldBasic := t.basic
	t.mu.Unlock()
	_, oldStatus := t.health.Current()
	t.setPass(pin, tokens.Status{State: tokens.Offline, Reason: "not contacted yet"})
	err := t.probe(ctx)
	var ae *remote.AuthError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		if oldBasic != "" && oldBasic != basicAuth(t.user, pin) {
			// A refused passphrase changes nothing: the token keeps the
			// one it worked with, so that a typo does not take it Offline.
			t.restorePass(oldBasic, oldStatus)
		} else {
			// Not notActivated alone: a configured passphrase that the
			// NetHSM refused at start read as one never given.
			t.setPass("", tokens.Status{State: tokens.Offline, Reason: "the NetHSM refused the passphrase of user " + t.user + ": activate the token with the operator passphrase"})
		}
		return fmt.Errorf("nethsm token %s: the NetHSM refused user %s: %w", t.name, t.user, tokens.ErrBadPIN)
	}
	return err
}

// setPass sets the passphrase (none when empty) and the status, and drops
// what the token knew of keys and chains.
func (t *Token) setPass(pass string, st tokens.Status) { t.restorePass(basicAuth(t.user, pass), st) }

// restorePass sets the Authorization header basic of a passphrase (none
// when empty), as setPass does: Activate puts back the one the token
// worked with after the NetHSM refused another.
func (t *Token) restorePass(basic string, st tokens.Status) {
	t.mu.Lock()
	t.basic = basic
	t.publicKey = map[string]crypto.PublicKey{}
	t.health.Reset(basic != "", st)
	t.mu.Unlock()
	t.chains.Forget()
}

// Deactivate forgets the passphrase and closes idle connections; the token
// is Offline until activated again.
func (t *Token) Deactivate(context.Context) error {
	t.setPass("", tokens.Status{State: tokens.Offline, Reason: "deactivated"})
	t.api.HTTP.CloseIdleConnections()
	return nil
}

var _ tokens.Closer = (*Token)(nil)

// Close is Deactivate (tokens.Closer): a reload that drops the token, or
// shutdown, forgets its passphrase and closes its connections.
func (t *Token) Close() error { return t.Deactivate(context.Background()) }

// probe asks the NetHSM for its state (/health/state, public) and, when it is
// Operational, checks the credentials with GET /keys. It records and returns
// the outcome. Concurrent callers do not probe twice.
func (t *Token) probe(ctx context.Context) error {
	if !t.health.Activated() {
		return fmt.Errorf("nethsm token %s: %s: %w", t.name, notActivated, tokens.ErrOffline)
	}
	end, current := t.health.BeginProbe()
	if end == nil {
		return current
	}
	defer end()
	body, err := t.get(ctx, "/health/state", "application/json", false)
	if err != nil {
		return err
	}
	state, ok := parseState(body)
	if !ok {
		return t.health.Offline(fmt.Sprintf("the NetHSM at %s answered /health/state with something that is not a NetHSM state", t.api.Base))
	}
	if state != "Operational" {
		return t.health.Offline(fmt.Sprintf("the NetHSM at %s is %s, not Operational: unlock it", t.api.Base, state))
	}
	if _, err := t.get(ctx, "/keys", "application/json", true); err != nil {
		return err
	}
	t.health.Active()
	return nil
}

// ready returns nil when the token may send requests, probing a token that
// is not Active when a probe is due.
func (t *Token) ready(ctx context.Context) error {
	return t.health.Ready(ctx, notActivated, t.probe)
}

func (t *Token) checkAlias(alias string) error {
	if !validID(alias) || (len(t.keyIDs) > 0 && !slices.Contains(t.keyIDs, alias)) {
		return fmt.Errorf("nethsm token %s: no key %q: %w", t.name, alias, tokens.ErrKeyNotFound)
	}
	return nil
}

// Signer returns a crypto.Signer for the NetHSM key with ID alias. Its Sign
// calls use ctx: once ctx is done they fail.
func (t *Token) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	if err := t.checkAlias(alias); err != nil {
		return nil, err
	}
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	pub, err := t.public(ctx, alias)
	if err != nil {
		return nil, err
	}
	return &signer{t: t, ctx: ctx, id: alias, pub: pub}, nil
}

// public returns the key's public key from /keys/{id}/public.pem, cached.
func (t *Token) public(ctx context.Context, id string) (crypto.PublicKey, error) {
	t.mu.Lock()
	pub, ok := t.publicKey[id]
	t.mu.Unlock()
	if ok {
		return pub, nil
	}
	body, err := t.get(ctx, "/keys/"+id+"/public.pem", "application/x-pem-file", true)
	if err != nil {
		return nil, t.keyErr(id, err)
	}
	if pub, err = parsePublicPEM(body); err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: %w", t.name, id, err)
	}
	t.mu.Lock()
	t.publicKey[id] = pub
	t.mu.Unlock()
	return pub, nil
}

// forgetPublic drops the cached public key of id.
func (t *Token) forgetPublic(id string) {
	t.mu.Lock()
	delete(t.publicKey, id)
	t.mu.Unlock()
}

func (t *Token) keyErr(id string, err error) error {
	if remote.IsStatus(err, http.StatusNotFound) {
		t.forgetPublic(id)
		return fmt.Errorf("nethsm token %s: no key %q on the NetHSM: %w", t.name, id, tokens.ErrKeyNotFound)
	}
	return err
}

// Chain returns the certificates stored for the key (GET /keys/{id}/cert),
// PEM or DER, signer first; a key without a certificate has an empty chain.
// A chain is read again at most every remote.DefaultChainTTL, and the same
// certificates keep the same *x509.Certificate values.
func (t *Token) Chain(ctx context.Context, alias string) ([]*x509.Certificate, error) {
	if err := t.checkAlias(alias); err != nil {
		return nil, err
	}
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	if chain, ok := t.chains.Get(alias, t.now()); ok {
		return chain, nil
	}
	body, err := t.get(ctx, "/keys/"+alias+"/cert", "application/octet-stream", true)
	if remote.IsStatus(err, http.StatusNotFound) {
		// 404 is both "no key" and "no certificate"; tell them apart.
		if _, kerr := t.get(ctx, "/keys/"+alias, "application/json", true); kerr != nil {
			return nil, t.keyErr(alias, kerr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	certs, err := remote.ParseCerts(body)
	if err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: certificate: %w", t.name, alias, err)
	}
	return t.chains.Put(alias, certs, t.now()), nil
}

// keyData is the part of the PublicKey schema the token reads.
type keyData struct {
	Type   string `json:"type"`
	Public struct {
		Modulus string `json:"modulus"`
	} `json:"public"`
}

var keyTypes = map[string]tokens.KeyInfo{
	"EC_P256":    {Algorithm: "ECDSA", Bits: 256, Curve: "P-256"},
	"EC_P384":    {Algorithm: "ECDSA", Bits: 384, Curve: "P-384"},
	"EC_P521":    {Algorithm: "ECDSA", Bits: 521, Curve: "P-521"},
	"Curve25519": {Algorithm: "Ed25519", Bits: 256},
}

// Keys lists the NetHSM keys the token uses that can sign: KeyIDs, or all
// keys when KeyIDs is empty. Keys of types Signet cannot use (Generic, other
// curves) are left out.
func (t *Token) Keys(ctx context.Context) ([]tokens.KeyInfo, error) {
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	ids := t.keyIDs
	if len(ids) == 0 {
		body, err := t.get(ctx, "/keys", "application/json", true)
		if err != nil {
			return nil, err
		}
		if ids, err = parseKeyIDs(body); err != nil {
			return nil, fmt.Errorf("nethsm token %s: key list: %w", t.name, err)
		}
	}
	var out []tokens.KeyInfo
	for _, id := range ids {
		if !validID(id) {
			continue
		}
		body, err := t.get(ctx, "/keys/"+id, "application/json", true)
		if err != nil {
			return nil, t.keyErr(id, err)
		}
		info, ok, err := parseKeyInfo(body)
		if err != nil {
			return nil, fmt.Errorf("nethsm token %s: key %s: %w", t.name, id, err)
		}
		if !ok {
			continue
		}
		info.Alias = id
		chain, err := t.Chain(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(chain) > 0 {
			info.HasChain, info.NotAfter = true, chain[0].NotAfter
		}
		out = append(out, info)
	}
	return out, nil
}

const maxBody = 1 << 20

// basicAuth is the HTTP basic Authorization header of user and pass, made
// once per passphrase rather than for every request; none without a
// passphrase.
func basicAuth(user, pass string) string {
	if pass == "" {
		return ""
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// get sends a GET, retried on network errors and 502/503/504 answers.
func (t *Token) get(ctx context.Context, path, accept string, auth bool) ([]byte, error) {
	return t.do(ctx, http.MethodGet, path, accept, nil, auth)
}

// do sends one API request and returns the body of a 2xx answer. Errors that
// make the token unusable (unreachable, not Operational, credentials refused)
// set it Offline and wrap ErrOffline.
func (t *Token) do(ctx context.Context, method, path, accept string, body []byte, auth bool) ([]byte, error) {
	req := remote.Request{Method: method, Path: path, Accept: accept, Body: body, Idempotent: method == http.MethodGet}
	if auth {
		t.mu.Lock()
		req.Authorization = t.basic
		t.mu.Unlock()
		if req.Authorization == "" {
			// Deactivated (or closed) since the caller got ready, as a
			// signer held across Deactivate is: the NetHSM would count
			// the empty passphrase as a failed login of the user.
			return nil, fmt.Errorf("nethsm token %s: %s: %w", t.name, notActivated, tokens.ErrOffline)
		}
	}
	status, respBody, err := t.api.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	if status/100 == 2 {
		return respBody, nil
	}
	he := t.api.Error(status, respBody)
	switch status {
	case http.StatusUnauthorized:
		err := t.health.Offline(fmt.Sprintf("the NetHSM refused user %s: check the user name and passphrase", t.user))
		return nil, fmt.Errorf("%w (%w)", err, &remote.AuthError{HTTPError: *he})
	case http.StatusForbidden:
		err := t.health.Offline(fmt.Sprintf("NetHSM user %s may not do this: it needs the Operator role", t.user))
		return nil, fmt.Errorf("%w (%w)", err, &remote.AuthError{HTTPError: *he})
	case http.StatusPreconditionFailed:
		return nil, fmt.Errorf("%w (%w)", t.health.Offline(fmt.Sprintf("the NetHSM at %s is not Operational: unlock it", t.api.Base)), he)
	}
	return nil, fmt.Errorf("nethsm token %s: %s %s: %w", t.name, method, path, he)
}

// parseState reads the NetHSM's answer to GET /health/state.
func parseState(body []byte) (string, bool) {
	var hs struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &hs); err != nil || hs.State == "" {
		return "", false
	}
	return hs.State, true
}

// parsePublicPEM reads the NetHSM's answer to GET /keys/{id}/public.pem.
func parsePublicPEM(body []byte) (crypto.PublicKey, error) {
	p, _ := pem.Decode(body)
	if p == nil || p.Type != "PUBLIC KEY" {
		return nil, errors.New("the NetHSM sent no PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pub, nil
}

// parseKeyIDs reads the NetHSM's answer to GET /keys: the key IDs.
func parseKeyIDs(body []byte) ([]string, error) {
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(list))
	for _, k := range list {
		ids = append(ids, k.ID)
	}
	return ids, nil
}

// parseKeyInfo reads the NetHSM's answer to GET /keys/{id}: the key's
// algorithm and size; ok is false for a type Signet cannot sign with.
func parseKeyInfo(body []byte) (info tokens.KeyInfo, ok bool, err error) {
	var kd keyData
	if err := json.Unmarshal(body, &kd); err != nil {
		return info, false, err
	}
	if kd.Type != "RSA" {
		info, ok = keyTypes[kd.Type]
		return info, ok, nil
	}
	n, err := decodeB64(kd.Public.Modulus)
	for err == nil && len(n) > 0 && n[0] == 0 {
		n = n[1:]
	}
	if err != nil || len(n) == 0 { // FuzzReplies: a zero modulus was a 0-bit RSA key
		return info, false, errors.New("bad RSA modulus")
	}
	return tokens.KeyInfo{Algorithm: "RSA", Bits: len(n) * 8}, true, nil
}
