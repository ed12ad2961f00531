// Package ui serves Signet's admin web UI under /admin/: a dashboard of the
// workers, a page per worker with its properties, the crypto tokens and
// their keys, a form to try a worker with a file, and the audit log.
//
// The UI implements no action of its own: every read and every change goes
// through the admin API's handlers in process (admin.Handler.Call), so that
// the web UI, `signet admin` and REST clients get the same checks, the same
// audit records and the same error sentences. Signing in "Try it" goes
// through the server's own worker endpoint.
//
// Pages are Go html/template files and one style sheet, embedded in the
// binary; there is no script and no front-end build. Charts are small SVG
// drawn on the server from the counters /metrics exports.
//
// Login takes the name and password of a user of the configuration with a
// role of the admin API (admin, operator, auditor) and starts a session
// (web/auth); pages show only what the user's roles allow, by the API's
// own role check, and the API refuses the rest. Every form carries the
// session's CSRF token; a POST without it gets the 403 page.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/internal/pathparam"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// BasePath is where the UI is served.
const BasePath = "/admin"

// cookieName is the session cookie.
const cookieName = "signet_admin"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the UI.
type Options struct {
	// Admin is the admin API, whose handlers the UI calls.
	Admin *admin.Handler
	// Authenticate checks a login's name and password, as the admin API
	// checks HTTP basic credentials: Allowed for a user with a role of the
	// admin API (admin, operator, auditor), who then sees and may do what
	// the role allows.
	Authenticate admin.Authenticator
	// Throttle slows password guessing per user and client address, as on
	// the other surfaces. Nil: a throttle of the UI's own.
	Throttle *auth.Throttle
	// Sessions keeps the logged-in users. Nil: a store with the default
	// idle timeout and lifetime.
	Sessions *auth.Sessions
	// Stamp returns what a session of user depends on
	// (auth.Authenticator.Stamp: its password hash, roles and certificate
	// rules; "" for a user that no longer exists). A session whose user's
	// stamp is no longer the one of its login ends, so that a changed
	// password, role or a removed user logs the sessions out at their
	// next request. Nil: sessions end at logout, idle or the end of
	// their lifetime only.
	Stamp func(user string) string
	// Workers serves the worker endpoints (the server's handler): "Try it"
	// signs through it.
	Workers http.Handler
	// Metrics samples the counters /metrics exports, for the charts. Nil:
	// no charts.
	Metrics *Sampler
	// Audit records logins and "Try it" signatures. Nil: not recorded.
	Audit state.Audit
	// Now is the clock of the bound on the audit rows of refused logins
	// (auth.MaxRefusalRows a second). Nil: time.Now.
	Now func() time.Time
	// Logger receives errors that are not the user's. Nil: slog.Default().
	Logger *slog.Logger
}

// UI is the admin web UI.
type UI struct {
	opts    Options
	pages   map[string]*template.Template
	refused auth.RefusalLog // bounds the audit rows of refused logins
}

