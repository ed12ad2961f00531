// Package admin serves Signet's admin REST API under /admin/api/: the status
// of workers and crypto tokens, the token life cycle (activate, deactivate,
// generate, test and remove keys, make a PKCS#10 request, upload the signer
// certificate chain), configuration reload and the audit log.
//
// Every request needs HTTP basic credentials, or a TLS client certificate
// (Options.Certificate), of a user with a role of the API: the route table
// declares the least role of each route (auditor reads, operator also
// activates and deactivates tokens, admin does everything); every action
// that changes something (and key tests and CSRs) is written to
// the audit log with the user, the target and the outcome, never a PIN.
// Requests and answers are JSON; errors are {"error": "<one sentence>"}.
//
// The handler depends on small interfaces (a source of the live workers, a
// reload function, the audit log, an authenticate function) so that it can
// be tested without the rest of the server.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/mediatype"
	"github.com/signet-project/signet/internal/pathparam"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/workers"
)

// BasePath is the path prefix of the admin API.
const BasePath = "/admin/api"

// authChallenge is the WWW-Authenticate header of a 401.
const authChallenge = `Basic realm="Signet admin"`

// pemChainType is the media type of a PEM chain uploaded as it is (RFC 8555).
const pemChainType = "application/pem-certificate-chain"

// maxBody bounds JSON and PEM request bodies.
const maxBody = 1 << 20

// WorkerSource gives the workers and tokens in force; *workers.Registry is
// one. The handler asks on every request, so a reload shows at once.
type WorkerSource interface {
	Current() *workers.Set
}

// Decision is the outcome of checking a user's credentials; web/auth
// makes it.
type Decision = auth.Decision

// Decisions of an Authenticator.
const (
	// Denied: unknown user or wrong password (401).
	Denied = auth.Denied
	// Forbidden: right password, but the user is not an administrator (403).
	Forbidden = auth.Forbidden
	// Allowed: an administrator.
	Allowed = auth.Allowed
)

// Authenticator checks HTTP basic credentials.
type Authenticator func(user, password string) Decision

// Options configure a Handler.
type Options struct {
	// Workers is the source of the live workers and tokens.
	Workers WorkerSource
	// Authenticate checks credentials. Nil denies every request.
	Authenticate Authenticator
	// Roles returns the roles of an authenticated user; each route needs
	// one of them (config.RoleAuditor reads, config.RoleOperator also
	// activates and deactivates tokens, config.RoleAdmin does everything).
	// Nil: every authenticated user is an administrator.
	Roles func(user string) []string
	// Certificate returns the user a request's TLS client certificate
	// authenticates (auth.Authenticator.CertUser): the zero User when it
	// has none, a *auth.Refusal when it is refused. It is asked only for
	// requests without an Authorization header. Nil: HTTP basic only.
	Certificate func(r *http.Request) (config.User, error)
	// Throttle slows password guessing per user and client address: 429
	// with Retry-After while locked out. Nil: none.
	Throttle *auth.Throttle
	// Reload loads the configuration files again (POST /reload) and
	// returns, sorted, the YAML names of the server settings of the
	// configuration now in force that take effect only when the server
	// restarts (config.Server.RestartOnly against those it started with),
	// which the answer and the audit row of POST /reload and of every
	// configuration edit (which reloads) pass on as restartNeeded. Nil:
	// POST /reload answers 409 and an edit is written without a reload.
	Reload func(ctx context.Context) (restartNeeded []string, err error)
	// Config returns the configuration in force, whose files the
	// configuration routes edit (then calling Reload). Nil: those routes
	// answer 409.
	Config func() *config.Config
	// EditConfig makes a configuration edit as user instead of
	// config.Apply to the files, as a cluster node does for its version in
	// force (then Reload is called as after a file edit). Nil: Apply.
	EditConfig func(ctx context.Context, user, file string, e config.Edit) error
	// Audit records admin actions. Nil: actions are not recorded and
	// GET /audit answers 503.
	Audit state.Audit
	// SigningLog is searched by GET /signlog. Nil: it answers 503.
	SigningLog state.SigningLog
	// Archive is read by GET /archive/{requestId}. Nil: it answers 503.
	Archive state.Archive
	// Now is the clock of the bound on the audit rows of refused logins
	// (auth.MaxRefusalRows a second), so that a test can move it on
	// instead of waiting for the next second. Nil: time.Now.
	Now func() time.Time
	// Logger receives errors that are not the client's. Nil: slog.Default().
	Logger *slog.Logger
}

