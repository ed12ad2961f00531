// Package nethsm serves the signing part of the Nitrokey NetHSM REST API
// (/api/v1) over Signet's crypto tokens, so that NetHSM clients (the NetHSM
// PKCS#11 module, pynitrokey, the Go and Python SDKs) can sign with any Signet
// key: key listing and public keys, certificates, health, vendor information
// and POST /keys/{KeyID}/sign in every signature mode Signet's tokens support.
//
// Requests and responses follow the NetHSM API description
// (nethsm-api.yaml): HTTP basic authentication, users in the Operator role
// sign, errors are JSON {"message": "..."}, and request bodies with properties
// the API does not define are rejected with 400.
package nethsm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/tokens"
)

// BasePath is the path prefix of the NetHSM API.
const BasePath = "/api/v1"

// Key is one key served through the NetHSM API: the token and alias that hold
// it, and its NetHSM key ID.
type Key struct {
	// ID is the NetHSM key ID. An empty ID, or one that is not a valid NetHSM
	// ID, is replaced by KeyID(Alias).
	ID    string
	Token tokens.Token
	Alias string
}

// KeySource lists the keys served through the NetHSM API. The handler asks
// for them on every request, so that a configuration reload shows at once.
type KeySource interface {
	NetHSMKeys(ctx context.Context) []Key
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context) []Key

// NetHSMKeys calls f.
func (f KeySourceFunc) NetHSMKeys(ctx context.Context) []Key { return f(ctx) }

// User is an authenticated API user.
type User struct {
	Name string
	// Role is the NetHSM role: "Operator", "Administrator", "Metrics" or
	// "Backup". Only operators sign; operators and administrators read keys.
	Role string
}

// NetHSM user roles.
const (
	RoleOperator      = "Operator"
	RoleAdministrator = "Administrator"
)

// State is a NetHSM system state, as /health/state reports it.
type State string

// NetHSM system states.
const (
	Operational   State = "Operational"
	Locked        State = "Locked"
	Unprovisioned State = "Unprovisioned"
	Failed        State = "Failed"
)

// Options configure a Handler.
type Options struct {
	// Keys lists the keys the API serves.
	Keys KeySource
	// Authenticate checks a basic-auth user name and passphrase. Nil rejects
	// every request that needs authentication.
	Authenticate func(user, pass string) (User, bool)
	// Certificate returns the user a request's TLS client certificate
	// authenticates (the zero User when it has none), or an error that
	// refuses it: its HTTPStatus() (403 when it has none) and its text
	// are the answer. It is asked only for requests without an
	// Authorization header. Nil: HTTP basic only.
	Certificate func(c echo.Context) (User, error)
	// Vendor and Product are what GET /info reports; they default to
	// "Signet" and "Signet NetHSM API".
	Vendor, Product string
	// State reports the system state. Nil means always Operational; any
	// other state makes key operations answer 412, as a NetHSM that is not
	// Operational does.
	State func(ctx context.Context) State
	// Offline returns the names of the tokens whose keys Keys leaves out
	// because they are offline (nil: none). A KeyID not found names them:
	// the key may be in one, and the fix is to activate it, where the
	// answer said only "check the KeyID".
	Offline func(ctx context.Context) []string
	// MayUse reports whether an authenticated operator may sign with k;
	// nil allows every key. A key an operator may not use is left out of
	// its key list and answers 403; the filter parameter of GET /keys
	// applies it to administrators too.
	MayUse func(u User, k Key) bool
	// RoleRefusal is the sentence of the 403 of an authenticated user u
	// without any of roles, naming the fix in the terms of the server's own
	// configuration; nil: the sentence names NetHSM's roles.
	RoleRefusal func(u User, roles []string) string
}

// Handler serves the NetHSM API. It is safe for concurrent use.
type Handler struct {
	opts      Options
	signCalls atomic.Int64
	ops       sync.Map // key ID -> *atomic.Int64, successful signatures
}

// New returns a Handler with the given options.
func New(opts Options) *Handler {
	if opts.Vendor == "" {
		opts.Vendor = "Signet"
	}
	if opts.Product == "" {
		opts.Product = "Signet NetHSM API"
	}
	return &Handler{opts: opts}
}

