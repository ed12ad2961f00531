package ui

import (
	"bytes"
	"context"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/web/admin"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/workers"
)

type workerSource struct{ s *workers.Set }

func (w workerSource) Current() *workers.Set { return w.s }

// TestGenerateKeySize: a key size the form's list does not hold (typed
// into a crafted form) is refused and no key is made; the size was read
// as 0, the default, and a key of the default size generated.
func TestGenerateKeySize(t *testing.T) {
	t.Parallel()
	tok, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks"), Type: soft.TypePEM, Name: "demo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	u, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{Workers: workerSource{workers.NewSet(nil, map[string]tokens.Token{"demo": tok})}}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	cookies, csrf := login(t, u, e)
	for _, tc := range []struct{ algorithm, size string }{
		{"RSA", "abc"},
		{"RSA", "99999999999999999999"},
		{"ECDSA", "256bits"},
	} {
		w := post(e, "/admin/tokens/demo/keys", url.Values{"csrf": {csrf}, "alias": {"k"}, "algorithm": {tc.algorithm}, "size": {tc.size}}, cookies)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s %s: %d, want 303", tc.algorithm, tc.size, w.Code)
		}
		page := get(e, "/admin/tokens", cookies)
		if !strings.Contains(page, "The key size must be") {
			t.Errorf("%s %s: the page does not refuse the size", tc.algorithm, tc.size)
		}
		keys, err := tok.Keys(context.Background())
		if err != nil || len(keys) != 0 {
			t.Fatalf("%s %s: the token holds %d keys (%v), want none", tc.algorithm, tc.size, len(keys), err)
		}
	}
}

// TestTryStampHash: "Try it" on a time-stamp worker with a digest
// algorithm the form does not offer is refused and calls no worker; it
// was stamped with SHA-256 instead.
func TestTryStampHash(t *testing.T) {
	t.Parallel()
	cfg := tsaConfig(t)
	var calls atomic.Int32
	u, e := serveUI(t, Options{
		Admin: admin.New(admin.Options{
			Workers: workerSource{workers.NewSet(nil, nil)},
			Config:  func() *config.Config { return cfg },
		}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
		Workers: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			http.Error(w, "no", http.StatusServiceUnavailable)
		}),
	})
	cookies, csrf := login(t, u, e)
	for _, hash := range []string{"MD5", "SHA-1", "SHA3-256", "nonsense"} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", csrf)
		mw.WriteField("worker", "TSA")
		mw.WriteField("hash", hash)
		fw, _ := mw.CreateFormFile("file", "doc.txt")
		fw.Write([]byte("a document"))
		mw.Close()
		r := httptest.NewRequest(http.MethodPost, "/admin/try", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		page := get(e, "/admin/try?worker=TSA", cookies)
		if !strings.Contains(page, "Choose one of the digest algorithms") {
			t.Errorf("hash %s: %d, the page does not refuse it", hash, w.Code)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the worker was called %d times", n)
	}
}

// login logs in to the UI of u on e and returns the session's cookies and
// CSRF token.
func login(t *testing.T, u *UI, e *echo.Echo) ([]*http.Cookie, string) {
	t.Helper()
	cookies := post(e, "/admin/login", url.Values{"user": {"admin"}, "password": {"x"}}, nil).Result().Cookies()
	r := httptest.NewRequest(http.MethodGet, "/admin/dashboard", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	s, ok := u.opts.Sessions.Get(r)
	if !ok {
		t.Fatal("no session after login")
	}
	return cookies, s.CSRF
}

// post posts form to path on e with cookies, as a browser's form.
func post(e *echo.Echo, path string, form url.Values, cookies []*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

// get answers the body of a GET of path on e with cookies.
func get(e *echo.Echo, path string, cookies []*http.Cookie) string {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w.Body.String()
}

// TestRefusalRows: the audit rows of cross-site forms and failed logins
// (clients that proved nothing) are at most auth.MaxRefusalRows a second
// and hold at most clienttext.MaxRow bytes of the path, the origin and the
// claimed user name: each cross-site form was written, with the client's
// text whole.
func TestRefusalRows(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	audit := state.NewMemory()
	_, e := serveUI(t, Options{
		Admin:        admin.New(admin.Options{}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Denied },
		Audit:        audit,
		Now:          func() time.Time { return now },
	})
	long := strings.Repeat("x", 20000)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"cross-site", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/admin/tokens/"+long+"/activate", strings.NewReader("pin=1"))
			r.Header.Set("Origin", "https://evil.example/"+long)
			return r
		}},
		{"wrong password", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "/admin/login", strings.NewReader(url.Values{"user": {long}, "password": {"guess"}}.Encode()))
		}},
	} {
		now = now.Add(time.Second) // a second of its own for each case's rows
		t.Run(tc.name, func(t *testing.T) {
			before, _ := audit.Entries(context.Background(), 0, 0)
			for range 20 {
				r := tc.req()
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				w := httptest.NewRecorder()
				e.ServeHTTP(w, r)
				if w.Code < 400 || w.Code >= 500 {
					t.Fatalf("status %d", w.Code)
				}
			}
			after, _ := audit.Entries(context.Background(), 0, 0)
			rows := after[len(before):]
			if len(rows) == 0 || len(rows) > auth.MaxRefusalRows {
				t.Errorf("%d audit rows for 20 refusals in one second, want 1 to %d", len(rows), auth.MaxRefusalRows)
			}
			const most = clienttext.MaxRow + 64
			for _, r := range rows {
				size := 0
				for _, v := range r.Details {
					size = max(size, len(v))
				}
				if len(r.Actor) > most || len(r.Target) > most || size > most {
					t.Errorf("a row holds the client's text whole: actor %d, target %d, a detail %d bytes", len(r.Actor), len(r.Target), size)
				}
			}
		})
	}
}