// Handler serves the admin API. It is safe for concurrent use.
type Handler struct {
	opts Options

	inprocOnce sync.Once
	inproc     *echo.Echo // the routes without HTTP basic, for Do

	editMu sync.Mutex // serialises changes of the configuration files

	verifyMu   sync.Mutex
	lastVerify *VerifyResult

	refused auth.RefusalLog
}

// New returns a Handler with the given options.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{opts: opts}
}

// Register adds the admin routes under BasePath to e.
func (h *Handler) Register(e *echo.Echo) {
	g := e.Group(BasePath, h.authenticate)
	h.addRoutes(g)
	g.Any("", h.notFound)
	g.Any("/*", h.notFound)
}

// addRoutes adds every route of routes to g, each behind its role check,
// a GET route for HEAD too (its answer without the body: net/http drops
// it), as net/http's own router does.
func (h *Handler) addRoutes(g *echo.Group) {
	for _, r := range routes {
		handler := h.requireRole(r.role, func(c echo.Context) error { return r.handler(h, c) })
		g.Match(methodsOf(r.method), r.path, handler)
	}
}

// methodsOf returns the methods a route of method m serves: HEAD with
// GET.
func methodsOf(m string) []string {
	if m == http.MethodGet {
		return []string{http.MethodGet, http.MethodHead}
	}
	return []string{m}
}

type route struct {
	method, path string
	handler      func(*Handler, echo.Context) error // called after requireRole(role)
	// role is the least role that may call the route: config.RoleAuditor
	// (reads), config.RoleOperator (token activation), config.RoleAdmin
	// (everything else). It is declared here only: the API (requireRole)
	// and the web UI (May, which hides what a user may not use, through
	// routeRoles) read it.
	role string
}

// routes are the admin API's routes, the same for every Handler.
var routes = []route{
	{http.MethodGet, "/workers", (*Handler).listWorkers, config.RoleAuditor},
	{http.MethodGet, "/workers/:name", (*Handler).getWorker, config.RoleAuditor},
	{http.MethodGet, "/tokens", (*Handler).listTokens, config.RoleAuditor},
	{http.MethodGet, "/tokens/:token", (*Handler).getToken, config.RoleAuditor},
	{http.MethodPost, "/tokens/:token/activate", (*Handler).activate, config.RoleOperator},
	{http.MethodPost, "/tokens/:token/deactivate", (*Handler).deactivate, config.RoleOperator},
	{http.MethodGet, "/tokens/:token/keys", (*Handler).listKeys, config.RoleAuditor},
	{http.MethodPost, "/tokens/:token/keys", (*Handler).generateKey, config.RoleAdmin},
	{http.MethodGet, "/tokens/:token/keys/:alias", (*Handler).getKey, config.RoleAuditor},
	{http.MethodDelete, "/tokens/:token/keys/:alias", (*Handler).removeKey, config.RoleAdmin},
	{http.MethodPost, "/tokens/:token/keys/:alias/test", (*Handler).testKey, config.RoleAdmin},
	{http.MethodPost, "/tokens/:token/keys/:alias/csr", (*Handler).csr, config.RoleAdmin},
	{http.MethodGet, "/tokens/:token/keys/:alias/chain", (*Handler).getChain, config.RoleAuditor},
	{http.MethodPut, "/tokens/:token/keys/:alias/chain", (*Handler).putChain, config.RoleAdmin},
	{http.MethodPost, "/reload", (*Handler).reload, config.RoleAdmin},
	{http.MethodGet, "/workers/:name/properties", (*Handler).listProperties, config.RoleAuditor},
	{http.MethodPut, "/workers/:name/properties/:property", (*Handler).setProperty, config.RoleAdmin},
	{http.MethodDelete, "/workers/:name/properties/:property", (*Handler).removeProperty, config.RoleAdmin},
	{http.MethodPost, "/workers", (*Handler).addWorker, config.RoleAdmin},
	{http.MethodGet, "/audit", (*Handler).listAudit, config.RoleAuditor},
	{http.MethodGet, "/audit/verify", (*Handler).getVerify, config.RoleAuditor},
	{http.MethodPost, "/audit/verify", (*Handler).verify, config.RoleAuditor},
	{http.MethodGet, "/signlog", (*Handler).listSignLog, config.RoleAuditor},
	{http.MethodGet, "/archive/:requestId", (*Handler).getArchive, config.RoleAuditor},
}