// Register adds the NetHSM routes under BasePath to e. Every answer under
// BasePath is the NetHSM API's: a path the API does not serve is 404, a
// method a path does not serve 405 (with Allow; OPTIONS answers 204 with
// Allow), HEAD is served as GET, and these and every other error, a panic
// included, are JSON {"message": "..."} as the API description says; none
// reaches the server's own error handler.
func (h *Handler) Register(e *echo.Echo) {
	routes := []route{
		{"/info", http.MethodGet, h.info},
		{"/health/alive", http.MethodGet, h.alive},
		{"/health/ready", http.MethodGet, h.ready},
		{"/health/state", http.MethodGet, h.healthState},
		{"/keys", http.MethodGet, h.listKeys},
		{"/keys/:KeyID", http.MethodGet, h.getKey},
		{"/keys/:KeyID/public.pem", http.MethodGet, h.publicPEM},
		{"/keys/:KeyID/cert", http.MethodGet, h.cert},
		{"/keys/:KeyID/sign", http.MethodPost, h.sign},
	}
	g := e.Group(BasePath)
	for _, r := range routes {
		g.Add(r.method, r.path, r.handler, h.messages)
		if r.method == http.MethodGet {
			g.HEAD(r.path, r.handler, h.messages)
		}
	}
	// echo answers an unknown method of a known path with its own 405 only
	// when no catch-all route exists; the catch-all tells the two apart.
	nf := notFound(routes)
	g.RouteNotFound("", nf, h.messages)
	g.RouteNotFound("/*", nf, h.messages)
}

// route is one operation of the API: a path under BasePath (":name" is a
// path parameter), its method and handler.
type route struct {
	path, method string
	handler      echo.HandlerFunc
}

// allows returns the methods served at p: those of the routes whose path
// it matches, with HEAD for GET and OPTIONS, or nil.
func allows(routes []route, p string) []string {
	var out []string
	for _, r := range routes {
		if ok, _ := path.Match(routeParam.ReplaceAllString(r.path, "*"), p); ok {
			out = append(out, r.method)
			if r.method == http.MethodGet {
				out = append(out, http.MethodHead)
			}
		}
	}
	if out != nil {
		out = append(out, http.MethodOptions)
	}
	return out
}

// routeParam is a ":name" path segment of a route.
var routeParam = regexp.MustCompile(`:[^/]+`)

// notFound answers a request no route took: 405 with Allow for a method a
// known path does not serve (204 with Allow for OPTIONS), else 404.
func notFound(routes []route) echo.HandlerFunc {
	return func(c echo.Context) error {
		path := strings.TrimPrefix(c.Request().URL.Path, BasePath)
		allow := allows(routes, path)
		if allow == nil {
			return fail(c, http.StatusNotFound, "Signet's NetHSM API does not serve "+clienttext.Quote(c.Request().URL.Path)+": it serves /keys, /keys/{KeyID}[/public.pem|/cert|/sign], /health/* and /info.")
		}
		header := strings.Join(allow, ", ")
		c.Response().Header().Set(echo.HeaderAllow, header)
		if c.Request().Method == http.MethodOptions {
			return c.NoContent(http.StatusNoContent)
		}
		return fail(c, http.StatusMethodNotAllowed, "Method "+clienttext.Quote(c.Request().Method)+" is not allowed on "+clienttext.Quote(c.Request().URL.Path)+": use "+header+".")
	}
}

// messages makes every error of the NetHSM routes a NetHSM answer, JSON
// {"message": "..."}: an echo.HTTPError with its status, and anything
// else, a panic included, as 500 (logged with its cause).
func (h *Handler) messages(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.Logger().Errorf("nethsm: %s %s: panic: %v\n%s", c.Request().Method, c.Request().URL.Path, v, debug.Stack())
				err = internal(c)
			}
		}()
		err = next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		if he := (*echo.HTTPError)(nil); errors.As(err, &he) {
			return fail(c, he.Code, fmt.Sprint(he.Message))
		}
		c.Logger().Errorf("nethsm: %s %s: %v", c.Request().Method, c.Request().URL.Path, err)
		return internal(c)
	}
}

// internal answers 500 unless an answer has gone out.
func internal(c echo.Context) error {
	if c.Response().Committed {
		return nil
	}
	return fail(c, http.StatusInternalServerError, "The NetHSM API failed: see the server log.")
}

