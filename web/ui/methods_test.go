package ui

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/workers"
)

// TestWrongMethod: a method a UI page does not take is a 405 naming the
// methods it takes (OPTIONS: 204 with Allow), whoever asks, and writes no
// audit row; a missing static file, or a name no file can have, is the
// 404 page. A wrong method fell to the session check's catch-all: 403
// "Your session has ended", or, with a session, a ui.refused row for a
// missing CSRF token; and /admin/static/%ff answered net/http's "500
// Internal Server Error".
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	u, e, audit := serveAnyLogin(t)
	cookies, _ := login(t, u, e)
	for _, tt := range []struct {
		name, method, path string
		session            bool
		code               int
		allow, text        string
	}{
		{"PUT of the login page", http.MethodPut, "/admin/login", false, http.StatusMethodNotAllowed, "GET, HEAD, POST", "does not take &#34;PUT&#34;: use GET or POST."},
		{"OPTIONS of the login page", http.MethodOptions, "/admin/login", false, http.StatusNoContent, "GET, HEAD, POST", ""},
		{"DELETE of a page, anonymous", http.MethodDelete, "/admin/dashboard", false, http.StatusMethodNotAllowed, "GET, HEAD, POST", "use GET or POST."},
		{"DELETE of a page, logged in", http.MethodDelete, "/admin/dashboard", true, http.StatusMethodNotAllowed, "GET, HEAD, POST", "use GET or POST."},
		{"PUT of a form's target", http.MethodPut, "/admin/workers/W/properties", true, http.StatusMethodNotAllowed, "POST", "use POST."},
		{"PATCH of a worker page", http.MethodPatch, "/admin/workers/W", true, http.StatusMethodNotAllowed, "GET, HEAD", "use GET."},
		{"a static file that does not exist", http.MethodGet, "/admin/static/nothing.css", false, http.StatusNotFound, "", "There is no page"},
		{"a static name that is not UTF-8", http.MethodGet, "/admin/static/%ff", false, http.StatusNotFound, "", "There is no page"},
		{"a static name out of the folder", http.MethodGet, "/admin/static/..%2f..%2fgo.mod", false, http.StatusNotFound, "", "There is no page"},
		{"the static folder", http.MethodGet, "/admin/static/", false, http.StatusNotFound, "", "There is no page"},
	} {
		before, _ := audit.Entries(t.Context(), 0, 0)
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.session {
			for _, c := range cookies {
				r.AddCookie(c)
			}
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tt.code {
			t.Errorf("%s: %d, want %d: %.300s", tt.name, w.Code, tt.code, w.Body.String())
			continue
		}
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s: Allow %q, want %q", tt.name, got, tt.allow)
		}
		if !strings.Contains(w.Body.String(), tt.text) {
			t.Errorf("%s: the page does not say %q: %.600s", tt.name, tt.text, w.Body.String())
		}
		if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: no security headers", tt.name)
		}
		after, _ := audit.Entries(t.Context(), 0, 0)
		for _, row := range after[len(before):] {
			t.Errorf("%s: wrote the audit row %s %s %q", tt.name, row.Action, row.Target, row.Outcome)
		}
	}
}

// TestLoginFormUnreadable: a login post that is no form, or names no user,
// is a 400 that says what to send, and neither writes an audit row nor
// counts as a failed login: it was "Wrong user name or password" (401),
// written to the audit log as a refused login of the user "".
func TestLoginFormUnreadable(t *testing.T) {
	t.Parallel()
	audit := state.NewMemory()
	_, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Denied },
		Audit:        audit,
	})
	for _, tt := range []struct {
		name, ctype, body, says string
	}{
		{"malformed form", "application/x-www-form-urlencoded", "user=admin&password=%zz", "The login form could not be read"},
		{"not a form", "text/plain", "user=admin", "The login form could not be read"},
		{"no user name", "application/x-www-form-urlencoded", "password=x", "Enter a user name"},
		{"blank user name", "application/x-www-form-urlencoded", "user=+&password=x", "Enter a user name"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(tt.body))
		r.Header.Set("Content-Type", tt.ctype)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.says) {
			t.Errorf("%s: %d, want 400 saying %q: %.300s", tt.name, w.Code, tt.says, w.Body.String())
		}
	}
	if rows, _ := audit.Entries(t.Context(), 0, 0); len(rows) != 0 {
		t.Errorf("%d audit rows for forms that name no login, want none: %+v", len(rows), rows)
	}
}

// TestFormUnreadable: a form of which a field does not parse is refused
// whole (400), before it does anything: Go's form parser drops the field
// and keeps the rest, so that the form's action ran on what was left (here
// a logout, with its CSRF token intact).
func TestFormUnreadable(t *testing.T) {
	t.Parallel()
	u, e, _ := serveAnyLogin(t)
	cookies, csrf := login(t, u, e)
	r := httptest.NewRequest(http.MethodPost, "/admin/logout", strings.NewReader("csrf="+csrf+"&next=%zz"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "The form could not be read") {
		t.Errorf("%d, want 400 saying the form could not be read: %.300s", w.Code, w.Body.String())
	}
	r = httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	if _, ok := u.opts.Sessions.Get(r); !ok {
		t.Error("the refused form ended the session")
	}
}

// keyedWorker is a worker of a token, as the dashboard lists it.
type keyedWorker struct{ name, token string }

func (w keyedWorker) Name() string                          { return w.name }
func (w keyedWorker) ID() int                               { return len(w.name) }
func (w keyedWorker) Kind() string                          { return "CMSSigner" }
func (w keyedWorker) TokenName() string                     { return w.token }
func (w keyedWorker) KeyAlias() string                      { return "k" }
func (w keyedWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (keyedWorker) Process(context.Context, *workers.Request) (*workers.Response, error) {
	return nil, errors.New("not used")
}

// stuckToken is a token that cannot be deactivated.
type stuckToken struct{ tokens.Token }

func (stuckToken) Deactivate(context.Context) error { return errors.New("the HSM did not answer") }

// TestBulkPartly: when the dashboard's bulk action changed some tokens
// before another refused, the message says which it changed: it showed
// only the refusal, as if nothing had been done.
func TestBulkPartly(t *testing.T) {
	t.Parallel()
	a, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "a"), Type: soft.TypePEM, Name: "a"}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "b"), Type: soft.TypePEM, Name: "b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	set := workers.NewSet([]workers.Worker{keyedWorker{"WA", "a"}, keyedWorker{"WB", "b"}}, map[string]tokens.Token{"a": a, "b": stuckToken{b}})
	u, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{Workers: workerSource{set}}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	cookies, csrf := login(t, u, e)
	w := post(e, "/admin/dashboard", url.Values{"csrf": {csrf}, "action": {"deactivate"}, "worker": {"WA", "WB"}}, cookies)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("bulk deactivate: %d", w.Code)
	}
	if a.Status(t.Context()).State == tokens.Active {
		t.Fatal("token a is still active: the test does not test a partial change")
	}
	page := get(e, "/admin/dashboard", cookies)
	if !strings.Contains(page, "Crypto token a: deactivated; then crypto token b:") {
		i := strings.Index(page, "flash")
		t.Errorf("the message does not say that token a was deactivated: %.400s", page[max(i, 0):])
	}
}