// routeKey names a route of routes by its method and path pattern.
type routeKey struct{ method, path string }

// routeRoles is the role of each route of routes, for May, which the web
// UI asks for every button of every page it renders.
var routeRoles = func() map[routeKey]string {
	m := make(map[routeKey]string, len(routes))
	for _, r := range routes {
		m[routeKey{r.method, r.path}] = r.role
	}
	return m
}()

// allowed returns the methods of the routes matching path (under
// BasePath), for the Allow header of a 405.
func (h *Handler) allowed(path string) []string {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(path, BasePath), "/"), "/")
	var out []string
	for _, r := range routes {
		pat := strings.Split(strings.Trim(r.path, "/"), "/")
		if len(pat) != len(segs) {
			continue
		}
		ok := true
		for i, p := range pat {
			if !strings.HasPrefix(p, ":") && p != segs[i] || segs[i] == "" {
				ok = false
				break
			}
		}
		for _, m := range methodsOf(r.method) {
			if ok && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// userKey is where authenticate leaves the user name in the echo context.
const userKey = "signet.admin.user"

// authenticate is the group middleware: HTTP basic credentials of an
// administrator, or 401/403.
func (h *Handler) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if err := auth.CheckSameOrigin(r, c.Scheme()); err != nil {
			msg := "Cross-site requests to the admin API are refused: call it from signet admin, curl or Signet's own pages."
			if errors.Is(err, auth.ErrOtherScheme) {
				msg = auth.OtherSchemeRefusal
			}
			h.refusal(c, map[string]string{"reason": "cross-site request", "origin": clienttext.Cut(r.Header.Get("Origin"))}, errorf(http.StatusForbidden, "%s", err))
			return fail(c, http.StatusForbidden, msg)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !mediatype.Body(r, mediatype.JSON, pemChainType) {
			return fail(c, http.StatusUnsupportedMediaType, "The admin API takes request bodies as application/json (or a PEM chain as "+pemChainType+"): set the Content-Type header.")
		}
		if !auth.HasCredentials(r) && h.opts.Certificate != nil {
			if u, err := h.opts.Certificate(r); err != nil || u.Name != "" {
				return h.certificate(c, u, err, next)
			}
		}
		name, pass, ok := c.Request().BasicAuth()
		if !ok {
			return fail(c, http.StatusUnauthorized, "Authentication required: send the credentials of an admin user with HTTP basic authentication, or a TLS client certificate of one.")
		}
		c.Set(userKey, name)
		if ref := h.opts.Throttle.Check(name, c.RealIP()); ref != nil {
			h.refusal(c, map[string]string{"reason": ref.Reason}, errorf(ref.Status, "%s", ref.Msg))
			c.Response().Header().Set(echo.HeaderRetryAfter, ref.RetryAfterHeader())
			return fail(c, ref.Status, ref.Msg)
		}
		d := Denied
		if h.opts.Authenticate != nil {
			d = h.opts.Authenticate(name, pass)
		}
		if d == Denied {
			h.opts.Throttle.Fail(name, c.RealIP())
		} else {
			h.opts.Throttle.Succeeded(name, c.RealIP())
		}
		if d == Allowed {
			return next(loggedIn(c, name))
		}
		// Refused credentials are recorded (as the user they claim to be):
		// repeated failures are what an audit reader looks for.
		err := errorf(http.StatusUnauthorized, "Wrong user name or password: check the admin credentials.")
		if d == Forbidden {
			err = noAdminRole(name)
		}
		if d == Forbidden {
			h.record(c, "admin.refused", refusalTarget(r), nil, err)
		} else {
			h.refusal(c, nil, err)
		}
		return h.answer(c, 0, nil, err)
	}
}

// loggedIn returns c with name as the caller of its request's context: the
// server's request log line names the user of every admin request, as it
// does a worker's or a key API's.
func loggedIn(c echo.Context, name string) echo.Context {
	r := c.Request()
	c.SetRequest(r.WithContext(tokens.WithCaller(r.Context(), tokens.Caller{User: name})))
	return c
}

// refusal records the refusal err of a client that proved nothing (a
// cross-site request, wrong or throttled credentials, a certificate that
// does not verify) within the bound of refused logins, with details and
// the client's text cut by clienttext: each row is a durable write an
// anonymous client asks for, and was written for every cross-site or
// throttled request, holding the path and the claimed name whole.
func (h *Handler) refusal(c echo.Context, details map[string]string, err error) {
	ok, more := h.refused.Admit(h.opts.Now())
	if !ok {
		return
	}
	if details == nil {
		details = map[string]string{}
	}
	maps.Copy(details, more)
	c.Set(userKey, clienttext.Cut(user(c)))
	h.record(c, "admin.refused", refusalTarget(c.Request()), details, err)
}

// refusalTarget is the target of an admin.refused row: the method and
// path, cut by clienttext.
func refusalTarget(r *http.Request) string {
	return clienttext.Cut(r.Method + " " + r.URL.Path)
}

// noAdminRole is the refusal of a user who holds none of auth.AdminRoles.
func noAdminRole(name string) error {
	return errorf(http.StatusForbidden, "User %s has no role of the admin API: give it the admin, operator or auditor role.", name)
}

// certificate goes on with the user u that a client certificate
// authenticated, or answers the refusal err (403), and the refusal of a
// user without a role of the admin API. Refusals are audited: those of a
// certificate that does not verify (anyone can make one) within the
// bound of refused logins, the others, of a certificate the client CA
// issued, always.
func (h *Handler) certificate(c echo.Context, u config.User, err error, next echo.HandlerFunc) error {
	r := c.Request()
	details := map[string]string{"credential": "client certificate"}
	var ref *auth.Refusal
	switch {
	case errors.As(err, &ref):
		c.Set(userKey, ref.Who)
		details["reason"] = ref.Reason
		err = errorf(ref.Status, "%s", ref.Msg)
		if !ref.Authenticated {
			h.refusal(c, details, err)
			return h.answer(c, 0, nil, err)
		}
	case err != nil:
		return h.answer(c, 0, nil, err)
	case !slices.ContainsFunc(auth.AdminRoles(), u.HasRole):
		c.Set(userKey, u.Name)
		details["reason"] = "role"
		err = noAdminRole(u.Name)
	default:
		c.Set(userKey, u.Name)
		return next(loggedIn(c, u.Name))
	}
	h.record(c, "admin.refused", refusalTarget(r), details, err)
	return h.answer(c, 0, nil, err)
}

// allows reports whether a user holding roles may do what needs the role
// need: admin may do everything, operator what needs operator or auditor,
// auditor what needs auditor. It is the one role check of the admin API
// and the web UI.
func allows(roles []string, need string) bool {
	return slices.Contains(roles, config.RoleAdmin) ||
		need == config.RoleOperator && slices.Contains(roles, config.RoleOperator) ||
		need == config.RoleAuditor && (slices.Contains(roles, config.RoleOperator) || slices.Contains(roles, config.RoleAuditor))
}

// roles returns the roles of user (every role when Options.Roles is nil).
func (h *Handler) roles(user string) []string {
	if h.opts.Roles == nil {
		return config.Roles()
	}
	return h.opts.Roles(user)
}

// Allowed reports whether user's roles allow what needs the role need.
func (h *Handler) Allowed(user, need string) bool { return allows(h.roles(user), need) }

// May reports whether user may call the route method pattern, a path as
// the API declares it ("/tokens/:token/activate"): what the web UI shows
// a user. An unknown route is refused.
func (h *Handler) May(user, method, pattern string) bool {
	role, ok := routeRoles[routeKey{method, pattern}]
	return ok && h.Allowed(user, role)
}

// Require refuses who unless one of its roles allows need, as the API
// refuses a route: the same check, the same sentence (naming what, such as
// "POST /admin/try") and the same audit record. The web UI asks it for
// the actions it does itself, which call no route.
func (h *Handler) Require(ctx context.Context, who Caller, need, what string) error {
	err := h.roleRefusal(who.User, need, what)
	if err == nil {
		return nil
	}
	h.append(ctx, who.User, who.Remote, who.RequestID, "admin.refused", what, map[string]string{"reason": "role", "need": need}, err)
	var se *statusError
	errors.As(err, &se)
	return &APIError{Status: se.code, Message: se.msg}
}

// roleRefusal is the 403 of user for what, nil when its roles allow need.
func (h *Handler) roleRefusal(user, need, what string) error {
	roles := h.roles(user)
	if allows(roles, need) {
		return nil
	}
	return errorf(http.StatusForbidden, "User %s (roles %s) may not %s: that needs the %s role.", user, strings.Join(roles, ", "), what, need)
}

// requireRole lets a user through to next when one of its roles allows
// need; a refusal is a 403 written to the audit log.
func (h *Handler) requireRole(need string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		err := h.roleRefusal(user(c), need, r.Method+" "+strings.TrimPrefix(r.URL.Path, BasePath))
		if err == nil {
			return next(c)
		}
		h.record(c, "admin.refused", r.Method+" "+r.URL.Path, map[string]string{"reason": "role", "need": need}, err)
		return h.answer(c, 0, nil, err)
	}
}