// TestStampDownloadLink: the time-stamp page's link to the .tsr is the
// response's data: URL; given as a string, html/template wrote
// href="#ZgotmplZ" and the download was dead.
func TestStampDownloadLink(t *testing.T) {
	t.Parallel()
	u, _ := serveUI(t, Options{Admin: admin.New(admin.Options{})})
	answer := []byte{0x30, 0x82, 0xff, 0xfe, '"', '<'}
	var b strings.Builder
	if err := u.pages["try"].Execute(&b, page{Title: "Try it", Data: tryData{Stamp: &stampView{File: "doc.txt", Download: tsrLink(answer)}}, ui: u}); err != nil {
		t.Fatal(err)
	}
	want := `href="data:application/timestamp-reply;base64,MIL//iI8"`
	if !strings.Contains(b.String(), want) {
		t.Errorf("the page has no %s:\n%s", want, b.String())
	}
}

// TestTryClientAddress: "Try it" signs from the user's address as the
// server finds it behind a trusted proxy (X-Forwarded-For), the address
// the UI's own audit row holds; the worker endpoint was given the peer
// only, and the signing log recorded the proxy's address instead.
func TestTryClientAddress(t *testing.T) {
	t.Parallel()
	cfg := tsaConfig(t)
	_, proxies, _ := net.ParseCIDR("10.0.0.5/32")
	extract := echo.ExtractIPFromXFFHeader(echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false), echo.TrustIPRange(proxies))
	seen := make(chan string, 1)
	we := echo.New()
	we.IPExtractor = extract
	we.POST("/signserver/worker/:name", func(c echo.Context) error {
		seen <- c.RealIP()
		return c.String(http.StatusServiceUnavailable, "no")
	})
	u, e := serveUI(t, Options{
		Admin: admin.New(admin.Options{
			Workers: workerSource{workers.NewSet(nil, nil)},
			Config:  func() *config.Config { return cfg },
		}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
		Workers:      we,
	})
	e.IPExtractor = extract
	cookies, csrf := login(t, u, e)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("worker", "TSA")
	fw, _ := mw.CreateFormFile("file", "doc.txt")
	fw.Write([]byte("a document"))
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/admin/try", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.RemoteAddr = "10.0.0.5:40000"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	e.ServeHTTP(httptest.NewRecorder(), r)
	select {
	case got := <-seen:
		if got != "203.0.113.7" {
			t.Errorf("the worker endpoint saw the client at %s, want 203.0.113.7", got)
		}
	default:
		t.Fatal("the worker endpoint was not called")
	}
}

// tsaConfig is a configuration of one time-stamp worker, TSA (id 1), for
// the "Try it" tests.
func tsaConfig(t *testing.T) *config.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "signet.yaml")
	yaml := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks}\nworkers:\n  - name: TSA\n    id: 1\n    kind: TimeStampSigner\n    token: t\n    key: k\n    properties: {AUTHTYPE: NOAUTH, DEFAULTTSAPOLICYOID: 1.2.3.4.1}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadSaysRestart: the dashboard's reload says which changed server
// settings wait for a restart, as the admin API's answer names them; it
// said "reloaded" alone, and only the audit record named them.
func TestReloadSaysRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		restart []string
		want    string
	}{
		{"none", nil, "The configuration was reloaded.<"},
		{"listen and a limit", []string{"listen", "maxInFlight"}, "The configuration was reloaded. These changed server settings take effect when the server restarts, and the ones it started with stay in force until then: listen, maxInFlight.<"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, e := serveUI(t, Options{
				Admin: admin.New(admin.Options{
					Workers: workerSource{workers.NewSet(nil, nil)},
					Reload:  func(context.Context) ([]string, error) { return tt.restart, nil },
				}),
				Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
			})
			cookies, csrf := login(t, u, e)
			w := post(e, "/admin/dashboard", url.Values{"csrf": {csrf}, "action": {"reload"}}, cookies)
			if w.Code != http.StatusSeeOther {
				t.Fatalf("reload: %d %s", w.Code, w.Body)
			}
			if page := get(e, "/admin/dashboard", cookies); !strings.Contains(page, tt.want) {
				t.Errorf("the dashboard after the reload does not say %q:\n%s", tt.want, page)
			}
		})
	}
}