// SignCalls reports how many signatures the handler asked its tokens for.
func (h *Handler) SignCalls() int64 { return h.signCalls.Load() }

func (h *Handler) state(ctx context.Context) State {
	if h.opts.State == nil {
		return Operational
	}
	return h.opts.State(ctx)
}

const maxIDLen = 128

// ValidID reports whether id is a valid NetHSM key ID.
// It is the ID schema's pattern ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$ with
// maxLength 128, checked byte by byte: every sign request checks its own
// ID and every served key's (FuzzValidID holds it to the pattern).
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !isAlnum(c) && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// KeyID maps a token alias to a NetHSM key ID. An alias that is already a
// valid ID (letters, digits, '_', '.', '-', starting with a letter or digit,
// at most 128 characters) is its own ID. Any other alias is rewritten: each
// character outside that set becomes '_', an ID that would start with '_',
// '.' or '-' gets a leading "k", and "-" plus the first 8 hex digits of the
// SHA-256 of the alias is appended, so that two aliases that differ only in
// rewritten characters keep distinct, stable IDs.
func KeyID(alias string) string {
	if ValidID(alias) {
		return alias
	}
	var b strings.Builder
	for _, r := range alias {
		switch {
		case r < 0x80 && (r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	base := b.String()
	if base == "" || !isAlnum(base[0]) {
		base = "k" + base
	}
	sum := sha256.Sum256([]byte(alias))
	suffix := "-" + hex.EncodeToString(sum[:4])
	if len(base)+len(suffix) > maxIDLen {
		base = base[:maxIDLen-len(suffix)]
	}
	return base + suffix
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// keys returns the served keys by ID, in the source's order. When two keys
// map to the same ID the first one wins.
func (h *Handler) keys(ctx context.Context) ([]Key, map[string]Key) {
	if h.opts.Keys == nil {
		return nil, nil
	}
	src := h.opts.Keys.NetHSMKeys(ctx)
	list := make([]Key, 0, len(src))
	byID := make(map[string]Key, len(src))
	for _, k := range src {
		k, ok := served(k)
		if !ok {
			continue
		}
		if _, dup := byID[k.ID]; dup {
			continue
		}
		byID[k.ID] = k
		list = append(list, k)
	}
	return list, byID
}

// keyByID returns the served key with ID id: the first of the source's keys
// with that ID, as in keys, found without building the list and map for
// every sign request.
func (h *Handler) keyByID(ctx context.Context, id string) (Key, bool) {
	if h.opts.Keys == nil {
		return Key{}, false
	}
	for _, k := range h.opts.Keys.NetHSMKeys(ctx) {
		if k, ok := served(k); ok && k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// offline returns the names of the tokens offline (Options.Offline).
func (h *Handler) offline(ctx context.Context) []string {
	if h.opts.Offline == nil {
		return nil
	}
	return h.opts.Offline(ctx)
}

// notServed is the sentence of a key not found, what ("No key with ID
// k"), when the tokens offline may hold it: activating them is the fix
// as much as fix.
func notServed(what string, offline []string, fix string) string {
	switch len(offline) {
	case 0:
		return what + ": " + fix + "."
	case 1:
		return what + " is served: crypto token " + offline[0] + " is offline and may hold it; activate it, or " + fix + "."
	}
	return what + " is served: crypto tokens " + strings.Join(offline, ", ") + " are offline and may hold it; activate them, or " + fix + "."
}

// served returns k with its NetHSM ID, and whether it is served at all.
func served(k Key) (Key, bool) {
	if k.Token == nil {
		return k, false
	}
	if !ValidID(k.ID) {
		k.ID = KeyID(k.Alias)
	}
	return k, true
}

func (h *Handler) operations(id string) *atomic.Int64 {
	v, ok := h.ops.Load(id)
	if !ok {
		v, _ = h.ops.LoadOrStore(id, new(atomic.Int64))
	}
	return v.(*atomic.Int64)
}

// apiError is the NetHSM error body.
type apiError struct {
	Message string `json:"message"`
}

func fail(c echo.Context, code int, msg string) error {
	if code == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="NetHSM"`)
	}
	return c.JSON(code, apiError{Message: msg})
}

// accepts reports whether an Accept header value allows the media type mt.
// An absent header accepts everything; media ranges with q=0 are refused.
func accepts(header, mt string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	for _, part := range strings.Split(header, ",") {
		rng, params, _ := strings.Cut(part, ";")
		rng = strings.ToLower(strings.TrimSpace(rng))
		if q, ok := qParam(params); ok && q == 0 {
			continue
		}
		if rng == "*/*" || rng == mt || rng == typ+"/*" {
			return true
		}
	}
	return false
}

// qParam returns whether the media-range parameters say q=0.
func qParam(params string) (q float64, ok bool) {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "q") {
			v = strings.TrimSpace(v)
			if strings.Trim(v, "0.") == "" {
				return 0, true
			}
			return 1, true
		}
	}
	return 1, false
}

// access checks, in order, the Accept header (406), the system state (412),
// the credentials (401) and the role (403). It returns false after writing
// the error response.
func (h *Handler) access(c echo.Context, produces string, roles ...string) (bool, error) {
	r := c.Request()
	if !accepts(r.Header.Get(echo.HeaderAccept), produces) {
		return false, fail(c, http.StatusNotAcceptable, "The Accept header must allow "+produces+".")
	}
	if s := h.state(r.Context()); s != Operational {
		return false, fail(c, http.StatusPreconditionFailed, "The NetHSM service is "+string(s)+", not Operational: unlock or activate it first.")
	}
	u, err := h.certificate(c)
	if err != nil {
		code := http.StatusForbidden
		var st interface{ HTTPStatus() int }
		if errors.As(err, &st) {
			code = st.HTTPStatus()
		}
		return false, fail(c, code, err.Error())
	}
	if u.Name == "" {
		name, pass, ok := r.BasicAuth()
		if !ok {
			return false, fail(c, http.StatusUnauthorized, "Authentication required: send HTTP basic credentials or a TLS client certificate.")
		}
		if h.opts.Authenticate != nil {
			u, ok = h.opts.Authenticate(name, pass)
		}
		if !ok || h.opts.Authenticate == nil {
			return false, fail(c, http.StatusUnauthorized, "Wrong user name or passphrase.")
		}
	}
	for _, role := range roles {
		if u.Role == role {
			c.Set(userKey, u)
			return true, nil
		}
	}
	if h.opts.RoleRefusal != nil {
		return false, fail(c, http.StatusForbidden, h.opts.RoleRefusal(u, roles))
	}
	return false, fail(c, http.StatusForbidden, "User "+u.Name+" is not allowed to do this: it needs the "+strings.Join(roles, " or ")+" role.")
}

// certificate asks Options.Certificate who a request without an
// Authorization header is; the zero User when that decides nothing.
func (h *Handler) certificate(c echo.Context) (User, error) {
	if h.opts.Certificate == nil || c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		return User{}, nil
	}
	return h.opts.Certificate(c)
}

// userKey is the echo context key of the authenticated User.
const userKey = "nethsm.user"

// usable reports whether the authenticated user is offered key k: an
// operator only the keys it may sign with (Options.MayUse), so that what
// it lists, reads and signs with agree; an administrator, who signs with
// none, every key.
func (h *Handler) usable(c echo.Context, k Key) bool {
	u, _ := c.Get(userKey).(User)
	return u.Role != RoleOperator || h.opts.MayUse == nil || h.opts.MayUse(u, k)
}

// lookup finds the key of the KeyID path parameter, answering 400 for an
// invalid ID, 404 for an unknown one and 403 for one the user is not
// offered (usable).
func (h *Handler) lookup(c echo.Context) (Key, bool, error) {
	id := c.Param("KeyID")
	if !ValidID(id) {
		return Key{}, false, fail(c, http.StatusBadRequest, "Invalid KeyID: use 1 to 128 letters, digits, '_', '.' and '-', starting with a letter or digit.")
	}
	k, ok := h.keyByID(c.Request().Context(), id)
	if !ok {
		return Key{}, false, fail(c, http.StatusNotFound, notServed("No key with ID "+id, h.offline(c.Request().Context()), "check the KeyID"))
	}
	if !h.usable(c, k) {
		u, _ := c.Get(userKey).(User)
		return Key{}, false, fail(c, http.StatusForbidden, "User "+u.Name+" is not allowed to use key "+id+".")
	}
	return k, true, nil
}
