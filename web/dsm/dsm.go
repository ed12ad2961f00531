// Package dsm serves the signing part of the Fortanix Data Security Manager
// (DSM) REST API over Signet's crypto tokens, so that DSM clients can sign
// with any Signet key:
//
//   - POST /sys/v1/session/auth: HTTP basic authentication with an API key
//     (app ID and secret) returns a bearer token that expires;
//   - POST /sys/v1/session/terminate ends a bearer session;
//   - GET /sys/v1/health answers 204 while the server runs;
//   - GET /crypto/v1/keys and GET /crypto/v1/keys/{kid} describe keys (kid,
//     name, obj_type, key_size, elliptic_curve, pub_key);
//   - POST /crypto/v1/keys/batch/sign signs an array of SignRequest items and
//     answers, in request order, one {status, body} or {status, error} per
//     item. Each item fails alone; the valid items are signed together,
//     through tokens.SignAll, one call per key and signature options, so a
//     token with a batch API (a remote HSM) gets one batch;
//   - POST /crypto/v1/sign signs one SignRequest and answers a SignResponse
//     ({kid, signature}); it is a batch of one, signed by the same code;
//   - POST /crypto/v1/verify checks a VerifyRequest (a SignRequest's key,
//     hash_alg, hash or data and mode, and the signature) and answers a
//     VerifyResponse ({kid, result}).
//
// The sign, batch sign and verify requests and responses follow the DSM API
// description (dsm-batch-sign.json, with the single-item operations of the
// full DSM API reference in dsm-sign-verify.json). The other routes are
// outside that description and follow the behaviour of DSM: their bodies
// carry the fields DSM clients read.
//
// Errors of a whole request (401, 400 for a body of the wrong shape, 413,
// and the status of the one item of /crypto/v1/sign) are JSON
// {"error": "..."}, as in the rest of Signet.
package dsm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/tokens"
)

// DefaultTokenTTL is how long a bearer token lives when Options.TokenTTL is
// zero; DSM sessions last ten minutes by default.
const DefaultTokenTTL = 10 * time.Minute

// Key is one signing key exposed on the API.
type Key struct {
	// Kid is the key's DSM ID, a UUID. An empty or invalid Kid is replaced by
	// KeyID(Token.Name(), Alias).
	Kid string
	// Name is the key's DSM name; the alias when empty.
	Name  string
	Token tokens.Token
	Alias string
	// AllowedUsers are the API users (app IDs) that may use the key; empty
	// means every authenticated user.
	AllowedUsers []string
}

// KeySource lists the keys served through the DSM API. The handler asks for
// them on every request, so that a configuration reload shows at once.
type KeySource interface {
	DSMKeys(ctx context.Context) []Key
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context) []Key

// DSMKeys calls f.
func (f KeySourceFunc) DSMKeys(ctx context.Context) []Key { return f(ctx) }

// Options configure a Handler.
type Options struct {
	// Keys lists the keys the API serves.
	Keys KeySource
	// Authenticate checks an API key: the user (app ID) and secret of HTTP
	// basic authentication. Nil accepts it; an error refuses it with its
	// HTTPStatus() and text when it has one (403 for a right secret whose
	// user may not use this API), else with 401 and "the API key was
	// refused". A nil Authenticate rejects every request that needs
	// authentication.
	Authenticate func(user, secret string) error
	// Certificate returns the app (user) a request's TLS client
	// certificate authenticates, "" when it has none, or an error that
	// refuses it: its HTTPStatus() (403 when it has none) and its text
	// are the answer. It is asked only for requests without an
	// Authorization header, for API calls and session logins alike, as
	// DSM apps may authenticate with a certificate. Nil: API keys only.
	Certificate func(c echo.Context) (string, error)
	// TokenTTL is the lifetime of bearer tokens (DefaultTokenTTL when zero).
	TokenTTL time.Duration
	// Now is the clock bearer tokens expire by; time.Now when nil.
	Now func() time.Time
	// MaxSessions bounds the live bearer tokens (DefaultMaxSessions when
	// zero): at the bound, a login ends the oldest session.
	MaxSessions int
	// Stamp returns what a bearer session of user depends on
	// (auth.Authenticator.Stamp: its secret's hash, roles and certificate
	// rules; "" for a user that no longer exists). A bearer token whose
	// user's stamp is no longer the one of its login is refused (401), so
	// that a rotated secret, a dsm role taken away or a removed app ends
	// the sessions opened before instead of letting them sign until they
	// expire. Nil: bearer tokens end at expiry or termination only.
	Stamp func(user string) string
	// MayUse reports whether the authenticated user may use k, in addition
	// to k.AllowedUsers; nil allows every key. A key the user may not use
	// is left out of key listings and signs with status 403.
	MayUse func(user string, k Key) bool
	// Offline returns the names of the tokens whose keys Keys leaves out
	// because they are offline (nil: none). A key not found names them:
	// the key may be in one, and the fix is to activate it, where the
	// answer said only "check the key descriptor".
	Offline func(ctx context.Context) []string
}

