package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/signet-project/signet/formats/cms"
)

// The admin web UI's browser tests: Debian's chromium driven with chromedp,
// one browser for the package, a tab per scenario. They fail, never skip,
// when chromium cannot start (make test installs it).

const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where every step's full-page screenshots go (git-ignored).
const screenshotDir = "../../testdata/screenshots"

// axeFile is axe-core, the accessibility checker injected into each page.
const axeFile = "../../testdata/axe/axe.min.js"

// browserOnce starts the one browser of the package's tests.
var browserOnce = sync.OnceValues(func() (context.Context, error) {
	if _, err := os.Stat(chromiumPath); err != nil {
		return nil, fmt.Errorf("chromium is not installed at %s (scripts/install-deps.sh installs it): %w", chromiumPath, err)
	}
	dir, err := os.MkdirTemp("", "signet-chromium-")
	if err != nil {
		return nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// The demo serves HTTPS with a CA of its own, new for every test
		// server; TLS itself is tested with Go clients that trust it.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.WindowSize(1280, 800),
		// The demo server's HTTPS certificate comes from its own demo CA,
		// which this throw-away profile does not trust.
		chromedp.Flag("ignore-certificate-errors", true),
	}
	alloc, _ := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, _ := chromedp.NewContext(alloc)
	// The first Run starts the browser; it lives as long as the process.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return ctx, nil
})

// tab is one browser tab of a test, in its own browser context (cookies of
// its own), with a deadline.
type tab struct {
	t   *testing.T
	ctx context.Context
	url string // the server
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	b, err := browserOnce()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Run opens the tab: without a deadline (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	return &tab{t: t, ctx: ctx, url: base}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) eval(js string, out any) {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	if out != nil {
		if err := json.Unmarshal(v, out); err != nil {
			b.t.Fatalf("evaluate %s = %s: %v", js, v, err)
		}
	}
}

// open navigates to path and waits for the page.
func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.url+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// submit clicks sel and waits until the next page has loaded.
func (b *tab) submit(sel string) {
	b.t.Helper()
	b.eval(`window.__signetOld = true`, nil)
	b.do(chromedp.Click(chromedp.CSS(sel)))
	// Poll the page: while the browser navigates, evaluation fails.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!window.__signetOld && document.readyState === "complete"`))
		if err == nil && done {
			return
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("after clicking %s the next page did not load: %v", sel, err)
		case <-tick.C:
		}
	}
}

func (b *tab) fill(sel, value string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS(sel), value))
}

func (b *tab) location() string {
	b.t.Helper()
	l, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return l
}

// check saves the page's screenshots, at 1280×800 and 400 px wide, as
// page-step, and runs axe-core on it: no critical or serious violation.
func (b *tab) check(name string) {
	b.t.Helper()
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, w := range []int64{1280, 400} {
		b.do(chromedp.EmulateViewport(w, 800))
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(screenshotDir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 800))
	axe, err := os.ReadFile(axeFile)
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	b.eval(string(axe)+";true", nil)
	var res struct {
		Passes     int
		Violations []string
	}
	b.eval(`axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations.filter(v => v.impact === "critical" || v.impact === "serious")
		.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "))}))`, &res)
	if res.Passes == 0 {
		b.t.Errorf("axe-core checked nothing on %s", name)
	}
	if len(res.Violations) > 0 {
		b.t.Errorf("accessibility violations on %s:\n%s", name, strings.Join(res.Violations, "\n"))
	}
}

// uiServer is a demo server whose admin password the test knows.
type uiServer struct {
	*server
	password, pin, config string
}

func startUIServer(t *testing.T) *uiServer { return startUIServerWith(t, "") }

// startUIServerWith is startUIServer with users (items of the users
// section) added to the demo configuration.
func startUIServerWith(t *testing.T, users string) *uiServer {
	t.Helper()
	files := bootstrapDemo(t, nil, users)
	pin, err := os.ReadFile(files.PIN)
	if err != nil {
		t.Fatal(err)
	}
	s := launch(t, files.Dir, "127.0.0.1:0")
	return &uiServer{server: s, password: files.Password, pin: strings.TrimSpace(string(pin)), config: files.Config}
}

func (b *tab) login(user, password string) {
	b.t.Helper()
	b.open("/admin/login")
	b.fill("#user", user)
	b.fill("#password", password)
	b.submit(`button[type="submit"]`)
}