// New parses the templates and returns the UI.
func New(opts Options) (*UI, error) {
	if opts.Sessions == nil {
		opts.Sessions = auth.NewSessions(cookieName, BasePath+"/", 0, 0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Throttle == nil {
		opts.Throttle = auth.NewThrottle()
	}
	u := &UI{opts: opts, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		u.pages[base] = t
	}
	return u, nil
}

// Register adds the UI's routes to e. The admin API under /admin/api/ keeps
// its own routes.
func (u *UI) Register(e *echo.Echo) {
	static, _ := fs.Sub(staticFS, "static")
	// Every page answers HEAD as GET: a HEAD fell to the catch-all, and
	// the session check took it for a form.
	read := []string{http.MethodGet, http.MethodHead}
	e.Match(read, BasePath+"/static/*", u.static(static), u.headers)
	e.Match(read, BasePath, u.redirect("/dashboard"), u.headers)
	e.Match(read, BasePath+"/", u.redirect("/dashboard"), u.headers)
	e.Match(read, BasePath+"/login", u.loginPage, u.headers)
	e.POST(BasePath+"/login", u.login, u.headers)
	g := e.Group(BasePath, u.headers, u.methods, u.session)
	g.POST("/logout", u.logout)
	g.Match(read, "/dashboard", u.dashboard)
	g.POST("/dashboard", u.bulk)
	g.Match(read, "/workers/new", u.newWorkerPage)
	g.POST("/workers/new", u.addWorker)
	g.Match(read, "/workers/:name", u.workerPage)
	g.POST("/workers/:name/properties", u.setProperty)
	g.POST("/workers/:name/properties/remove", u.removeProperty)
	g.Match(read, "/tokens", u.tokensPage)
	g.POST("/tokens/:token/activate", u.activate)
	g.POST("/tokens/:token/deactivate", u.deactivate)
	g.POST("/tokens/:token/keys", u.generateKey)
	g.POST("/tokens/:token/keys/:alias/test", u.testKey)
	g.POST("/tokens/:token/keys/:alias/csr", u.csr)
	g.POST("/tokens/:token/keys/:alias/chain", u.uploadChain)
	g.POST("/tokens/:token/keys/:alias/remove", u.removeKey)
	g.Match(read, "/try", u.tryPage)
	g.POST("/try", u.try)
	g.Match(read, "/audit", u.auditPage)
	g.Match(read, "/signlog", u.signLogPage)
	g.POST("/audit/verify", u.verify)
	g.Any("/*", u.notFound)
}

func (u *UI) redirect(to string) echo.HandlerFunc {
	return func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, BasePath+to) }
}

// contentSecurityPolicy is the CSP of every UI answer. The UI has no
// script at all, so script-src is 'none', not the 'self' default-src
// would allow: the server's own origin also answers with content a client
// chose (signatures, archived requests, error sentences), and no page may
// ever run any of it as a script.
const contentSecurityPolicy = "default-src 'self'; script-src 'none'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// strictTransportSecurity is the HSTS header of every UI answer to an
// https request (secure, the rule of the Secure session cookie): a
// browser that has seen the UI over https goes on asking for it so, and
// an attacker on the network cannot serve it a plain http page (SSL
// stripping) that would take the login form's password. A year, as is
// usual; not includeSubDomains, which would bind other hosts of the
// organisation. Browsers ignore it over a connection whose certificate
// they do not trust (RFC 6797, 8.1), so the demo's own CA binds nothing.
const strictTransportSecurity = "max-age=31536000"

// headers sets the security headers of every UI answer: no framing, no
// script at all, no style from elsewhere, no caching of pages that hold
// state, https only once seen over https.
func (u *UI) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		if secure(c) {
			h.Set("Strict-Transport-Security", strictTransportSecurity)
		}
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		// same-origin, not no-referrer: with no-referrer browsers send
		// "Origin: null" on form posts, which the origin check refuses.
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(c.Request().URL.Path, BasePath+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		// A form posted from another site is refused before anything else,
		// the login form too (which has no session token yet).
		if r := c.Request(); r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := auth.CheckSameOrigin(r, c.Scheme()); err != nil {
				// Within the bound of refused logins, the client's text cut:
				// each row is a durable write an anonymous client asks for.
				if ok, details := u.refused.Admit(u.opts.Now()); ok {
					u.record(c, "", "ui.refused", clienttext.Cut(r.URL.Path), "Cross-site form refused.", withDetail(details, "origin", clienttext.Cut(r.Header.Get("Origin"))))
				}
				msg := "This form was sent from another site and is refused: use Signet's own pages."
				if errors.Is(err, auth.ErrOtherScheme) {
					msg = auth.OtherSchemeRefusal
				}
				return u.forbidden(c, nil, msg)
			}
		}
		return next(c)
	}
}

const sessionKey = "signet.ui.session"