func user(c echo.Context) string {
	s, _ := c.Get(userKey).(string)
	return s
}

func (h *Handler) notFound(c echo.Context) error {
	if methods := h.allowed(c.Request().URL.Path); len(methods) > 0 {
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(methods, ", "))
		// The sentence names what to call; HEAD goes with GET.
		use := slices.DeleteFunc(methods, func(m string) bool { return m == http.MethodHead })
		return fail(c, http.StatusMethodNotAllowed, fmt.Sprintf("This admin endpoint does not take %s: use %s.", c.Request().Method, strings.Join(use, " or ")))
	}
	return fail(c, http.StatusNotFound, "No such admin endpoint: see the README section Administration for the admin API.")
}

// apiError is the error body.
type apiError struct {
	Error string `json:"error"`
	// Problems are the configuration problems of a refused change.
	Problems []string `json:"problems,omitempty"`
}

// fail answers code with msg as {"error": msg}.
func fail(c echo.Context, code int, msg string) error {
	if code == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, authChallenge)
	}
	return c.JSON(code, apiError{Error: msg})
}

// statusError is an error with the status code and sentence the client gets.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &statusError{code: code, msg: fmt.Sprintf(format, args...)}
}

// answer renders err (a *statusError, or an unexpected failure) or the
// value v with status code.
func (h *Handler) answer(c echo.Context, code int, v any, err error) error {
	if err == nil {
		return c.JSON(code, v)
	}
	var pe *problemsError
	if errors.As(err, &pe) {
		return c.JSON(pe.code, apiError{Error: pe.msg, Problems: pe.problems})
	}
	var se *statusError
	if errors.As(err, &se) {
		return fail(c, se.code, se.msg)
	}
	h.opts.Logger.Error("admin request failed", "path", c.Path(), "error", err)
	return fail(c, http.StatusInternalServerError, "The server could not complete the request: see the server log.")
}