// Handler serves the DSM API. It is safe for concurrent use.
type Handler struct {
	opts       Options
	batchCalls atomic.Int64
	signCalls  atomic.Int64
	// lastKeys is the key set of the last request and the keys it was
	// made from (keys).
	lastKeys atomic.Pointer[builtKeys]

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]session // by SHA-256 of the bearer token
	// byAge lists the sessions in the order they were made, which is the
	// order they expire in (one TTL for all): expired ones are dropped
	// from its front at each login, never by a scan of every session.
	byAge []sessionAge
}

// DefaultMaxSessions is Options.MaxSessions when it is zero.
const DefaultMaxSessions = 10000

// sessionAge is a session's key and expiry in byAge.
type sessionAge struct {
	key     [sha256.Size]byte
	expires time.Time
}

// session is a live bearer token.
type session struct {
	user    string
	stamp   string // Options.Stamp of user at login
	expires time.Time
}

// New returns a Handler with the given options.
func New(opts Options) *Handler {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	return &Handler{opts: opts, sessions: map[[sha256.Size]byte]session{}}
}

// Register adds the DSM routes to e.
func (h *Handler) Register(e *echo.Echo) {
	e.POST("/sys/v1/session/auth", h.auth)
	e.POST("/sys/v1/session/terminate", h.terminate)
	// The reads answer HEAD as GET (net/http drops the body), as
	// net/http's own router does.
	read := []string{http.MethodGet, http.MethodHead}
	e.Match(read, "/sys/v1/health", h.health)
	e.Match(read, "/crypto/v1/keys", h.listKeys)
	e.Match(read, "/crypto/v1/keys/:kid", h.getKey)
	e.POST("/crypto/v1/keys/batch/sign", h.batchSign)
	e.POST("/crypto/v1/sign", h.sign)
	e.POST("/crypto/v1/verify", h.verify)
}

// BatchCalls reports how many batch sign requests the handler served
// (authenticated requests whose body was a JSON array).
func (h *Handler) BatchCalls() int64 { return h.batchCalls.Load() }

// SignCalls reports how many single-item sign requests the handler served
// (authenticated requests whose body was a JSON object).
func (h *Handler) SignCalls() int64 { return h.signCalls.Load() }

// keyNamespace is the UUID namespace of KeyID (a v4 UUID chosen once for
// Signet; changing it would change every kid).
var keyNamespace = uuid.MustParse("3c1f6f4e-3a9b-4f0e-9a57-5e2f1d8c7b60")

// KeyID returns the DSM kid of a token's key: a version 5 UUID of the token
// name and alias, so that a kid survives restarts and reloads. The name is
// length-prefixed, so that no two (name, alias) pairs share an input.
func KeyID(tokenName, alias string) string {
	return uuid.NewSHA1(keyNamespace, []byte(strconv.Itoa(len(tokenName))+":"+tokenName+alias)).String()
}

// entityID is the entity_id of an API user: DSM app IDs are UUIDs.
func entityID(user string) string {
	return uuid.NewSHA1(keyNamespace, []byte("app\x00"+user)).String()
}

// keySet is the served keys of one request.
type keySet struct {
	list    []Key
	byKid   map[string]Key
	byName  map[string]Key
	offline func() []string // Options.Offline, asked for a key not found only
}

// notFound is the sentence of a key not found, what ("No key with kid
// k"), naming the tokens offline that may hold it: activating them is the
// fix as much as fix, where the answer named only fix.
func (ks keySet) notFound(what, fix string) string {
	var offline []string
	if ks.offline != nil {
		offline = ks.offline()
	}
	switch len(offline) {
	case 0:
		return what + ": " + fix + "."
	case 1:
		return what + " is served: crypto token " + offline[0] + " is offline and may hold it; activate it, or " + fix + "."
	}
	return what + " is served: crypto tokens " + strings.Join(offline, ", ") + " are offline and may hold it; activate them, or " + fix + "."
}