// current returns the request's session, when it exists, has not idled
// out and its user's stamp is still the one of its login; a session whose
// stamp changed (password, roles, user removed) is ended here.
func (u *UI) current(c echo.Context) (*auth.Session, bool) {
	s, ok := u.opts.Sessions.Get(c.Request())
	if !ok {
		return nil, false
	}
	if u.opts.Stamp != nil && u.opts.Stamp(s.User) != s.Stamp {
		u.opts.Sessions.End(c.Response(), c.Request(), secure(c))
		u.record(c, s.User, "ui.logout", "ui", "Session ended: the user's password, roles or existence changed since login.", nil)
		return nil, false
	}
	return s, true
}

// session sends anonymous visitors to the login page and refuses a POST
// without the session's CSRF token. HEAD reads, as GET does (and as the
// same-origin check of headers has it): it was taken for a form, answered
// with the 403 page and written to the audit log as a refused CSRF token.
func (u *UI) session(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		read := r.Method == http.MethodGet || r.Method == http.MethodHead
		s, ok := u.current(c)
		if !ok {
			if !read {
				return u.forbidden(c, nil, "Your session has ended: log in again, then repeat the change.")
			}
			return c.Redirect(http.StatusSeeOther, BasePath+"/login?next="+url.QueryEscape(r.URL.RequestURI()))
		}
		c.Set(sessionKey, s)
		// The server's request log line names the session's user, as it
		// does a worker's.
		c.SetRequest(r.WithContext(tokens.WithCaller(r.Context(), tokens.Caller{User: s.User})))
		r = c.Request()
		if !read {
			// A field that does not parse is dropped by Go's form parser,
			// which keeps the rest: the form's action ran on what was
			// left. The form is refused whole.
			if _, err := c.FormParams(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return err
				}
				return u.render(c, http.StatusBadRequest, "badrequest", "Bad request", "The form could not be read: reload the page and send it again.")
			}
		}
		if !read && !s.ValidCSRF(r) {
			u.record(c, s.User, "ui.refused", clienttext.Cut(r.URL.Path), "The form has no valid CSRF token.", nil)
			return u.forbidden(c, s, "The form was sent without its security token (CSRF): reload the page and send it again.")
		}
		return next(c)
	}
}

// tryRole is the role "Try it" needs: it signs, which operators do (as on
// the NetHSM API) and auditors, who only read, do not.
const tryRole = config.RoleOperator

func sessionOf(c echo.Context) *auth.Session {
	s, _ := c.Get(sessionKey).(*auth.Session)
	return s
}

// caller is the session's user calling the admin API.
func caller(c echo.Context) admin.Caller {
	who := admin.Caller{Remote: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
	if s := sessionOf(c); s != nil {
		who.User = s.User
	}
	return who
}

// call calls the admin API as the session's user.
func (u *UI) call(c echo.Context, method, path string, in, out any) error {
	return u.opts.Admin.Call(c.Request().Context(), caller(c), method, path, in, out)
}

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the active navigation entry
	User  string
	CSRF  string
	Flash *auth.Flash
	Data  any

	ui *UI
}

// May reports whether the page's user may call the admin API route method
// pattern ("POST", "/tokens/:token/activate"): the API's own role check,
// so that a page shows only the buttons its user may use.
func (p page) May(method, pattern string) bool {
	return p.User != "" && p.ui.opts.Admin.May(p.User, method, pattern)
}

// MayTry reports whether the page's user may sign with "Try it".
func (p page) MayTry() bool {
	return p.User != "" && p.ui.opts.Admin.Allowed(p.User, tryRole)
}

