package ui

import (
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
)

// TestSessionGate checks the session middleware without a browser: an
// anonymous visit goes to the login page, a POST without the session's
// CSRF token gets the 403 page.
func TestSessionGate(t *testing.T) {
	t.Parallel()
	u, e, _ := serveAnyLogin(t)
	serve := func(method, path string, cookies []*http.Cookie, form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	login := serve(http.MethodPost, "/admin/login", nil, url.Values{"user": {"admin"}, "password": {"x"}})
	cookies := login.Result().Cookies()
	s, ok := u.opts.Sessions.Get(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
		r.AddCookie(cookies[0])
		return r
	}())
	if !ok {
		t.Fatal("no session after login")
	}
	tests := []struct {
		name, method, path string
		cookies            []*http.Cookie
		form               url.Values
		code               int
		location           string
	}{
		{"anonymous page", http.MethodGet, "/admin/tokens", nil, nil, http.StatusSeeOther, "/admin/login?next=%2Fadmin%2Ftokens"},
		{"anonymous unknown page", http.MethodGet, "/admin/nothing", nil, nil, http.StatusSeeOther, "/admin/login?next=%2Fadmin%2Fnothing"},
		{"anonymous post", http.MethodPost, "/admin/tokens/demo/deactivate", nil, nil, http.StatusForbidden, ""},
		{"post without CSRF", http.MethodPost, "/admin/tokens/demo/deactivate", cookies, url.Values{}, http.StatusForbidden, ""},
		{"post with a wrong CSRF", http.MethodPost, "/admin/tokens/demo/deactivate", cookies, url.Values{"csrf": {"x" + s.CSRF}}, http.StatusForbidden, ""},
		{"logout with CSRF", http.MethodPost, "/admin/logout", cookies, url.Values{"csrf": {s.CSRF}}, http.StatusSeeOther, "/admin/login"},
		{"after logout", http.MethodGet, "/admin/audit", cookies, nil, http.StatusSeeOther, "/admin/login?next=%2Fadmin%2Faudit"},
	}
	for _, tt := range tests { // in order: the last ones end the session
		w := serve(tt.method, tt.path, tt.cookies, tt.form)
		if w.Code != tt.code || w.Header().Get("Location") != tt.location {
			t.Errorf("%s: %d %q, want %d %q", tt.name, w.Code, w.Header().Get("Location"), tt.code, tt.location)
		}
		if w.Code == http.StatusForbidden && !strings.Contains(w.Body.String(), "<h1>Forbidden</h1>") {
			t.Errorf("%s: the answer is not the 403 page", tt.name)
		}
	}
}

