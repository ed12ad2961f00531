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
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
)

// Defaults for Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultPoolSize      = 8
	DefaultProbeInterval = 5 * time.Second
)

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
	// Timeout bounds each HTTP request (DefaultTimeout when zero).
	Timeout time.Duration
	// PoolSize is the number of connections, and so of signatures in
	// flight (DefaultPoolSize when zero).
	PoolSize int
	// ProbeInterval is the shortest time between two probes of a NetHSM
	// (DefaultProbeInterval when zero).
	ProbeInterval time.Duration
	// HTTPClient replaces the client the token makes; CABundle and the
	// connection limit are then the caller's business.
	HTTPClient *http.Client
}

// Token is a NetHSM crypto token. It is safe for concurrent use.
type Token struct {
	name       string
	base       string // URL ending in /api/v1, no trailing slash
	user       string
	keyIDs     []string
	timeout    time.Duration
	pool       int
	probeEvery time.Duration
	client     *http.Client

	mu        sync.Mutex
	pass      string
	status    tokens.Status
	probed    time.Time // last probe start; zero: never probed
	probing   bool
	publicKey map[string]crypto.PublicKey
	chains    remote.ChainCache
}

const notActivated = "not activated: activate the token with the NetHSM operator passphrase"

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func validID(id string) bool { return len(id) <= 128 && idPattern.MatchString(id) }

// New returns a token for the NetHSM at opts.URL. It does not contact the
// NetHSM: the first Status or Signer call does.
func New(opts Options) (*Token, error) {
	if opts.Name == "" {
		return nil, errors.New("nethsm token: set a name")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("nethsm token %s: URL %q must be https://host[:port]", opts.Name, opts.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("nethsm token %s: put the user and passphrase in their own settings, not in the URL", opts.Name)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("nethsm token %s: URL %q must not have a query or fragment", opts.Name, opts.URL)
	}
	if opts.User == "" {
		return nil, fmt.Errorf("nethsm token %s: set the NetHSM operator user", opts.Name)
	}
	for _, id := range opts.KeyIDs {
		if !validID(id) {
			return nil, fmt.Errorf("nethsm token %s: %q is not a NetHSM key ID (letters, digits, '_', '.', '-')", opts.Name, id)
		}
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/api/v1") {
		path += "/api/v1"
	}
	u.Path, u.RawPath = path, ""
	t := &Token{
		name:       opts.Name,
		base:       u.String(),
		user:       opts.User,
		keyIDs:     slices.Clone(opts.KeyIDs),
		timeout:    cmp(opts.Timeout, DefaultTimeout),
		pool:       cmp(opts.PoolSize, DefaultPoolSize),
		probeEvery: cmp(opts.ProbeInterval, DefaultProbeInterval),
		client:     opts.HTTPClient,
		pass:       opts.Passphrase,
		status:     tokens.Status{State: tokens.Offline, Reason: "not contacted yet"},
		publicKey:  map[string]crypto.PublicKey{},
	}
	if t.pass == "" {
		t.status.Reason = notActivated
	}
	if t.client == nil {
		tr, err := remote.NewTransport(opts.CABundle, t.pool)
		if err != nil {
			return nil, fmt.Errorf("nethsm token %s: %w", opts.Name, err)
		}
		tr.MaxConnsPerHost = t.pool
		t.client = &http.Client{Transport: tr}
	}
	t.client = remote.NoRedirects(t.client)
	return t, nil
}

func cmp[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Name returns the token's configured name.
func (t *Token) Name() string { return t.name }

// Parallelism reports the connection pool size: how many signatures
// tokens.SignAll asks for at once.
func (t *Token) Parallelism() int { return t.pool }

// Status reports whether the token can sign. A token not known to be Active
// is probed again when the last probe is older than ProbeInterval, and an
// Active one is re-checked as often, so that health reports follow the
// NetHSM.
func (t *Token) Status(ctx context.Context) tokens.Status {
	t.mu.Lock()
	due := t.pass != "" && time.Since(t.probed) >= t.probeEvery && !t.probing
	st := t.status
	t.mu.Unlock()
	if due {
		t.probe(ctx)
		t.mu.Lock()
		st = t.status
		t.mu.Unlock()
	}
	return st
}

// Activate sets the operator passphrase and checks it against the NetHSM.
// A passphrase the NetHSM refuses is ErrBadPIN and is forgotten; an
// unreachable NetHSM is ErrOffline, and the passphrase is kept so that the
// token becomes Active when the NetHSM comes back.
func (t *Token) Activate(ctx context.Context, pin string) error {
	if pin == "" {
		return fmt.Errorf("nethsm token %s: the passphrase is empty: %w", t.name, tokens.ErrBadPIN)
	}
	t.mu.Lock()
	t.pass = pin
	t.publicKey = map[string]crypto.PublicKey{}
	t.mu.Unlock()
	t.chains.Forget()
	err := t.probe(ctx)
	var ae *authError
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
		t.mu.Lock()
		t.pass = ""
		t.status = tokens.Status{State: tokens.Offline, Reason: notActivated}
		t.mu.Unlock()
		return fmt.Errorf("nethsm token %s: the NetHSM refused user %s: %w", t.name, t.user, tokens.ErrBadPIN)
	}
	return err
}

// Deactivate forgets the passphrase and closes idle connections; the token
// is Offline until activated again.
func (t *Token) Deactivate(context.Context) error {
	t.mu.Lock()
	t.pass = ""
	t.status = tokens.Status{State: tokens.Offline, Reason: "deactivated"}
	t.publicKey = map[string]crypto.PublicKey{}
	t.mu.Unlock()
	t.chains.Forget()
	t.client.CloseIdleConnections()
	return nil
}

// probe asks the NetHSM for its state (/health/state, public) and, when it is
// Operational, checks the credentials with GET /keys. It records and returns
// the outcome. Concurrent callers do not probe twice.
func (t *Token) probe(ctx context.Context) error {
	t.mu.Lock()
	if t.pass == "" {
		t.status = tokens.Status{State: tokens.Offline, Reason: notActivated}
		t.mu.Unlock()
		return fmt.Errorf("nethsm token %s: not activated: %w", t.name, tokens.ErrOffline)
	}
	t.probing = true
	t.probed = time.Now()
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.probing = false
		t.mu.Unlock()
	}()

	body, err := t.get(ctx, "/health/state", "application/json", false)
	if err != nil {
		return err
	}
	var hs struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(body, &hs); err != nil || hs.State == "" {
		return t.offline(fmt.Sprintf("the NetHSM at %s answered /health/state with something that is not a NetHSM state", t.base))
	}
	if hs.State != "Operational" {
		return t.offline(fmt.Sprintf("the NetHSM at %s is %s, not Operational: unlock it", t.base, hs.State))
	}
	if _, err := t.get(ctx, "/keys", "application/json", true); err != nil {
		return err
	}
	t.mu.Lock()
	t.status = tokens.Status{State: tokens.Active}
	t.mu.Unlock()
	return nil
}

