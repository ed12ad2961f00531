// Package dsm is a Signet crypto token backed by Fortanix Data Security
// Manager (DSM), or any server of its REST API such as Signet's own web/dsm,
// signing through POST /crypto/v1/keys/batch/sign.
//
// The token implements tokens.BatchSigner: tokens.SignAll hands it every
// digest at once, and it sends them in batches of at most MaxBatchSize
// items, Parallelism batches in flight, reassembling the results in order.
// Each item fails alone: the DSM's per-item status becomes that item's
// tokens.Result.Err (400: tokens.ErrUnsupported, 403: ErrForbidden, 404:
// tokens.ErrKeyNotFound, 503: tokens.ErrOffline).
//
// Aliases are DSM key names. The token authenticates with an API key (app
// ID and secret, or DSM's base64 form of them) at /sys/v1/session/auth and
// signs with the bearer token it gets, renewed before it expires.
//
// A DSM key has no certificate on the API: the chain of an alias is read
// from a PEM file, Options.Chains[alias] or <ChainDir>/<alias>.pem, signer
// first; without one the key has an empty chain.
//
// The token is Offline, with the reason, while the DSM is unreachable or
// refuses the API key; Status and the signing calls probe it again at most
// once per ProbeInterval, so the token recovers on its own. Safe requests
// (authentication, key listing, health) are retried on network errors and
// 502/503/504 answers; a batch sign is retried only when no connection was
// made, so nothing is ever signed twice.
package dsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
)

// Batching defaults for Options (Timeout and ProbeInterval default to
// those of every remote token, 30 s and 5 s). They repeat the schema's
// MAX_BATCH_SIZE and POOLSIZE defaults of DSM tokens, which configured tokens
// get, for callers that construct a token themselves; a test in
// internal/server holds them equal.
const (
	DefaultMaxBatchSize = 100
	DefaultParallelism  = 8
)

// ErrForbidden reports that the DSM does not let the token's app use a key.
var ErrForbidden = errors.New("the DSM app may not use this key")

// Options configure a DSM token.
type Options struct {
	// Name is the token's configured name.
	Name string
	// URL is the DSM's address, "https://host[:port]", such as
	// https://amer.smartkey.io.
	URL string
	// APIKey is the app's API key: "app-id:secret", or the base64 form of
	// it that the DSM console shows. When empty the token waits for
	// Activate with the API key as PIN.
	APIKey string
	// User is the app ID. When it is set, the API key (APIKey or the PIN)
	// may be the secret alone.
	User string
	// CABundle is a PEM file (or PEM text) of the CA certificates that
	// issued the DSM's TLS certificate; empty means the system roots.
	CABundle string
	// Timeout bounds each HTTP request (30 s when zero).
	Timeout time.Duration
	// MaxBatchSize is the most items one batch sign request carries
	// (DefaultMaxBatchSize when zero).
	MaxBatchSize int
	// Parallelism is how many batch requests one SignBatch sends at once
	// (DefaultParallelism when zero).
	Parallelism int
	// ProbeInterval is the shortest time between two probes of the DSM
	// (5 s when zero).
	ProbeInterval time.Duration
	// HTTPClient replaces the client the token makes; CABundle is then the
	// caller's business.
	HTTPClient *http.Client
	// Chains maps an alias to the PEM file of its certificate chain,
	// signer first.
	Chains map[string]string
	// ChainDir is a folder of chain files named <alias>.pem, used for the
	// aliases that Chains does not name.
	ChainDir string
	// Now is the clock bearer tokens expire by and probes are due by;
	// time.Now when nil.
	Now func() time.Time
}

// Token is a Fortanix DSM crypto token. It is safe for concurrent use.
type Token struct {
	name       string
	maxBatch   int
	parallel   int
	chains     map[string]string
	chainDir   string
	now        func() time.Time
	configured string // Options.APIKey
	appID      string // Options.User
	api        remote.Client
	health     remote.Health

	// auth lets one session request run at a time; the others wait for
	// it as long as their context allows (a mutex kept them waiting on a
	// DSM that does not answer past their deadline).
	auth chan struct{}

	mu      sync.Mutex
	user    string
	secret  string // empty: no API key
	bearer  string
	renewAt time.Time
	keys    map[string]keyEntry // by name
	cache   remote.ChainCache
}