// TestLoginPageNamesEveryRole: the login page says who may log in, and a
// user of each role of the admin API may (the UI checks the API's roles),
// so it names them all, as the refusal of a user without any does; it said
// "the admin role" while operators and auditors logged in.
func TestLoginPageNamesEveryRole(t *testing.T) {
	t.Parallel()
	_, e := serveUI(t, Options{Admin: admin.New(admin.Options{}), Authenticate: func(string, string) admin.Decision { return admin.Forbidden }})
	pages := []struct {
		name, method string
		form         url.Values
	}{
		{"login page", http.MethodGet, nil},
		{"refusal of a user without a role", http.MethodPost, url.Values{"user": {"app"}, "password": {"right"}}},
	}
	for _, p := range pages {
		r := httptest.NewRequest(p.method, "/admin/login", strings.NewReader(p.form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		for _, role := range auth.AdminRoles() {
			if !strings.Contains(w.Body.String(), role) {
				t.Errorf("%s does not name the role %s:\n%s", p.name, role, w.Body.String())
			}
		}
	}
}

// TestLoginRefusals checks the login form without a browser: wrong
// password, a user without the admin role, a cross-site post, throttling.
func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	audit := state.NewMemory()
	_, e := serveUI(t, Options{
		Admin: admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision {
			switch {
			case user == "admin" && pass == "right":
				return admin.Allowed
			case user == "operator" && pass == "right":
				return admin.Forbidden
			}
			return admin.Denied
		},
		Audit: audit,
	})
	post := func(user, pass, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"user": {user}, "password": {pass}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	tests := []struct {
		name, user, pass, origin string
		code                     int
		cookie                   bool
	}{
		{"right", "admin", "right", "http://example.com", http.StatusSeeOther, true},
		{"cross-site", "admin", "right", "https://evil.example", http.StatusForbidden, false},
		{"not admin", "operator", "right", "", http.StatusForbidden, false},
		{"wrong", "admin", "wrong", "", http.StatusUnauthorized, false},
		{"unknown user", "nobody", "x", "", http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		w := post(tt.user, tt.pass, tt.origin)
		if w.Code != tt.code || (len(w.Result().Cookies()) > 0) != tt.cookie {
			t.Errorf("%s: %d, cookies %v; want %d, cookie %v", tt.name, w.Code, w.Result().Cookies(), tt.code, tt.cookie)
		}
	}
	// After three more failures the pair is locked out: even the right
	// password gets 429 with Retry-After.
	for range 3 {
		post("admin", "wrong", "")
	}
	if w := post("admin", "right", ""); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after repeated failures: %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	es, _ := audit.Entries(t.Context(), 0, 0)
	if len(es) < len(tests) {
		t.Errorf("%d audit records for %d login attempts", len(es), len(tests))
	}
}

// TestPagesFollowRoles: each role sees the controls the admin API lets it
// use, without a browser (cmd/signet's TestAdminUIRoles drives one).
func TestPagesFollowRoles(t *testing.T) {
	t.Parallel()
	roles := map[string][]string{"boss": {"admin"}, "op": {"operator"}, "aud": {"auditor"}}
	_, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{Roles: func(user string) []string { return roles[user] }}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	controls := []string{`value="reload"`, `value="activate"`, `href="/admin/try"`, `href="/admin/workers/new"`, `id="read-only"`}
	tests := []struct {
		user string
		want []bool // of controls
	}{
		{"boss", []bool{true, true, true, true, false}},
		{"op", []bool{false, true, true, false, false}},
		{"aud", []bool{false, false, false, false, true}},
	}
	for _, tt := range tests {
		w := post(e, "/admin/login", url.Values{"user": {tt.user}, "password": {"x"}}, nil)
		r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
		for _, c := range w.Result().Cookies() {
			r.AddCookie(c)
		}
		w = httptest.NewRecorder()
		e.ServeHTTP(w, r)
		page := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("%s: dashboard %d %s", tt.user, w.Code, page)
		}
		for i, c := range controls {
			if got := strings.Contains(page, c); got != tt.want[i] {
				t.Errorf("%s: dashboard has %s: %v, want %v", tt.user, c, got, tt.want[i])
			}
		}
	}
}

// serveUI returns a UI of opts, logging nowhere, and an echo server it is
// registered on.
func serveUI(t *testing.T, opts Options) (*UI, *echo.Echo) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	u.Register(e)
	return u, e
}

// serveAnyLogin serves the UI of an admin API with every role, where any
// password logs in, and returns its audit log (in memory) for the tests
// that check what a request leaves in it.
func serveAnyLogin(t *testing.T) (*UI, *echo.Echo, *state.Memory) {
	t.Helper()
	audit := state.NewMemory()
	u, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
		Audit:        audit,
	})
	return u, e, audit
}

// TestTemplatesAskForRoutes: every button a template shows by .May names
// a route of the admin API as it declares it: May refuses an unknown
// route, so a misspelt or renamed one would hide its button from everyone.
func TestTemplatesAskForRoutes(t *testing.T) {
	a := admin.New(admin.Options{}) // every role
	asks := regexp.MustCompile(`\.May "([A-Z]+)" "([^"]+)"`)
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range asks.FindAllStringSubmatch(string(b), -1) {
			n++
			if !a.May("admin", m[1], m[2]) {
				t.Errorf("%s asks May %s %s, which is no route of the admin API", name, m[1], m[2])
			}
		}
	}
	if n == 0 {
		t.Fatal("no template asks May: the pattern above no longer finds the calls")
	}
}