// decode reads a JSON body into v: one object, no unknown fields. An empty
// body leaves v as it is when optional is true.
func decode(c echo.Context, v any, optional bool) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "The request body could not be read: send it again.")
	}
	if len(body) > maxBody {
		return errorf(http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes: send less.", maxBody)
	}
	if strings.TrimSpace(string(body)) == "" {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "The request body is empty: send a JSON object.")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// encoding/json's errors repeat the client's text whole (a number
		// literal, an unknown field's name) and name Go types: say what to
		// send instead, with the client's text quoted by clienttext.
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute) && ute.Field != "":
			return errorf(http.StatusBadRequest, "Field %s of the request has the wrong type (%s): send %s.", clienttext.Quote(ute.Field), jsonKind(ute.Value), jsonType(ute.Type.Kind()))
		case errors.As(err, &ute):
			return errorf(http.StatusBadRequest, "The request body is a JSON %s, not an object: send one JSON object.", jsonKind(ute.Value))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.TrimPrefix(err.Error(), "json: unknown field ")
			if f, uerr := strconv.Unquote(field); uerr == nil {
				field = f
			}
			return errorf(http.StatusBadRequest, "The request has the unknown field %s: remove it.", clienttext.Quote(field))
		case errors.As(err, &se):
			return errorf(http.StatusBadRequest, "The request body is not a valid JSON object (syntax error at byte %d): fix the JSON.", se.Offset)
		}
		return errorf(http.StatusBadRequest, "The request body is not a valid JSON object (it ends early): fix the JSON.")
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "The request body holds more than one JSON value: send one object.")
	}
	return nil
}

