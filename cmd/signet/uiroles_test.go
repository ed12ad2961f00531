package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-project/signet/web/admin"
)

// count returns how many elements match sel on the page.
func (b *tab) count(sel string) int {
	b.t.Helper()
	var n int
	b.eval(`document.querySelectorAll(`+jsString(sel)+`).length`, &n)
	return n
}

// post sends a form to path from the page, with the session's CSRF token
// and fields (a file field when file is not empty), as a user could with
// the browser's tools, and returns the text of the page it ends on.
func (b *tab) post(path string, fields map[string]string, file string) string {
	b.t.Helper()
	var text string
	b.eval(`(async () => {
		const fd = new FormData();
		fd.append("csrf", document.querySelector('input[name=csrf]').value);
		for (const [k, v] of Object.entries(`+jsObject(b.t, fields)+`)) fd.append(k, v);
		if (`+jsString(file)+`) fd.append("file", new Blob([`+jsString(file)+`]), "doc.txt");
		const r = await fetch(`+jsString(path)+`, {method: "POST", body: fd});
		return (await r.text()).replace(/<[^>]*>/g, " ");
	})()`, &text)
	return text
}

// The subtests run one after the other: the operator's changes the token
// the others look at.

// TestAdminUIRoles logs in to the web UI as an auditor and as an operator:
// each sees only the buttons its role may use (the admin API's own role
// check decides), a form posted directly past them is refused with the
// API's sentence and audited, and what the role allows works — the
// operator's "Try it" signature is in the signing log as the operator's.
func TestAdminUIRoles(t *testing.T) {
	t.Parallel()
	s := startUIServerWith(t, "  - name: auditor\n    roles: [auditor]\n    passwordHash: {file: demo-password.bcrypt}\n")
	refused := func(t *testing.T, actor, target string) {
		t.Helper()
		waitAudit(t, s.url, s.password, "admin.refused", func(e admin.AuditEntry) bool {
			return e.Actor == actor && e.Target == target && e.Details["remote"] == "127.0.0.1" && e.Details["reason"] == "role"
		})
	}
	tests := []struct {
		user string
		// selectors on the page that must be there, and that must not
		visible, hidden map[string][]string
		// a direct POST past the hidden buttons: path, fields, the
		// sentence of the refusal, the audit record's target
		post         string
		fields       map[string]string
		says, target string
	}{
		{user: "auditor",
			visible: map[string][]string{"/admin/dashboard": {"#read-only", "#worker-CAdESSigner"}, "/admin/tokens": {"#token-demo"}, "/admin/audit": {`form[action="/admin/audit/verify"] button`}},
			hidden: map[string][]string{
				"/admin/dashboard":           {`button[value="activate"]`, `button[value="reload"]`, "#sel-CAdESSigner", `a[href="/admin/try"]`, `a[href="/admin/workers/new"]`},
				"/admin/tokens":              {"#deactivate-demo", `form[action="/admin/tokens/demo/keys"]`, `form[action$="/test"]`, `form[action$="/remove"]`},
				"/admin/workers/CAdESSigner": {`form[action$="/properties"]`, `form[action$="/properties/remove"]`},
				"/admin/try":                 {"#try-submit"},
			},
			post: "/admin/tokens/demo/deactivate", fields: map[string]string{},
			says: "User auditor (roles auditor) may not POST /tokens/demo/deactivate: that needs the operator role.", target: "POST /admin/api/tokens/demo/deactivate"},
		{user: "operator",
			visible: map[string][]string{"/admin/dashboard": {`button[value="activate"]`, "#sel-CAdESSigner", `a[href="/admin/try"]`}, "/admin/tokens": {"#deactivate-demo"}},
			hidden: map[string][]string{
				"/admin/dashboard":           {`button[value="reload"]`, `a[href="/admin/workers/new"]`, "#read-only"},
				"/admin/tokens":              {`form[action="/admin/tokens/demo/keys"]`, `form[action$="/test"]`, `form[action$="/remove"]`, `form[action$="/chain"]`},
				"/admin/workers/CAdESSigner": {`form[action$="/properties"]`},
			},
			post: "/admin/dashboard", fields: map[string]string{"action": "reload"},
			says: "User operator (roles operator) may not POST /reload: that needs the admin role.", target: "POST /admin/api/reload"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			b := newTab(t, s.url)
			b.login(tt.user, s.password)
			if !strings.HasSuffix(b.location(), "/admin/dashboard") {
				t.Fatalf("%s logged in to %s: %s", tt.user, b.location(), b.text("main"))
			}
			for _, page := range []string{"/admin/dashboard", "/admin/tokens", "/admin/workers/CAdESSigner", "/admin/audit", "/admin/try"} {
				b.open(page)
				for _, sel := range tt.visible[page] {
					if b.count(sel) == 0 {
						t.Errorf("%s on %s: no %s", tt.user, page, sel)
					}
				}
				for _, sel := range tt.hidden[page] {
					if n := b.count(sel); n > 0 {
						t.Errorf("%s on %s: %d of %s, which its role may not use", tt.user, page, n, sel)
					}
				}
				b.check("roles-" + tt.user + "-" + strings.ReplaceAll(strings.TrimPrefix(page, "/admin/"), "/", "-"))
			}
			b.open("/admin/dashboard")
			if text := b.post(tt.post, tt.fields, ""); !strings.Contains(text, tt.says) {
				t.Errorf("direct POST %s as %s: page says\n%s\nwant %q", tt.post, tt.user, text, tt.says)
			}
			refused(t, tt.user, tt.target)
		})
	}

	t.Run("auditor may not try", func(t *testing.T) {
		b := newTab(t, s.url)
		b.login("auditor", s.password)
		text := b.post("/admin/try", map[string]string{"worker": "CMSSigner"}, "a document")
		if want := "User auditor (roles auditor) may not POST /admin/try: that needs the operator role."; !strings.Contains(text, want) {
			t.Errorf("try as auditor: page says\n%s\nwant %q", text, want)
		}
		refused(t, "auditor", "POST /admin/try")
	})

	t.Run("operator activates and tries", func(t *testing.T) {
		b := newTab(t, s.url)
		b.login("operator", s.password)
		b.open("/admin/tokens")
		b.submit("#deactivate-demo")
		b.fill("#pin-demo", s.pin)
		b.submit("#activate-demo")
		if f := b.text(".flash"); !strings.Contains(f, "activated") {
			t.Errorf("activate as operator: %q", f)
		}
		b.check("roles-operator-activated")
		b.open("/admin/try?worker=CMSSigner")
		b.post("/admin/try", map[string]string{"worker": "CMSSigner"}, "signed by an operator")
		waitSignLog(t, s.url, s.password, "operator", func(r admin.SignRecord) bool {
			return r.Surface == "worker/CMSSigner" && r.Result == "ok" && r.Client == "127.0.0.1"
		})
	})
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string: cannot fail
	return string(b)
}

// jsObject is m as a JavaScript object literal.
func jsObject(t *testing.T, m map[string]string) string {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