var (
	_ tokens.Token       = (*Token)(nil)
	_ tokens.BatchSigner = (*Token)(nil)
	_ tokens.Remote      = (*Token)(nil)
)

// keyEntry is what the token knows of a DSM key.
type keyEntry struct {
	kid string
	pub crypto.PublicKey
}

const notActivated = "not activated: activate the token with the DSM API key"

// parseAPIKey splits an API key into app ID and secret.
func parseAPIKey(k string) (user, secret string, err error) {
	k = strings.TrimSpace(k)
	if u, s, ok := strings.Cut(k, ":"); ok && u != "" && s != "" {
		return u, s, nil
	}
	if raw, err := base64.StdEncoding.DecodeString(k); err == nil {
		if u, s, ok := strings.Cut(string(raw), ":"); ok && u != "" && s != "" {
			return u, s, nil
		}
	}
	return "", "", errors.New("the API key must be app-id:secret or the base64 API key of the DSM console")
}

// parseAPIKey splits an API key into app ID and secret; with a configured
// app ID, a key that does not start with "<app ID>:" is the secret alone.
func (t *Token) parseAPIKey(k string) (user, secret string, err error) {
	if t.appID == "" {
		return parseAPIKey(k)
	}
	k = strings.TrimSpace(k)
	if k == "" {
		return "", "", errors.New("the API key secret is empty")
	}
	return t.appID, strings.TrimPrefix(k, t.appID+":"), nil
}

// New returns a token for the DSM at opts.URL. It does not contact the DSM:
// the first Status or signing call does.
func New(opts Options) (*Token, error) {
	if opts.Name == "" {
		return nil, errors.New("dsm token: set a name")
	}
	u, err := remote.ParseURL(opts.URL, "put the API key in its own setting")
	if err != nil {
		return nil, fmt.Errorf("dsm token %s: %w", opts.Name, err)
	}
	prefix := "dsm token " + opts.Name
	t := &Token{
		name:       opts.Name,
		maxBatch:   remote.OrDefault(opts.MaxBatchSize, DefaultMaxBatchSize),
		parallel:   remote.OrDefault(opts.Parallelism, DefaultParallelism),
		chains:     opts.Chains,
		chainDir:   opts.ChainDir,
		now:        opts.Now,
		configured: opts.APIKey,
		appID:      opts.User,
		health:     remote.Health{Prefix: prefix, Every: remote.OrDefault(opts.ProbeInterval, remote.DefaultProbeInterval)},
		keys:       map[string]keyEntry{},
		auth:       make(chan struct{}, 1),
	}
	t.api = remote.Client{
		Server:  "DSM",
		Base:    strings.TrimSuffix(u.String(), "/"),
		HTTP:    opts.HTTPClient,
		Timeout: remote.OrDefault(opts.Timeout, remote.DefaultTimeout),
		MaxBody: maxBody,
		Health:  &t.health,
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.health.Now = t.now
	reason := notActivated
	if opts.APIKey != "" {
		if t.user, t.secret, err = t.parseAPIKey(opts.APIKey); err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		reason = "not contacted yet"
	}
	t.health.Reset(t.secret != "", tokens.Status{State: tokens.Offline, Reason: reason})
	if t.api.HTTP == nil {
		tr, err := remote.NewTransport(opts.CABundle, t.parallel)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix, err)
		}
		t.api.HTTP = &http.Client{Transport: tr}
	}
	t.api.HTTP = remote.NoRedirects(t.api.HTTP)
	return t, nil
}

// Name returns the token's configured name.
func (t *Token) Name() string { return t.name }

// Endpoint returns the DSM's address: the token's keys are served there.
func (t *Token) Endpoint() string { return t.api.Base }