// TestSessionEndsWhenUserChanges: a session lives only as long as what its
// login proved holds. A password changed (leaked, say), a role taken away
// or the user removed ends the sessions logged in before, at their next
// request, instead of leaving them open until they idle out.
func TestSessionEndsWhenUserChanges(t *testing.T) {
	t.Parallel()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	other, err := bcrypt.GenerateFromPassword([]byte("new"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base := config.User{Name: "boss", Roles: []string{config.RoleAdmin}, PasswordHash: string(h)}
	var (
		mu    sync.Mutex
		users []config.User
	)
	a := auth.New(func() []config.User { mu.Lock(); defer mu.Unlock(); return users })
	set := func(us ...config.User) { mu.Lock(); users = us; mu.Unlock() }
	_, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision { return a.Decide(user, pass, auth.AdminRoles()...) },
		Stamp:        a.Stamp,
	})
	visit := func(cookie *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/admin/nothing", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w
	}
	for _, tt := range []struct {
		name  string
		after []config.User
		ends  bool
	}{
		{"nothing changed", []config.User{base}, false},
		{"password changed", []config.User{{Name: "boss", Roles: base.Roles, PasswordHash: string(other)}}, true},
		{"role changed", []config.User{{Name: "boss", Roles: []string{config.RoleAuditor}, PasswordHash: base.PasswordHash}}, true},
		{"user removed", nil, true},
	} {
		set(base)
		w := post(e, "/admin/login", url.Values{"user": {"boss"}, "password": {"pw"}}, nil)
		if w.Code != http.StatusSeeOther || len(w.Result().Cookies()) == 0 {
			t.Fatalf("%s: login %d", tt.name, w.Code)
		}
		cookie := w.Result().Cookies()[0]
		if got := visit(cookie); got.Code != http.StatusNotFound {
			t.Fatalf("%s: %d before the change, want the 404 page of a session", tt.name, got.Code)
		}
		set(tt.after...)
		got := visit(cookie)
		ended := got.Code == http.StatusSeeOther && strings.HasPrefix(got.Header().Get("Location"), "/admin/login")
		if ended != tt.ends {
			t.Errorf("%s: %d %q, session ended %v, want %v", tt.name, got.Code, got.Header().Get("Location"), ended, tt.ends)
		}
		if tt.ends {
			set(base) // changing back does not revive it
			if got := visit(cookie); got.Code != http.StatusSeeOther {
				t.Errorf("%s: the ended session came back (%d)", tt.name, got.Code)
			}
		}
	}
}

// TestSecurityHeaders: every kind of UI answer (pages, redirects, the 403
// and 404 pages, the style sheet) forbids framing and every script, and
// pages are not cached. The CSP's default-src 'self' let a page run
// scripts from the server's own origin, which also answers with content
// clients chose, where the UI has no script at all.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	u, e, _ := serveAnyLogin(t)
	cookies, _ := login(t, u, e)
	tests := []struct {
		name, method, path string
		origin             string
		session            bool
		code               int
		cached             bool
	}{
		{"login page", http.MethodGet, "/admin/login", "", false, http.StatusOK, false},
		{"redirect to login", http.MethodGet, "/admin/tokens", "", false, http.StatusSeeOther, false},
		{"not found page", http.MethodGet, "/admin/nothing", "", true, http.StatusNotFound, false},
		{"cross-site form", http.MethodPost, "/admin/logout", "https://evil.example", true, http.StatusForbidden, false},
		{"form without CSRF", http.MethodPost, "/admin/logout", "", true, http.StatusForbidden, false},
		{"style sheet", http.MethodGet, "/admin/static/signet.css", "", false, http.StatusOK, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if tt.session {
			for _, c := range cookies {
				r.AddCookie(c)
			}
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tt.code {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.code)
		}
		csp := map[string]string{}
		for _, d := range strings.Split(w.Header().Get("Content-Security-Policy"), ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			csp[name] = value
		}
		for name, want := range map[string]string{"script-src": "'none'", "object-src": "'none'", "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'self'"} {
			if csp[name] != want {
				t.Errorf("%s: CSP %s is %q, want %q (%s)", tt.name, name, csp[name], want, w.Header().Get("Content-Security-Policy"))
			}
		}
		if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q, want DENY", tt.name, got)
		}
		if noStore := w.Header().Get("Cache-Control") == "no-store"; noStore == tt.cached {
			t.Errorf("%s: Cache-Control %q", tt.name, w.Header().Get("Cache-Control"))
		}
	}
}