// jsonType words what a field of Go kind k takes, for a client who sent
// another JSON type: an int field takes a whole number, not any number.
func jsonType(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return "a value of the documented type"
}

// jsonKind is the JSON type of an UnmarshalTypeError's Value ("number"
// of "number 1e400"), without the client's literal.
func jsonKind(value string) string {
	kind, _, _ := strings.Cut(value, " ")
	return kind
}

// record writes an audit entry for an action; err is the action's outcome.
// It never fails the action: a failure to record is logged.
func (h *Handler) record(c echo.Context, action, target string, details map[string]string, err error) {
	// The action is done: record it even if the client went away.
	h.append(context.WithoutCancel(c.Request().Context()), user(c), c.RealIP(), c.Response().Header().Get(echo.HeaderXRequestID), action, target, details, err)
}

// append writes the audit entry of record for actor, from the client
// address remote, in the request requestID ("" for none).
func (h *Handler) append(ctx context.Context, actor, remote, requestID, action, target string, details map[string]string, err error) {
	if h.opts.Audit == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
		var se *statusError
		if !errors.As(err, &se) {
			outcome = "failed: internal error"
		}
	}
	if details == nil {
		details = map[string]string{}
	}
	details["remote"] = remote
	if requestID != "" {
		details["requestId"] = requestID
	}
	e := state.Entry{Actor: actor, Action: action, Target: target, Outcome: outcome, Details: details}
	if _, aerr := h.opts.Audit.Append(ctx, e); aerr != nil {
		h.opts.Logger.Error("audit record could not be written", "action", action, "target", target, "error", aerr)
	}
}

func (h *Handler) set() *workers.Set {
	if h.opts.Workers == nil {
		return workers.NewSet(nil, nil)
	}
	return h.opts.Workers.Current()
}

// acquire returns the Set in force held until release, where the
// WorkerSource can hold it (workers.Registry.Acquire), for what reads it
// outside a request's own Set: the metrics' status checks, the workers of
// a reload's answer. Read unheld, a Set swapped out meanwhile has its
// dropped tokens closed under the reads.
func (h *Handler) acquire() (set *workers.Set, release func()) {
	if a, ok := h.opts.Workers.(interface {
		Acquire() (*workers.Set, func())
	}); ok {
		return a.Acquire()
	}
	return h.set(), func() {}
}