// offline records the token as Offline for reason and returns an error
// wrapping ErrOffline.
func (t *Token) offline(reason string) error {
	t.mu.Lock()
	if t.pass != "" {
		t.status = tokens.Status{State: tokens.Offline, Reason: reason}
	}
	t.mu.Unlock()
	return fmt.Errorf("nethsm token %s: %s: %w", t.name, reason, tokens.ErrOffline)
}

// ready returns nil when the token may send requests, probing a token that
// is not Active when a probe is due.
func (t *Token) ready(ctx context.Context) error {
	t.mu.Lock()
	st, due, activated := t.status, time.Since(t.probed) >= t.probeEvery && !t.probing, t.pass != ""
	t.mu.Unlock()
	if !activated {
		return fmt.Errorf("nethsm token %s: not activated: %w", t.name, tokens.ErrOffline)
	}
	if st.State == tokens.Active {
		return nil
	}
	if due {
		return t.probe(ctx)
	}
	return fmt.Errorf("nethsm token %s: %s: %w", t.name, st.Reason, tokens.ErrOffline)
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
	p, _ := pem.Decode(body)
	if p == nil || p.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("nethsm token %s: key %s: the NetHSM sent no PEM public key", t.name, id)
	}
	pub, err = x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: public key: %w", t.name, id, err)
	}
	t.mu.Lock()
	t.publicKey[id] = pub
	t.mu.Unlock()
	return pub, nil
}