// TestThrottledLoginQuotesName: the 429 of a throttled login quotes the
// claimed user name as every surface quotes a client's text (at most
// clienttext.MaxEcho bytes), with the throttle's Retry-After; its
// sentence of its own repeated a name of megabytes whole.
func TestThrottledLoginQuotesName(t *testing.T) {
	t.Parallel()
	_, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Denied },
	})
	long := strings.Repeat("n", 100000)
	var w *httptest.ResponseRecorder
	for range 10 {
		w = post(e, "/admin/login", url.Values{"user": {long}, "password": {"guess"}}, nil)
		if w.Code == http.StatusTooManyRequests {
			break
		}
	}
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d after 10 failures, want 429", w.Code)
	}
	want := `Too many failed logins for &#34;` + long[:clienttext.MaxEcho] + `&#34;… from your address`
	if !strings.Contains(w.Body.String(), want) {
		i := strings.Index(w.Body.String(), "Too many")
		t.Errorf("the refusal does not quote the name cut: %.300s", w.Body.String()[max(i, 0):])
	}
	if w.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
}

// TestHeadIsNoForm: a HEAD of a page is answered as its GET, needs no
// CSRF token and writes nothing: it was refused as a form without its
// token, with the 403 page and a ui.refused row in the audit log for
// every HEAD.
func TestHeadIsNoForm(t *testing.T) {
	t.Parallel()
	u, e, audit := serveAnyLogin(t)
	cookies, _ := login(t, u, e)
	for _, tt := range []struct {
		name    string
		cookies []*http.Cookie
		code    int
	}{
		{"anonymous", nil, http.StatusSeeOther},
		{"logged in", cookies, http.StatusOK},
	} {
		before, _ := audit.Entries(t.Context(), 0, 0)
		r := httptest.NewRequest(http.MethodHead, "/admin/dashboard", nil)
		for _, c := range tt.cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tt.code {
			t.Errorf("%s: HEAD answered %d, want %d as for GET", tt.name, w.Code, tt.code)
		}
		after, _ := audit.Entries(t.Context(), 0, 0)
		for _, row := range after[len(before):] {
			t.Errorf("%s: HEAD wrote the audit row %s %s %q", tt.name, row.Action, row.Target, row.Outcome)
		}
	}
}

// TestEveryPageGated walks every route the UI registers (not a list kept
// beside it: a page added later is walked too) as an attacker on the
// network would. Apart from the public ones (login, style sheet, the
// redirects to the dashboard), a read sends an anonymous visitor to the
// login page, and every other method is refused with the 403 page:
// anonymous; with the session cookie but without the session's CSRF
// token, or with another session's; and with the cookie and the token
// from another site (Origin, Sec-Fetch-Site), as a cross-site form or
// fetch would send them. No refused request leaves an audit row of an
// action.
func TestEveryPageGated(t *testing.T) {
	t.Parallel()
	u, e, audit := serveAnyLogin(t)
	cookies, csrf := login(t, u, e)
	_, otherCSRF := login(t, u, e)
	public := map[string]bool{BasePath: true, BasePath + "/": true, BasePath + "/login": true, BasePath + "/static/*": true}
	params := strings.NewReplacer(":token", "soft", ":alias", "signer", ":name", "Signer", "*", "x")
	type attempt struct {
		name    string
		session bool
		form    url.Values
		header  http.Header
	}
	attempts := []attempt{
		{"anonymous", false, url.Values{}, nil},
		{"without the CSRF token", true, url.Values{}, nil},
		{"with another session's CSRF token", true, url.Values{auth.CSRFField: {otherCSRF}}, nil},
		{"cross-site form", true, url.Values{auth.CSRFField: {csrf}}, http.Header{"Origin": {"https://evil.example"}}},
		{"cross-site fetch", true, url.Values{auth.CSRFField: {csrf}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "X-Csrf-Token": {csrf}}},
		{"same-site fetch", true, url.Values{auth.CSRFField: {csrf}}, http.Header{"Sec-Fetch-Site": {"same-site"}, "X-Csrf-Token": {csrf}}},
	}
	var walked int
	for _, rt := range e.Routes() {
		if rt.Method == echo.RouteNotFound || public[rt.Path] && (rt.Method == http.MethodGet || rt.Method == http.MethodHead) {
			continue
		}
		walked++
		path := params.Replace(rt.Path)
		if rt.Method == http.MethodGet || rt.Method == http.MethodHead {
			r := httptest.NewRequest(rt.Method, path, nil)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if want := BasePath + "/login?next=" + url.QueryEscape(path); w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
				t.Errorf("anonymous %s %s: %d %q, want 303 to %s", rt.Method, path, w.Code, w.Header().Get("Location"), want)
			}
			continue
		}
		for _, a := range attempts {
			if public[rt.Path] && !strings.HasPrefix(a.name, "cross-site") && a.name != "same-site fetch" {
				continue // the login form takes no session: only its origin is checked
			}
			r := httptest.NewRequest(rt.Method, path, strings.NewReader(a.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range a.header {
				r.Header[k] = v
			}
			if a.session {
				for _, c := range cookies {
					r.AddCookie(c)
				}
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "<h1>Forbidden</h1>") {
				t.Errorf("%s %s %s: %d, want the 403 page", a.name, rt.Method, path, w.Code)
			}
		}
	}
	if walked < 15 {
		t.Fatalf("walked %d routes: the UI's routes were not found", walked)
	}
	es, _ := audit.Entries(t.Context(), 0, 0)
	for _, e := range es {
		if e.Action != "ui.login" && e.Action != "ui.refused" {
			t.Errorf("a refused request left the audit row %+v", e)
		}
	}
}

// TestLoginIssuesNewSession: a login never keeps the session ID the
// browser came with (session fixation): neither one an attacker planted
// (unknown to the server) nor one of an earlier login, which ends.
func TestLoginIssuesNewSession(t *testing.T) {
	t.Parallel()
	u, e, _ := serveAnyLogin(t)
	earlier, _ := login(t, u, e)
	tests := []struct {
		name  string
		came  *http.Cookie
		ended bool // the session of came no longer exists
	}{
		{"planted ID", &http.Cookie{Name: cookieName, Value: "attacker-chosen-id"}, true},
		{"earlier login's ID", earlier[0], true},
	}
	for _, tt := range tests {
		w := post(e, "/admin/login", url.Values{"user": {"admin"}, "password": {"x"}}, []*http.Cookie{tt.came})
		var got *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == cookieName && c.Value != "" {
				got = c
			}
		}
		if got == nil || got.Value == tt.came.Value {
			t.Errorf("%s: login set %v, want a new session ID", tt.name, got)
			continue
		}
		r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
		r.AddCookie(tt.came)
		if _, ok := u.opts.Sessions.Get(r); ok == tt.ended {
			t.Errorf("%s: the session of the ID the browser came with exists %v after the login", tt.name, ok)
		}
	}
}