// render renders the page template name with status code.
func (u *UI) render(c echo.Context, code int, name, title string, data any) error {
	t, ok := u.pages[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	p := page{Title: title, Nav: name, Data: data, ui: u}
	if s := sessionOf(c); s != nil {
		p.User, p.CSRF, p.Flash = s.User, s.CSRF, s.TakeFlash()
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		u.opts.Logger.Error("admin UI page could not be rendered", "page", name, "error", err)
		return c.String(http.StatusInternalServerError, "The page could not be shown: see the server log.")
	}
	return c.HTML(code, b.String())
}

// done ends a POST: the outcome as a flash message, then back to a page.
func (u *UI) done(c echo.Context, to string, okText string, err error) error {
	return u.doneKeeping(c, to, okText, err, nil)
}

// doneKeeping is done that keeps form, what the form held, with a refusal
// for the page to show again: an operator under pressure retyped a
// refused value the page had dropped.
func (u *UI) doneKeeping(c echo.Context, to string, okText string, err error, form map[string]string) error {
	s := sessionOf(c)
	var ae *admin.APIError
	switch {
	case err == nil:
		s.SetFlash(auth.Flash{Text: okText})
	case errors.As(err, &ae):
		text := ae.Message
		if len(ae.Problems) > 0 {
			// The sentence ends with the first problem, which the list shows.
			if i := strings.Index(text, ae.Problems[0]); i > 0 {
				text = strings.TrimSpace(text[:i])
			}
		}
		s.SetFlash(auth.Flash{Error: true, Text: text, Problems: ae.Problems, Form: form})
	default:
		u.opts.Logger.Error("admin UI action failed", "path", c.Request().URL.Path, "error", err)
		s.SetFlash(auth.Flash{Error: true, Text: "The server could not complete the action: see the server log."})
	}
	return c.Redirect(http.StatusSeeOther, BasePath+to)
}

func (u *UI) forbidden(c echo.Context, s *auth.Session, msg string) error {
	if s != nil {
		c.Set(sessionKey, s)
	}
	return u.render(c, http.StatusForbidden, "forbidden", "Forbidden", msg)
}

func (u *UI) notFound(c echo.Context) error {
	return u.render(c, http.StatusNotFound, "notfound", "Not found", c.Request().URL.Path)
}

// record writes an audit record of the UI itself (logins, "Try it").
// withDetail is details (nil for none) with k set to v.
func withDetail(details map[string]string, k, v string) map[string]string {
	if details == nil {
		details = map[string]string{}
	}
	details[k] = v
	return details
}

func (u *UI) record(c echo.Context, user, action, target, outcome string, details map[string]string) {
	if u.opts.Audit == nil {
		return
	}
	if details == nil {
		details = map[string]string{}
	}
	details["remote"] = c.RealIP()
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		details["requestId"] = id
	}
	ctx := context.WithoutCancel(c.Request().Context())
	if _, err := u.opts.Audit.Append(ctx, state.Entry{Actor: user, Action: action, Target: target, Outcome: outcome, Details: details}); err != nil {
		u.opts.Logger.Error("audit record could not be written", "action", action, "error", err)
	}
}

// loginPage shows the login form.
func (u *UI) loginPage(c echo.Context) error {
	if _, ok := u.current(c); ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return u.render(c, http.StatusOK, "login", "Log in", loginData{Next: c.QueryParam("next")})
}

type loginData struct {
	Next, User, Error string
}

// uiRoles names the roles that may log in, from the admin API's own list
// (the UI checks them by the API's role check), as "admin, operator or
// auditor": the login page and the refusal of a user without them say the
// same, and neither goes stale when a role is added.
func uiRoles() string {
	r := auth.AdminRoles()
	if len(r) < 2 {
		return strings.Join(r, "")
	}
	return strings.Join(r[:len(r)-1], ", ") + " or " + r[len(r)-1]
}

// safeNext keeps a redirect after login inside the UI.
func safeNext(next string) string {
	if strings.HasPrefix(next, BasePath+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") && !strings.HasPrefix(next, BasePath+"/api") {
		return next
	}
	return BasePath + "/dashboard"
}