func (t *Token) keyErr(id string, err error) error {
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusNotFound {
		t.mu.Lock()
		delete(t.publicKey, id)
		t.mu.Unlock()
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
	if chain, ok := t.chains.Get(alias, time.Now()); ok {
		return chain, nil
	}
	body, err := t.get(ctx, "/keys/"+alias+"/cert", "application/octet-stream", true)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusNotFound {
		// 404 is both "no key" and "no certificate"; tell them apart.
		if _, kerr := t.get(ctx, "/keys/"+alias, "application/json", true); kerr != nil {
			return nil, t.keyErr(alias, kerr)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(body)
	if err != nil {
		return nil, fmt.Errorf("nethsm token %s: key %s: certificate: %w", t.name, alias, err)
	}
	return t.chains.Put(alias, certs, time.Now()), nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if !strings.Contains(string(data), "-----BEGIN") {
		return x509.ParseCertificates(data)
	}
	var out []*x509.Certificate
	for rest := data; ; {
		var p *pem.Block
		if p, rest = pem.Decode(rest); p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in the PEM data")
	}
	return out, nil
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
		var list []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("nethsm token %s: key list: %w", t.name, err)
		}
		for _, k := range list {
			ids = append(ids, k.ID)
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
		var kd keyData
		if err := json.Unmarshal(body, &kd); err != nil {
			return nil, fmt.Errorf("nethsm token %s: key %s: %w", t.name, id, err)
		}
		info, ok := keyTypes[kd.Type]
		if kd.Type == "RSA" {
			n, err := decodeB64(kd.Public.Modulus)
			if err != nil || len(n) == 0 {
				return nil, fmt.Errorf("nethsm token %s: key %s: bad RSA modulus", t.name, id)
			}
			for len(n) > 0 && n[0] == 0 {
				n = n[1:]
			}
			info, ok = tokens.KeyInfo{Algorithm: "RSA", Bits: len(n) * 8}, true
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

// httpError is a NetHSM error answer.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string {
	if e.message == "" {
		return fmt.Sprintf("NetHSM answered %d %s", e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("NetHSM answered %d: %s", e.status, e.message)
}

// authError is a 401 or 403: the token cannot work with these credentials.
type authError struct{ httpError }

func (e *authError) Unwrap() error { return &e.httpError }

const maxBody = 1 << 20

// get sends a GET, retried on network errors and 502/503/504 answers.
func (t *Token) get(ctx context.Context, path, accept string, auth bool) ([]byte, error) {
	return t.do(ctx, http.MethodGet, path, accept, nil, auth)
}

// do sends one API request and returns the body of a 2xx answer. Errors that
// make the token unusable (unreachable, not Operational, credentials refused)
// set it Offline and wrap ErrOffline.
func (t *Token) do(ctx context.Context, method, path, accept string, body []byte, auth bool) ([]byte, error) {
	const attempts = 3
	var lastErr error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(i) * 100 * time.Millisecond):
			}
		}
		status, respBody, sent, err := t.once(ctx, method, path, accept, body, auth)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err() // the caller gave up: says nothing about the NetHSM
			}
			lastErr = err
			// A sign request is retried only when no byte of it left.
			if method == http.MethodGet || !sent {
				continue
			}
			break
		}
		if status/100 == 2 {
			return respBody, nil
		}
		he := httpError{status: status, message: errorMessage(respBody)}
		switch status {
		case http.StatusUnauthorized:
			err := t.offline(fmt.Sprintf("the NetHSM refused user %s: check the user name and passphrase", t.user))
			return nil, fmt.Errorf("%w (%w)", err, &authError{he})
		case http.StatusForbidden:
			err := t.offline(fmt.Sprintf("NetHSM user %s may not do this: it needs the Operator role", t.user))
			return nil, fmt.Errorf("%w (%w)", err, &authError{he})
		case http.StatusPreconditionFailed:
			return nil, fmt.Errorf("%w (%w)", t.offline(fmt.Sprintf("the NetHSM at %s is not Operational: unlock it", t.base)), &he)
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			lastErr = fmt.Errorf("nethsm token %s: %w", t.name, &he)
			if method == http.MethodGet {
				continue
			}
		}
		return nil, fmt.Errorf("nethsm token %s: %s %s: %w", t.name, method, path, &he)
	}
	var he *httpError
	if errors.As(lastErr, &he) {
		return nil, lastErr
	}
	return nil, t.offline(fmt.Sprintf("the NetHSM at %s is unreachable (%v)", t.base, cause(lastErr)))
}

// cause strips the URL wrapper of a client error: the URL is in the reason.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// once sends one request. sent reports whether a connection was obtained,
// that is whether any byte of the request may have left.
func (t *Token) once(ctx context.Context, method, path, accept string, body []byte, auth bool) (status int, respBody []byte, sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var gotConn atomic.Bool
	req, err := http.NewRequestWithContext(withConnTrace(ctx, &gotConn), method, t.base+path, rd)
	if err != nil {
		return 0, nil, false, err
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		t.mu.Lock()
		pass := t.pass
		t.mu.Unlock()
		req.SetBasicAuth(t.user, pass)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, gotConn.Load(), err
	}
	defer resp.Body.Close()
	respBody, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, true, err
	}
	io.Copy(io.Discard, resp.Body) // keep the connection reusable
	return resp.StatusCode, respBody, true, nil
}

// errorMessage extracts the message of a NetHSM error body, shortened.
func errorMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	if len(e.Message) > 200 {
		return e.Message[:200] + "…"
	}
	return e.Message
}