// TestEditsSayRestart: the worker forms that change the configuration and
// reload it (set a property, remove one, add a worker) say which changed
// server settings wait for a restart, in the words of the dashboard's
// reload; they said "reloaded" alone, though the reload had named them.
func TestEditsSayRestart(t *testing.T) {
	t.Parallel()
	const note = " These changed server settings take effect when the server restarts, and the ones it started with stay in force until then: listen, maxInFlight."
	for _, tc := range []struct {
		name    string
		restart []string
		note    string // after each form's own sentence
	}{
		{"none", nil, ""},
		{"listen and a limit", []string{"listen", "maxInFlight"}, note},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, e, file := serveEditable(t, tc.restart)
			cookies, csrf := login(t, u, e)
			for _, st := range []struct {
				name, path string
				form       url.Values
				page, says string
			}{
				{"set", "/admin/workers/TSA/properties", url.Values{"name": {"KEYUSAGELIMIT"}, "value": {"7"}}, "/admin/workers/TSA", "KEYUSAGELIMIT was set, written to the file and the configuration reloaded."},
				{"remove", "/admin/workers/TSA/properties/remove", url.Values{"name": {"KEYUSAGELIMIT"}}, "/admin/workers/TSA", "KEYUSAGELIMIT was removed, the file written and the configuration reloaded."},
				{"add", "/admin/workers/new", url.Values{"name": {"Plain"}, "kind": {"PlainSigner"}, "token": {"t"}, "key": {"k"}, "more": {"AUTHTYPE=NOAUTH"}}, "/admin/workers/Plain", "Worker Plain (id 2) was added to " + file + ":16 and the configuration reloaded."},
			} {
				st.form.Set("csrf", csrf)
				if w := post(e, st.path, st.form, cookies); w.Code != http.StatusSeeOther {
					t.Fatalf("%s: %d %s", st.name, w.Code, w.Body)
				}
				if page, want := get(e, st.page, cookies), st.says+tc.note+"<"; !strings.Contains(page, want) {
					t.Errorf("%s: the page does not say %q:\n%s", st.name, want, page)
				}
			}
		})
	}
}

// TestRefusedPropertyKept: a property change the admin API refuses comes
// back in the form with the refusal, to be fixed rather than retyped (the
// fields came back empty); a secret property's value is not written into
// the page; a change that succeeds leaves the form empty.
func TestRefusedPropertyKept(t *testing.T) {
	t.Parallel()
	u, e, _ := serveEditable(t, nil)
	cookies, csrf := login(t, u, e)
	for _, tc := range []struct {
		name, prop, value string
		shown             []string // in the form after the redirect
		hidden            string   // not in the page
	}{
		{"a refused value", "KEYUSAGELIMIT", "seven", []string{`value="KEYUSAGELIMIT"`, `value="seven"`}, ""},
		{"an unknown property", "KEYUSAGELIMT", "7", []string{`value="KEYUSAGELIMT"`, `value="7"`}, ""},
		{"a refused secret", "TSA_PASSWORD", "s3cret-typed", []string{`value="TSA_PASSWORD"`}, "s3cret-typed"},
		{"a change that succeeds", "KEYUSAGELIMIT", "9", []string{`id="prop-name" name="name" list="prop-names" required value=""`}, ""},
	} {
		form := url.Values{"name": {tc.prop}, "value": {tc.value}, "csrf": {csrf}}
		if w := post(e, "/admin/workers/TSA/properties", form, cookies); w.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		page := get(e, "/admin/workers/TSA", cookies)
		for _, s := range tc.shown {
			if !strings.Contains(page, s) {
				t.Errorf("%s: the form does not show %s", tc.name, s)
			}
		}
		if tc.hidden != "" && strings.Contains(page, tc.hidden) {
			i := strings.Index(page, tc.hidden)
			t.Errorf("%s: the page holds the secret value typed: %s", tc.name, page[max(0, i-300):i+50])
		}
	}
}

// serveEditable serves the UI over a configuration file of one worker, TSA,
// which its forms edit and reload; a reload says restart needs a restart.
// It returns the file.
func serveEditable(t *testing.T, restart []string) (*UI, *echo.Echo, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "signet.yaml")
	yaml := "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: ks\nworkers:\n  - name: TSA\n    id: 1\n    kind: TimeStampSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      DEFAULTTSAPOLICYOID: 1.2.3.4.1\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[config.Config]
	current.Store(cfg)
	u, e := serveUI(t, Options{
		Admin: admin.New(admin.Options{
			Workers: workerSource{workers.NewSet(nil, nil)},
			Config:  current.Load,
			Reload: func(context.Context) ([]string, error) {
				c, err := config.Load(cfg.Files...)
				if err != nil {
					return nil, err
				}
				current.Store(c)
				return restart, nil
			},
		}),
		Authenticate: func(user, pass string) admin.Decision { return admin.Allowed },
	})
	return u, e, file
}