// builtKeys is a key set and the keys it was built from.
type builtKeys struct {
	src []Key
	ks  keySet // without offline, which is the request's
}

// keys returns the served keys with their kid and name filled in. When two
// keys share a kid or a name, the first one wins. The set of the last
// request is reused while the source lists the same keys: building it (a
// SHA-1 UUID per key and two maps) was 3.4 % of a single DSM sign
// request's CPU in BenchmarkHTTPSingleDSM's profile; BenchmarkKeys, 10
// keys: 12.5–14.2 µs and 84 allocations built, 3.8–4.1 µs and 25 kept
// (most of it the benchmark's own source).
func (h *Handler) keys(ctx context.Context) keySet {
	var ks keySet
	if h.opts.Keys == nil {
		return ks
	}
	src := h.opts.Keys.DSMKeys(ctx)
	if last := h.lastKeys.Load(); last != nil && sameKeys(last.src, src) {
		ks = last.ks
	} else {
		ks = buildKeys(src)
		h.lastKeys.Store(&builtKeys{src: slices.Clone(src), ks: ks})
	}
	if h.opts.Offline != nil {
		ks.offline = func() []string { return h.opts.Offline(ctx) }
	}
	return ks
}

// sameKeys reports whether a and b list the same keys in the same order:
// the same token (by identity: a reload opens new ones), alias, kid, name
// and users.
func sameKeys(a, b []Key) bool {
	return slices.EqualFunc(a, b, func(x, y Key) bool {
		return sameToken(x.Token, y.Token) && x.Alias == y.Alias && x.Kid == y.Kid && x.Name == y.Name && slices.Equal(x.AllowedUsers, y.AllowedUsers)
	})
}

// sameToken reports whether a and b are the same token, without the panic
// of == on a token type that is not comparable (which is then never the
// same).
func sameToken(a, b tokens.Token) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return reflect.TypeOf(a).Comparable() && a == b
}

// buildKeys makes the key set of src.
func buildKeys(src []Key) keySet {
	var ks keySet
	ks.list = make([]Key, 0, len(src))
	ks.byKid = make(map[string]Key, len(src))
	ks.byName = make(map[string]Key, len(src))
	for _, k := range src {
		if k.Token == nil {
			continue
		}
		if id, err := uuid.Parse(k.Kid); err == nil && len(k.Kid) == 36 {
			k.Kid = id.String()
		} else {
			k.Kid = KeyID(k.Token.Name(), k.Alias)
		}
		if k.Name == "" {
			k.Name = k.Alias
		}
		if _, dup := ks.byKid[k.Kid]; dup {
			continue
		}
		if _, dup := ks.byName[k.Name]; dup {
			continue
		}
		ks.byKid[k.Kid] = k
		ks.byName[k.Name] = k
		ks.list = append(ks.list, k)
	}
	return ks
}

// allowed reports whether user may use k.
func (h *Handler) allowed(k Key, user string) bool {
	if len(k.AllowedUsers) > 0 && !slices.Contains(k.AllowedUsers, user) {
		return false
	}
	return h.opts.MayUse == nil || h.opts.MayUse(user, k)
}

// apiError is the body of a whole-request error.
type apiError struct {
	Error string `json:"error"`
}