// TestRequestLogNamesUser: the caller of a UI request's context, which the
// server's request log line reads once the handlers are done (web's
// observe), is the session's user; the log named nobody for UI pages.
func TestRequestLogNamesUser(t *testing.T) {
	t.Parallel()
	u, e, _ := serveAnyLogin(t)
	cookies, _ := login(t, u, e)
	var logged []string
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			logged = append(logged, tokens.CallerFrom(c.Request().Context()).User)
			return err
		}
	})
	for _, cs := range [][]*http.Cookie{cookies, nil} {
		r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
		for _, c := range cs {
			r.AddCookie(c)
		}
		e.ServeHTTP(httptest.NewRecorder(), r)
	}
	if want := []string{"admin", ""}; !slices.Equal(logged, want) {
		t.Errorf("the request log would name %q, want %q", logged, want)
	}
}

// TestForbiddenLinks: the 403 page offers the dashboard only to a visitor
// with a session (a form refused for its CSRF token); a user refused for
// having no role of the UI, who has none, is offered the login page alone:
// the dashboard sent them back to it.
func TestForbiddenLinks(t *testing.T) {
	t.Parallel()
	_, norole := serveUI(t, Options{Admin: admin.New(admin.Options{}), Authenticate: func(string, string) admin.Decision { return admin.Forbidden }})
	refused := post(norole, "/admin/login", url.Values{"user": {"app"}, "password": {"right"}}, nil)
	u, e, _ := serveAnyLogin(t)
	cookies, _ := login(t, u, e)
	noToken := post(e, "/admin/logout", url.Values{}, cookies)
	for _, tt := range []struct {
		name      string
		w         *httptest.ResponseRecorder
		dashboard bool
	}{
		{"no role of the UI", refused, false},
		{"a form without its CSRF token", noToken, true},
	} {
		body := tt.w.Body.String()
		if tt.w.Code != http.StatusForbidden || !strings.Contains(body, `href="/admin/login"`) || strings.Contains(body, "Back to the dashboard") != tt.dashboard {
			t.Errorf("%s: %d, offers the dashboard %v, want 403 with the login link, the dashboard %v:\n%s", tt.name, tt.w.Code, !tt.dashboard, tt.dashboard, body)
		}
	}
}