// Status reports whether the token can sign. The DSM is probed again when
// the last probe is older than ProbeInterval, whether the token is Active or
// not, so that health reports follow the DSM.
func (t *Token) Status(ctx context.Context) tokens.Status {
	return t.health.Status(ctx, t.probe)
}

// probe checks that the DSM answers and takes the API key: it gets a
// bearer token when it has none and asks /sys/v1/health.
func (t *Token) probe(ctx context.Context) error {
	end, current := t.health.BeginProbe()
	if end == nil {
		return current
	}
	defer end()
	if _, err := t.authorization(ctx); err != nil {
		return err
	}
	status, body, err := t.api.Send(ctx, t.req(http.MethodGet, "/sys/v1/health", nil, "", true))
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return t.health.Offline(fmt.Sprintf("the DSM at %s is not healthy (%v)", t.api.Base, t.api.Error(status, body)))
	}
	t.health.Active()
	return nil
}

// ready returns nil when the token may send requests, probing a token that
// is not Active when a probe is due.
func (t *Token) ready(ctx context.Context) error {
	return t.health.Ready(ctx, notActivated, t.probe)
}

// req makes a DSM API request.
func (t *Token) req(method, path string, body []byte, authz string, idempotent bool) remote.Request {
	return remote.Request{Method: method, Path: path, Accept: "application/json", Authorization: authz, Body: body, Idempotent: idempotent}
}

// Activate sets the API key (pin; the configured APIKey when pin is empty)
// and checks it against the DSM. A key the DSM refuses is ErrBadPIN and is
// forgotten; no key given and none configured is ErrNoPIN; an unreachable
// DSM is ErrOffline, and the key is kept so that the token becomes Active
// when the DSM comes back.
func (t *Token) Activate(ctx context.Context, pin string) error {
	if pin == "" {
		if t.configured == "" {
			return fmt.Errorf("dsm token %s: no API key was given and none is configured: %w", t.name, tokens.ErrNoPIN)
		}
		pin = t.configured
	}
	user, secret, err := t.parseAPIKey(pin)
	if err != nil {
		return fmt.Errorf("dsm token %s: %w: %w", t.name, err, tokens.ErrBadPIN)
	}
	t.mu.Lock()
	oldUser, oldSecret := t.user, t.secret
	t.mu.Unlock()
	_, oldStatus := t.health.Current()
	t.setKey(user, secret, tokens.Status{State: tokens.Offline, Reason: "not contacted yet"})
	err = t.probe(ctx)
	var ae *remote.AuthError
	if errors.As(err, &ae) {
		if oldSecret != "" && (oldUser != user || oldSecret != secret) {
			// A refused key changes nothing: the token keeps the key it
			// worked with, so that a typo does not take it Offline.
			t.setKey(oldUser, oldSecret, oldStatus)
		} else {
			// Not notActivated alone: a configured key that the DSM
			// refused at start read as a key never given.
			t.setKey("", "", tokens.Status{State: tokens.Offline, Reason: "the DSM refused the API key of app " + user + ": activate the token with a valid DSM API key"})
		}
		return fmt.Errorf("dsm token %s: the DSM refused the API key of app %s: %w", t.name, user, tokens.ErrBadPIN)
	}
	return err
}

// setKey sets the API key (none when secret is empty) and the status, and
// drops the session and what the token knew of keys and chains.
func (t *Token) setKey(user, secret string, st tokens.Status) {
	t.mu.Lock()
	t.user, t.secret = user, secret
	t.bearer, t.renewAt = "", time.Time{}
	t.keys = map[string]keyEntry{}
	t.health.Reset(secret != "", st)
	t.mu.Unlock()
	t.cache.Forget()
}