// login checks the form's name and password. The login form needs no CSRF
// token of a session (there is none yet); SameSite=Strict and the fresh
// session ID at login keep a foreign site from logging a browser in as
// someone else usefully.
func (u *UI) login(c echo.Context) error {
	// A post that is no form, or names no user, is no login attempt: 400,
	// without an audit row or a failure counted against the throttle. It
	// was "Wrong user name or password", and a form of which one field did
	// not parse was counted against the user named in another.
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if _, err := c.FormParams(); err != nil || (ct != echo.MIMEApplicationForm && ct != echo.MIMEMultipartForm) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return u.render(c, http.StatusBadRequest, "login", "Log in", loginData{Error: "The login form could not be read: send it from Signet's login page."})
	}
	name, pass := c.FormValue("user"), c.FormValue("password")
	if strings.TrimSpace(name) == "" {
		return u.render(c, http.StatusBadRequest, "login", "Log in", loginData{Next: c.FormValue("next"), Error: "Enter a user name and its password."})
	}
	addr := c.RealIP()
	// The claimed name is quoted as every surface quotes a client's text
	// (clienttext.Quote, cut after MaxEcho bytes): whole, a megabyte name
	// came back in the sentence. The wait is the throttle's Retry-After.
	if ref := u.opts.Throttle.Check(name, addr); ref != nil {
		secs := ref.RetryAfterHeader()
		c.Response().Header().Set(echo.HeaderRetryAfter, secs)
		if ok, details := u.refused.Admit(u.opts.Now()); ok {
			u.record(c, clienttext.Cut(name), "ui.login", "ui", "Refused: too many failed logins.", details)
		}
		return u.render(c, http.StatusTooManyRequests, "login", "Log in", loginData{Next: c.FormValue("next"), User: name,
			Error: fmt.Sprintf("Too many failed logins for %s from your address: try again in %s seconds.", clienttext.Quote(name), secs)})
	}
	d := admin.Denied
	if u.opts.Authenticate != nil && name != "" {
		d = u.opts.Authenticate(name, pass)
	}
	if d == admin.Denied {
		u.opts.Throttle.Failed(name, addr)
	} else {
		u.opts.Throttle.Succeeded(name, addr)
	}
	switch d {
	case admin.Allowed:
		stamp := ""
		if u.opts.Stamp != nil {
			stamp = u.opts.Stamp(name)
		}
		u.opts.Sessions.Start(c.Response(), c.Request(), secure(c), name, stamp)
		u.record(c, name, "ui.login", "ui", "ok", nil)
		return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
	case admin.Forbidden:
		u.record(c, name, "ui.login", "ui", "User has no role of the admin UI.", nil)
		return u.forbidden(c, nil, fmt.Sprintf("User %s has no role of the admin UI: log in with a user that has the %s role.", name, uiRoles()))
	}
	if ok, details := u.refused.Admit(u.opts.Now()); ok {
		u.record(c, clienttext.Cut(name), "ui.login", "ui", "Wrong user name or password.", details)
	}
	return u.render(c, http.StatusUnauthorized, "login", "Log in", loginData{Next: c.FormValue("next"), User: name, Error: "Wrong user name or password: check them and try again."})
}

// secure reports whether the client's request was https, over TLS or
// behind a trusted reverse proxy that terminates it (the web server's
// rule, echo's Scheme): the session cookie is Secure then.
func secure(c echo.Context) bool { return c.Scheme() == "https" }

func (u *UI) logout(c echo.Context) error {
	s := sessionOf(c)
	u.opts.Sessions.End(c.Response(), c.Request(), secure(c))
	u.record(c, s.User, "ui.logout", "ui", "ok", nil)
	return c.Redirect(http.StatusSeeOther, BasePath+"/login")
}

// funcs are the template helpers.
func funcs() template.FuncMap {
	return template.FuncMap{
		"spark":   spark,
		"join":    strings.Join,
		"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"lower":   strings.ToLower,
		"pathseg": url.PathEscape,
		"uiRoles": uiRoles,
	}
}

// param is the path parameter name, read as every surface reads a name in
// the path (internal/pathparam): percent-decoded once.
func param(c echo.Context, name string) string {
	return pathparam.Decode(c.Request(), c.Param(name))
}