// workerStatus reads a worker's status badge on the dashboard.
func (b *tab) workerStatus(name string) string {
	b.t.Helper()
	return b.text(fmt.Sprintf(`#worker-%s [data-status]`, name))
}

func TestAdminUI(t *testing.T) {
	t.Parallel()
	s := startUIServer(t)

	t.Run("anonymous and refused", func(t *testing.T) {
		t.Parallel()
		b := newTab(t, s.url)
		for _, p := range []string{"/admin/", "/admin/tokens", "/admin/workers/CMSSigner", "/admin/audit"} {
			b.open(p)
			if l := b.location(); !strings.HasPrefix(l, s.url+"/admin/login") {
				t.Errorf("anonymous visit to %s landed on %s, want the login page", p, l)
			}
		}
		b.check("login-anonymous")
		b.login("admin", "wrong password")
		if !strings.Contains(b.text(".flash.error"), "Wrong user name or password") || strings.Contains(b.location(), "/dashboard") {
			t.Errorf("a wrong password was not refused: %s", b.location())
		}
		b.check("login-wrong-password")
		b.login("demo", s.password)
		if h := b.text("h1"); h != "Forbidden" || !strings.Contains(b.text("main"), "User demo has no role of the admin UI") {
			t.Errorf("a user with the dsm role only got %q, want the 403 page", h)
		}
		b.check("forbidden-not-admin")
	})

	t.Run("administration", func(t *testing.T) {
		t.Parallel()
		b := newTab(t, s.url)
		b.login("admin", s.password)
		if !strings.HasSuffix(b.location(), "/admin/dashboard") {
			t.Fatalf("after login: %s, want the dashboard: %s", b.location(), b.text("main"))
		}
		if st := b.workerStatus("CAdESSigner"); st != "ACTIVE" {
			t.Fatalf("CAdESSigner is %s on the dashboard", st)
		}
		b.check("dashboard-login")

		// Deactivate the token: its workers go OFFLINE with the reason.
		b.open("/admin/tokens")
		b.check("tokens-active")
		b.submit("#deactivate-demo")
		b.open("/admin/dashboard")
		if st := b.workerStatus("CAdESSigner"); st != "OFFLINE" {
			t.Errorf("after deactivating the token CAdESSigner is %s, want OFFLINE", st)
		}
		if r := b.text("#worker-CAdESSigner .reasons"); !strings.Contains(r, `Crypto token "demo" is offline`) {
			t.Errorf("the reason shown is %q", r)
		}
		b.check("dashboard-token-offline")
		b.open("/admin/tokens")
		b.fill("#pin-demo", s.pin)
		b.submit("#activate-demo")
		if f := b.text(".flash"); !strings.Contains(f, "activated") {
			t.Errorf("activate: %q", f)
		}
		b.check("tokens-activated")
		b.open("/admin/dashboard")
		if st := b.workerStatus("CAdESSigner"); st != "ACTIVE" {
			t.Errorf("after activating the token CAdESSigner is %s", st)
		}

		// Bulk actions on the dashboard: the selected workers' token.
		b.open("/admin/dashboard")
		b.do(chromedp.Click(chromedp.CSS("#sel-CAdESSigner")))
		b.submit(`button[value="deactivate"]`)
		if st := b.workerStatus("PlainSigner"); st != "OFFLINE" {
			t.Errorf("after the bulk deactivation PlainSigner (same token) is %s", st)
		}
		b.do(chromedp.Click(chromedp.CSS("#sel-CAdESSigner")))
		b.fill("#bulk-pin", s.pin)
		b.submit(`button[value="activate"]`)
		if st := b.workerStatus("PlainSigner"); st != "ACTIVE" {
			t.Errorf("after the bulk activation PlainSigner is %s", st)
		}

		// Keys: generate, test, remove only after typing the name, never
		// while a worker uses the key.
		b.open("/admin/tokens")
		b.fill("#gen-alias-demo", "ui-key")
		b.submit(`form[action="/admin/tokens/demo/keys"] button`)
		if f := b.text(".flash"); !strings.Contains(f, "ui-key") || !strings.Contains(f, "generated") {
			t.Errorf("generate: %q", f)
		}
		b.submit(`form[action="/admin/tokens/demo/keys/ui-key/test"] button`)
		if f := b.text(".flash"); !strings.Contains(f, "verified") {
			t.Errorf("test: %q", f)
		}
		openDetails := `document.querySelectorAll("details").forEach(d => d.open = true)`
		for _, tc := range []struct{ alias, typed, says string }{
			{"ui-key", "ui-ke", "type its name"},
			{"signer-p256", "signer-p256", "used by worker"},
			{"ui-key", "ui-key", "was removed"},
		} {
			b.eval(openDetails, nil)
			b.fill("#rm-demo-"+tc.alias, tc.typed)
			b.submit(`form[action="/admin/tokens/demo/keys/` + tc.alias + `/remove"] button`)
			if f := b.text(".flash"); !strings.Contains(f, tc.says) {
				t.Errorf("remove %s typing %q: %q, want %q", tc.alias, tc.typed, f, tc.says)
			}
		}
		b.check("tokens-key-removed")

		// A form without its CSRF token is refused with 403 and changes
		// nothing.
		var code int
		b.eval(`fetch("/admin/tokens/demo/deactivate", {method: "POST", body: new URLSearchParams({x: "1"})}).then(r => r.status)`, &code)
		if code != http.StatusForbidden {
			t.Errorf("a POST without the CSRF token got %d, want 403", code)
		}
		b.open("/admin/dashboard")
		b.eval(`(() => { const f = document.querySelector('form[action="/admin/dashboard"]'); f.querySelector('input[name=csrf]').remove(); return true })()`, nil)
		b.submit(`button[value="deactivate"]`)
		if h := b.text("h1"); h != "Forbidden" {
			t.Errorf("a form without its CSRF token showed %q, want the 403 page", h)
		}
		b.check("forbidden-csrf")
		b.open("/admin/dashboard")
		if st := b.workerStatus("CAdESSigner"); st != "ACTIVE" {
			t.Errorf("after the refused POST CAdESSigner is %s", st)
		}

		// Edit a property: the file changes in that line only, the worker
		// uses the new value.
		before, err := os.ReadFile(s.config)
		if err != nil {
			t.Fatal(err)
		}
		b.open("/admin/workers/CMSSigner")
		b.check("worker-CMSSigner")
		b.open("/admin/workers/CMSSigner?edit=DETACHEDSIGNATURE")
		b.fill("#prop-value", "true")
		b.submit(`form[action$="/properties"] button`)
		if f := b.text(".flash"); !strings.Contains(f, "DETACHEDSIGNATURE was set") {
			t.Fatalf("set DETACHEDSIGNATURE: %q", f)
		}
		b.check("worker-property-set")
		after, _ := os.ReadFile(s.config)
		want := strings.Replace(string(before), "      DETACHEDSIGNATURE: false\n      ALLOW_DETACHEDSIGNATURE_OVERRIDE", "      DETACHEDSIGNATURE: true\n      ALLOW_DETACHEDSIGNATURE_OVERRIDE", 1)
		if string(after) != want || want == string(before) {
			t.Errorf("the YAML after the edit is not the file with that one value changed (comments, order and layout kept):\n%s", after)
		}
		if bak, _ := os.ReadFile(s.config + ".bak"); !bytes.Equal(bak, before) {
			t.Error("the .bak is not the previous file")
		}
		code, sig := s.postRaw(t, "CMSSigner", strings.NewReader("detached now"), nil)
		if code != http.StatusOK {
			t.Fatalf("CMSSigner after the edit: %d %s", code, sig)
		}
		if sd, err := cms.Parse(sig); err != nil || sd.Content != nil {
			t.Errorf("CMSSigner still encapsulates the content after DETACHEDSIGNATURE=true (%v)", err)
		}

		// A typo is refused with its message and file:line; the file stays.
		b.fill("#prop-name", "DETACHEDSIGNATUR")
		b.fill("#prop-value", "false")
		b.submit(`form[action$="/properties"] button`)
		msg := b.text(".flash.error")
		if !strings.Contains(msg, "DETACHEDSIGNATURE") || !strings.Contains(msg, s.config+":") {
			t.Errorf("the refused typo says %q, want the hint and file:line", msg)
		}
		if now, _ := os.ReadFile(s.config); !bytes.Equal(now, after) {
			t.Error("a refused change wrote the file")
		}
		b.check("worker-property-refused")

		// Add a worker from the form and sign with it over the worker
		// endpoint.
		b.open("/admin/workers/new")
		b.check("newworker-form")
		b.fill("#w-name", "UIPlain")
		b.do(chromedp.SetValue(chromedp.CSS("#w-kind"), "PlainSigner"))
		b.fill("#w-key", "signer-p256")
		b.fill("#w-more", "SIGNATUREALGORITHM=SHA256withECDSA\nAUTHTYPE=NOAUTH")
		b.submit(`form[action="/admin/workers/new"] button[type="submit"]`)
		if f := b.text(".flash"); !strings.Contains(f, "UIPlain") || !strings.Contains(f, "added") {
			t.Fatalf("add a worker: %q", f)
		}
		b.check("newworker-added")
		if code, sig := s.postRaw(t, "UIPlain", strings.NewReader("hello"), nil); code != http.StatusOK || len(sig) == 0 {
			t.Errorf("the added worker does not sign: %d %s", code, sig)
		}

		// Try it: sign a file, verify the download with openssl.
		doc := filepath.Join(t.TempDir(), "invoice.txt")
		if err := os.WriteFile(doc, []byte("Invoice 42: signed from the browser.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dl := t.TempDir()
		b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			yes := true
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: &yes,
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
			return err
		}))
		b.open("/admin/try?worker=CAdESSigner")
		b.check("try-CAdESSigner")
		// As one document, then as a batch of its client-side digest: both
		// downloads verify against the document.
		for _, options := range [][]string{nil, {"#opt-USING_BATCHSIGNING", "#opt-USING_CLIENTSUPPLIED_HASH"}} {
			b.open("/admin/try?worker=CAdESSigner")
			b.do(chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{doc}))
			for _, o := range options {
				b.do(chromedp.Click(chromedp.CSS(o)))
			}
			progress := chromedp.Events(b.ctx, browser.DownloadProgress)
			b.do(chromedp.Click(chromedp.CSS("#try-submit")))
			var p7s string
			for ev, err := range progress {
				if err != nil {
					t.Fatalf("download: %v", err)
				}
				if ev.State == browser.DownloadProgressStateCompleted {
					p7s = filepath.Join(dl, ev.GUID)
					break
				}
				if ev.State == browser.DownloadProgressStateCanceled {
					t.Fatal("the signature download was cancelled")
				}
			}
			if out, err := exec.Command("openssl", "cms", "-verify", "-cades", "-binary", "-inform", "DER", "-in", p7s,
				"-content", doc, "-CAfile", filepath.Join(s.data, "demo-ca.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err != nil {
				t.Errorf("openssl cms -verify -cades of the try-it download with %v: %v\n%s", options, err, out)
			}
		}

		// Time-stamp a file: the token's fields are shown.
		b.open("/admin/try?worker=TimeStampSigner")
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{doc}))
		b.submit("#try-submit")
		if p := b.text("#stamp-policy"); p != "1.2.3.4.1" {
			t.Errorf("the time-stamp's policy shows %q", p)
		}
		b.check("try-timestamp")

		// The signing is in the audit log.
		q := url.Values{"worker": {"CAdESSigner"}, "action": {"worker.try"}}
		b.open("/admin/audit?" + q.Encode())
		if rows := b.text("table.audit tbody"); !strings.Contains(rows, "worker.try") || !strings.Contains(rows, "invoice.txt") || !strings.Contains(rows, "admin") {
			t.Errorf("the try-it signing is not found in the audit log:\n%s", rows)
		}
		if r := b.text("#chain-result"); !strings.Contains(r, "INTACT") {
			t.Errorf("audit chain check: %q", r)
		}
		b.check("audit-search")

		// And in the signing log.
		b.open("/admin/signlog?key=signer-p256&user=admin&surface=CAdESSigner&result=ok")
		if rows := b.text("table.signlog tbody"); !strings.Contains(rows, "worker/CAdESSigner") {
			t.Errorf("the signing log page does not show the try-it signing as admin's:\n%s", rows)
		}
		b.check("signlog-search")
		b.open("/admin/signlog?surface=CAdESSigner&result=refused&user=admin")
		if rows := b.text("table.signlog tbody"); !strings.Contains(rows, "No record matches") {
			t.Errorf("the signing log page shows refusals of the try-it signing:\n%s", rows)
		}

		b.open("/admin/no-such-page")
		b.check("notfound")
		b.open("/admin/dashboard")
		b.check("dashboard-after")
		b.submit(`form.logout button`)
		b.open("/admin/dashboard")
		if l := b.location(); !strings.Contains(l, "/admin/login") {
			t.Errorf("after logout the dashboard opened: %s", l)
		}
	})
}