// setIn returns the Set the request of ctx holds, where a WorkerSource
// tells it (workers.Registry.In: web's admit acquired it), or the Set in
// force: a token the request reads, signs with or activates is then one
// no reload can close under it. Every route that reads a token or a
// worker's status looks it up here (TestReadsUseTheRequestsSet).
func (h *Handler) setIn(ctx context.Context) *workers.Set {
	if in, ok := h.opts.Workers.(interface {
		In(context.Context) *workers.Set
	}); ok {
		return in.In(ctx)
	}
	return h.set()
}

// ReloadResult is POST /reload's answer.
type ReloadResult struct {
	// Workers are the workers now in force, as GET /workers lists them.
	Workers []WorkerStatus `json:"workers"`
	// RestartNeeded are the YAML names of the server settings in the
	// configuration now in force that differ from those the server started
	// with and take effect only when it restarts (listen, the limits…);
	// until then the ones it started with stay. Empty (never null): none.
	RestartNeeded []string `json:"restartNeeded"`
}

// RestartNote is the sentence that names the settings waiting for a
// restart, "" when none does: what signet admin reload and the web UI say
// after a reload, in the same words.
func (r ReloadResult) RestartNote() string { return restartNote(r.RestartNeeded) }

// restartNote is the one sentence of RestartNote, for every answer that
// carries restartNeeded (ReloadResult, ConfigChange).
func restartNote(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "These changed server settings take effect when the server restarts, and the ones it started with stay in force until then: " + strings.Join(names, ", ") + "."
}

// RestartDetail adds to details, an audit row's, the settings of a reload
// that wait for a restart (restartNeeded, as Options.Reload returns them)
// and returns it; none adds nothing. It is the one form of that detail,
// the admin's rows of every route that reloads and the server's own
// config.reload and config.apply rows alike.
func RestartDetail(details map[string]string, restartNeeded []string) map[string]string {
	if len(restartNeeded) == 0 {
		return details
	}
	if details == nil {
		details = map[string]string{}
	}
	details["restartNeeded"] = strings.Join(restartNeeded, ", ")
	return details
}

// reloadConfig calls Options.Reload, for POST /reload and the edits of
// the configuration, and returns its restartNeeded as every answer carries
// it: the list the reload computed, empty (never nil) for none.
func (h *Handler) reloadConfig(ctx context.Context) ([]string, error) {
	names, err := h.opts.Reload(ctx)
	if err != nil {
		return nil, err
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

// reload handles POST /reload.
func (h *Handler) reload(c echo.Context) error {
	var req struct{}
	err := decode(c, &req, true)
	var res ReloadResult
	if err == nil {
		if h.opts.Reload == nil {
			err = errorf(http.StatusConflict, "This server cannot reload its configuration: restart it instead.")
		} else if res.RestartNeeded, err = h.reloadConfig(c.Request().Context()); err != nil {
			err = errorf(http.StatusBadRequest, "The configuration was not reloaded and the running one stays: %s", oneLine(err.Error()))
		}
	}
	h.record(c, "config.reload", "config", RestartDetail(nil, res.RestartNeeded), err)
	if err != nil {
		return h.answer(c, 0, nil, err)
	}
	// The workers now in force, not those of the Set this request holds.
	set, release := h.acquire()
	defer release()
	res.Workers = workerStatuses(c.Request().Context(), set)
	return c.JSON(http.StatusOK, res)
}

// oneLine joins the lines of a multi-line error (a configuration with
// several problems, each a sentence) into one: after a line that ends a
// sentence with a space, after another with "; ", so that no ".;" comes
// between two problems.
func oneLine(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.ContainsAny(b.String()[b.Len()-1:], ".!?:") {
				b.WriteByte(' ')
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// param is the path parameter name, read as every surface reads a name in
// the path (internal/pathparam): percent-decoded once.
func param(c echo.Context, name string) string {
	return pathparam.Decode(c.Request(), c.Param(name))
}