// Deactivate ends the DSM session, forgets the API key and closes idle
// connections; the token is Offline until activated again.
func (t *Token) Deactivate(ctx context.Context) error {
	t.mu.Lock()
	bearer := t.bearer
	t.mu.Unlock()
	if bearer != "" {
		// Best effort: an unreachable DSM expires the session by itself.
		t.api.Send(ctx, t.req(http.MethodPost, "/sys/v1/session/terminate", nil, "Bearer "+bearer, false))
	}
	t.setKey("", "", tokens.Status{State: tokens.Offline, Reason: "deactivated"})
	t.api.HTTP.CloseIdleConnections()
	return nil
}

var _ tokens.Closer = (*Token)(nil)

// Close is Deactivate, bounded in time (tokens.Closer): a reload that drops
// the token, or shutdown, ends its DSM session and closes its connections.
func (t *Token) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.Deactivate(ctx)
}

// authorization returns the Authorization header value of a bearer token
// valid now, getting a new one from /sys/v1/session/auth when there is none
// or it is due for renewal.
func (t *Token) authorization(ctx context.Context) (string, error) {
	valid := func() (string, bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.bearer != "" && t.now().Before(t.renewAt) {
			return "Bearer " + t.bearer, true
		}
		return "", false
	}
	if h, ok := valid(); ok {
		return h, nil
	}
	select {
	case t.auth <- struct{}{}:
		defer func() { <-t.auth }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if h, ok := valid(); ok { // another goroutine renewed it meanwhile
		return h, nil
	}
	t.mu.Lock()
	user, secret := t.user, t.secret
	t.mu.Unlock()
	if secret == "" {
		return "", fmt.Errorf("dsm token %s: %s: %w", t.name, notActivated, tokens.ErrOffline)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	status, body, err := t.api.Send(ctx, t.req(http.MethodPost, "/sys/v1/session/auth", nil, basic, true))
	if err != nil {
		return "", err
	}
	he := t.api.Error(status, body)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		err := t.health.Offline(fmt.Sprintf("the DSM refused the API key of app %s: check it", user))
		return "", fmt.Errorf("%w (%w)", err, &remote.AuthError{HTTPError: *he})
	case status != http.StatusOK:
		return "", fmt.Errorf("dsm token %s: session auth: %w", t.name, he)
	}
	bearer, life, ok := parseSession(body)
	if !ok {
		return "", fmt.Errorf("dsm token %s: the session auth answer has no bearer token", t.name)
	}
	// Renew before the DSM would refuse the token: a fifth of its life
	// early, at most a minute.
	margin := min(life/5, time.Minute)
	t.mu.Lock()
	t.bearer, t.renewAt = bearer, t.now().Add(life-margin)
	t.mu.Unlock()
	return "Bearer " + bearer, nil
}

// parseSession reads the DSM's session auth answer: a bearer token and its
// life (a minute when the answer gives none, at most maxSessionLife). ok is
// false when the answer has no bearer token.
func parseSession(body []byte) (bearer string, life time.Duration, ok bool) {
	var a struct {
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" || !strings.EqualFold(a.TokenType, "Bearer") {
		return "", 0, false
	}
	switch {
	case a.ExpiresIn <= 0:
		life = time.Minute
	case a.ExpiresIn > int64(maxSessionLife/time.Second):
		life = maxSessionLife
	default:
		life = time.Duration(a.ExpiresIn) * time.Second
	}
	return a.AccessToken, life, true
}

// maxSessionLife bounds the life a DSM answer may claim for its bearer
// token: a larger expires_in would overflow time.Duration.
const maxSessionLife = 30 * 24 * time.Hour

// dropBearer forgets the bearer token of authz if it is still the current
// one (the DSM refused it).
func (t *Token) dropBearer(authz string) {
	t.mu.Lock()
	if "Bearer "+t.bearer == authz {
		t.bearer, t.renewAt = "", time.Time{}
	}
	t.mu.Unlock()
}

const maxBody = 64 << 20

// request sends an authenticated API request and returns the body of a 2xx
// answer. A 401 (the DSM forgot the session) gets a new bearer token and one
// more try: the DSM refused the request before doing anything.
func (t *Token) request(ctx context.Context, method, path string, body []byte, idempotent bool) ([]byte, error) {
	for try := 0; ; try++ {
		authz, err := t.authorization(ctx)
		if err != nil {
			return nil, err
		}
		status, resp, err := t.api.Send(ctx, t.req(method, path, body, authz, idempotent))
		if err != nil {
			return nil, err
		}
		if status == http.StatusUnauthorized && try == 0 {
			t.dropBearer(authz)
			continue
		}
		if status/100 == 2 {
			t.health.Active()
			return resp, nil
		}
		he := t.api.Error(status, resp)
		if status == http.StatusUnauthorized {
			err := t.health.Offline("the DSM refused the session of the API key: check the app")
			return nil, fmt.Errorf("%w (%w)", err, &remote.AuthError{HTTPError: *he})
		}
		return nil, fmt.Errorf("dsm token %s: %s %s: %w", t.name, method, path, he)
	}
}

// sobject is the part of DSM's Sobject schema the token reads.
type sobject struct {
	Kid           string `json:"kid"`
	Name          string `json:"name"`
	ObjType       string `json:"obj_type"`
	KeySize       int    `json:"key_size"`
	EllipticCurve string `json:"elliptic_curve"`
	PubKey        string `json:"pub_key"`
}

// curves maps DSM EllipticCurve names to Go's.
var curves = map[string]string{"NistP256": "P-256", "NistP384": "P-384", "NistP521": "P-521"}

// info describes o for Keys; ok is false for keys Signet cannot sign with.
func (o sobject) info() (tokens.KeyInfo, bool) {
	switch {
	case o.ObjType == "RSA":
		return tokens.KeyInfo{Alias: o.Name, Algorithm: "RSA", Bits: o.KeySize}, true
	case o.ObjType == "EC" && o.EllipticCurve == "Ed25519":
		return tokens.KeyInfo{Alias: o.Name, Algorithm: "Ed25519", Bits: 256}, true
	case o.ObjType == "EC" && curves[o.EllipticCurve] != "":
		c := curves[o.EllipticCurve]
		bits := map[string]int{"P-256": 256, "P-384": 384, "P-521": 521}[c]
		return tokens.KeyInfo{Alias: o.Name, Algorithm: "ECDSA", Bits: bits, Curve: c}, true
	}
	return tokens.KeyInfo{}, false
}

func (o sobject) entry() (keyEntry, error) {
	der, err := base64.StdEncoding.DecodeString(o.PubKey)
	if err != nil || len(der) == 0 {
		return keyEntry{}, fmt.Errorf("the DSM sent no public key for key %q", o.Name)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return keyEntry{}, fmt.Errorf("public key of key %q: %w", o.Name, err)
	}
	return keyEntry{kid: o.Kid, pub: pub}, nil
}

// listKeys asks GET /crypto/v1/keys, with ?name= when name is not empty.
func (t *Token) listKeys(ctx context.Context, name string) ([]sobject, error) {
	path := "/crypto/v1/keys"
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	body, err := t.request(ctx, http.MethodGet, path, nil, true)
	if err != nil {
		return nil, err
	}
	list, err := parseKeyList(body)
	if err != nil {
		return nil, fmt.Errorf("dsm token %s: key list: %w", t.name, err)
	}
	return list, nil
}

// parseKeyList reads the DSM's answer to GET /crypto/v1/keys.
func parseKeyList(body []byte) ([]sobject, error) {
	var list []sobject
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// readyKey returns the DSM key named alias once the token is ready.
func (t *Token) readyKey(ctx context.Context, alias string) (keyEntry, error) {
	if err := t.ready(ctx); err != nil {
		return keyEntry{}, err
	}
	return t.key(ctx, alias)
}

// key returns the DSM key named alias, cached.
func (t *Token) key(ctx context.Context, alias string) (keyEntry, error) {
	t.mu.Lock()
	k, ok := t.keys[alias]
	t.mu.Unlock()
	if ok {
		return k, nil
	}
	list, err := t.listKeys(ctx, alias)
	if err != nil {
		return keyEntry{}, err
	}
	for _, o := range list {
		if o.Name != alias {
			continue
		}
		k, err := o.entry()
		if err != nil {
			return keyEntry{}, fmt.Errorf("dsm token %s: %w", t.name, err)
		}
		t.mu.Lock()
		t.keys[alias] = k
		t.mu.Unlock()
		return k, nil
	}
	return keyEntry{}, fmt.Errorf("dsm token %s: no key named %q that this app may use: %w", t.name, alias, tokens.ErrKeyNotFound)
}

func (t *Token) forgetKey(alias string) {
	t.mu.Lock()
	delete(t.keys, alias)
	t.mu.Unlock()
}

// Keys lists the DSM keys the app may use that Signet can sign with (RSA,
// ECDSA on NIST curves, Ed25519), with HasChain from the chain files.
func (t *Token) Keys(ctx context.Context) ([]tokens.KeyInfo, error) {
	if err := t.ready(ctx); err != nil {
		return nil, err
	}
	list, err := t.listKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []tokens.KeyInfo
	for _, o := range list {
		info, ok := o.info()
		if !ok {
			continue
		}
		if k, err := o.entry(); err == nil {
			t.mu.Lock()
			t.keys[o.Name] = k
			t.mu.Unlock()
		}
		if chain, err := t.readChain(o.Name); err == nil && len(chain) > 0 {
			info.HasChain, info.NotAfter = true, chain[0].NotAfter
		}
		out = append(out, info)
	}
	return out, nil
}

// Signer returns a crypto.Signer for the DSM key named alias. Each Sign is
// a batch of one; its calls use ctx, and fail once ctx is done.
func (t *Token) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	k, err := t.readyKey(ctx, alias)
	if err != nil {
		return nil, err
	}
	return &signer{t: t, ctx: ctx, alias: alias, pub: k.pub}, nil
}

// chainFile returns the chain file of alias: Chains[alias], or
// <ChainDir>/<alias>.pem when the alias is a plain file name. explicit is
// true when the file was named in Chains and so must exist.
func (t *Token) chainFile(alias string) (file string, explicit bool) {
	if f, ok := t.chains[alias]; ok {
		return f, true
	}
	if t.chainDir == "" || alias == "" || strings.ContainsAny(alias, `/\`) || !filepath.IsLocal(alias+".pem") {
		return "", false
	}
	return filepath.Join(t.chainDir, alias+".pem"), false
}

// readChain reads the chain file of alias; no file is an empty chain.
func (t *Token) readChain(alias string) ([]*x509.Certificate, error) {
	file, explicit := t.chainFile(alias)
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dsm token %s: chain of key %q: %w", t.name, alias, err)
	}
	certs, err := remote.ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("dsm token %s: chain file %s: %w", t.name, file, err)
	}
	return certs, nil
}

// Chain returns the certificate chain of the DSM key named alias, signer
// first. The DSM API holds no certificates: the chain comes from the PEM
// file Options.Chains names for the alias, or <ChainDir>/<alias>.pem. A key
// without a chain file has an empty chain; a file whose first certificate
// is not for the key is an error. A chain file is read again at most every
// remote.DefaultChainTTL, and the same certificates keep the same
// *x509.Certificate values.
func (t *Token) Chain(ctx context.Context, alias string) ([]*x509.Certificate, error) {
	k, err := t.readyKey(ctx, alias)
	if err != nil {
		return nil, err
	}
	if chain, ok := t.cache.Get(alias, t.now()); ok {
		return chain, nil
	}
	chain, err := t.readChain(alias)
	if err != nil || len(chain) == 0 {
		return nil, err
	}
	if pub, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(k.pub) {
		file, _ := t.chainFile(alias)
		return nil, fmt.Errorf("dsm token %s: the first certificate of %s is not for key %q: put the signer certificate first", t.name, file, alias)
	}
	return t.cache.Put(alias, chain, t.now()), nil
}