func fail(c echo.Context, code int, msg string) error {
	if code == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="DSM", Bearer realm="DSM"`)
	}
	return c.JSON(code, apiError{Error: msg})
}

func tokenHash(tok string) [sha256.Size]byte { return sha256.Sum256([]byte(tok)) }

// caller authenticates a request by bearer token or API key (HTTP basic).
// It returns false after writing the refusal (401, or 403 from login).
func (h *Handler) caller(c echo.Context) (string, bool, error) {
	r := c.Request()
	authz := r.Header.Get(echo.HeaderAuthorization)
	if scheme, tok, ok := strings.Cut(authz, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(tok)
		key := tokenHash(tok)
		now := h.opts.Now()
		h.mu.Lock()
		s, found := h.sessions[key]
		if found && !now.Before(s.expires) {
			delete(h.sessions, key)
			found = false
		}
		h.mu.Unlock()
		if found && h.opts.Stamp != nil && h.opts.Stamp(s.user) != s.stamp {
			h.mu.Lock()
			delete(h.sessions, key)
			h.mu.Unlock()
			return "", false, fail(c, http.StatusUnauthorized, "The bearer token's session has ended: the app's secret, roles or existence changed since it authenticated; authenticate again at /sys/v1/session/auth.")
		}
		if !found {
			return "", false, fail(c, http.StatusUnauthorized, "The bearer token is unknown or expired: authenticate again at /sys/v1/session/auth.")
		}
		return s.user, true, nil
	}
	return h.login(c, "Authentication required: send the API key as HTTP basic credentials or a bearer token.")
}

// login authenticates a request that carries no bearer token: by its
// client certificate (Options.Certificate) when it has no Authorization
// header and the certificate decides, else by its API key (HTTP basic)
// through Options.Authenticate; missing is the 401 sentence for a request
// with neither. It returns false after writing the refusal (err is the
// writing's error).
func (h *Handler) login(c echo.Context, missing string) (string, bool, error) {
	r := c.Request()
	if h.opts.Certificate != nil && r.Header.Get(echo.HeaderAuthorization) == "" {
		user, err := h.opts.Certificate(c)
		if err != nil {
			return "", false, refuse(c, http.StatusForbidden, err)
		}
		if user != "" {
			return user, true, nil
		}
	}
	user, secret, ok := r.BasicAuth()
	if !ok {
		return "", false, fail(c, http.StatusUnauthorized, missing)
	}
	if h.opts.Authenticate == nil {
		return "", false, fail(c, http.StatusUnauthorized, "The API key was refused: check the app ID and secret.")
	}
	if err := h.opts.Authenticate(user, secret); err != nil {
		return "", false, refuse(c, http.StatusUnauthorized, err)
	}
	return user, true, nil
}

// refuse answers err: with its HTTPStatus() when it has one, else code.
func refuse(c echo.Context, code int, err error) error {
	var st interface{ HTTPStatus() int }
	if errors.As(err, &st) {
		code = st.HTTPStatus()
	}
	return fail(c, code, err.Error())
}

// authResponse is DSM's answer to POST /sys/v1/session/auth.
type authResponse struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	AccessToken string `json:"access_token"`
	EntityID    string `json:"entity_id"`
}

// auth serves POST /sys/v1/session/auth: an API key (HTTP basic) buys a
// bearer token valid for TokenTTL.
func (h *Handler) auth(c echo.Context) error {
	user, ok, err := h.login(c, "Authentication required: send the API key as HTTP basic credentials, or a TLS client certificate.")
	if !ok {
		return err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fail(c, http.StatusInternalServerError, "The server could not make a session token: try again.")
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	stamp := ""
	if h.opts.Stamp != nil {
		stamp = h.opts.Stamp(user)
	}
	now := h.opts.Now()
	key, expires := tokenHash(tok), now.Add(h.opts.TokenTTL)
	h.mu.Lock()
	h.dropOldLocked(now)
	h.sessions[key] = session{user: user, stamp: stamp, expires: expires}
	h.byAge = append(h.byAge, sessionAge{key, expires})
	h.mu.Unlock()
	return c.JSON(http.StatusOK, authResponse{
		TokenType:   "Bearer",
		ExpiresIn:   int64(h.opts.TokenTTL / time.Second),
		AccessToken: tok,
		EntityID:    entityID(user),
	})
}

// dropOldLocked forgets the expired sessions, and the oldest ones past
// Options.MaxSessions-1, from the front of byAge.
func (h *Handler) dropOldLocked(now time.Time) {
	n := 0
	for n < len(h.byAge) {
		a := h.byAge[n]
		// Terminated sessions leave their entry behind: byAge is bounded
		// too, or logins and terminations could grow it.
		if now.Before(a.expires) && len(h.sessions) < h.opts.MaxSessions && len(h.byAge)-n < 2*h.opts.MaxSessions {
			break
		}
		delete(h.sessions, a.key) // tokens are random: the key is this session's
		n++
	}
	if n > 0 {
		h.byAge = slices.Delete(h.byAge, 0, n)
	}
}

// terminate serves POST /sys/v1/session/terminate: the bearer token of the
// request stops working.
func (h *Handler) terminate(c echo.Context) error {
	authz := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return fail(c, http.StatusUnauthorized, "Send the bearer token of the session to terminate.")
	}
	if _, ok, err := h.caller(c); !ok {
		return err
	}
	h.mu.Lock()
	delete(h.sessions, tokenHash(strings.TrimSpace(tok)))
	h.mu.Unlock()
	return c.NoContent(http.StatusNoContent)
}

// health serves GET /sys/v1/health: 204 while the server handles requests.
func (h *Handler) health(c echo.Context) error {
	return c.NoContent(http.StatusNoContent)
}
