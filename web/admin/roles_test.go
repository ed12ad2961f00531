package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
)

// TestRoles: an auditor reads, an operator also activates and deactivates
// tokens, only an admin changes keys and configuration; every refusal is a
// 403 in the audit log with the user, the address and the reason.
func TestRoles(t *testing.T) {
	f := newFixture(t)
	const js = "application/json"
	tests := []struct {
		who, method, path, ctype, body string
		want                           int
	}{
		{"auditor:secret", "GET", "/workers", "", "", 200},
		{"auditor:secret", "GET", "/audit", "", "", 200},
		{"auditor:secret", "GET", "/signlog", "", "", 200},
		{"auditor:secret", "POST", "/tokens/soft/deactivate", js, "{}", 403},
		{"auditor:secret", "POST", "/tokens/soft/keys", js, `{"alias":"k2","algorithm":"ECDSA"}`, 403},
		{"auditor:secret", "POST", "/reload", "", "", 403},
		{"op:secret", "GET", "/tokens", "", "", 200},
		{"op:secret", "POST", "/tokens/soft/keys", js, `{"alias":"k2","algorithm":"ECDSA"}`, 403},
		{"op:secret", "DELETE", "/tokens/soft/keys/signer", "", "", 403},
		{"op:secret", "PUT", "/workers/Signer/properties/DISABLED", js, `{"value":"true"}`, 403},
		{"op:secret", "POST", "/tokens/soft/deactivate", js, "{}", 200},
		{"op:secret", "POST", "/tokens/soft/activate", js, `{"pin":""}`, 200},
		{admin, "POST", "/tokens/soft/keys", js, `{"alias":"k2","algorithm":"ECDSA"}`, 201},
	}
	for _, tt := range tests {
		code, body, _ := f.call(t, tt.method, tt.path, tt.who, tt.ctype, tt.body)
		if code != tt.want {
			t.Errorf("%s %s %s: %d %s, want %d", tt.who, tt.method, tt.path, code, body, tt.want)
		}
		if code == 403 && !strings.Contains(string(body), "role") {
			t.Errorf("%s %s %s: the refusal %s does not name the role", tt.who, tt.method, tt.path, body)
		}
	}
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	var refused int
	for _, e := range es {
		if e.Action == "admin.refused" && e.Details["reason"] == "role" {
			refused++
			if e.Actor == "" || e.Details["remote"] == "" || !strings.Contains(e.Outcome, "needs the") {
				t.Errorf("refusal record %+v", e)
			}
		}
	}
	if refused != 6 {
		t.Errorf("%d role refusals audited, want 6", refused)
	}
}

// TestAdminLoginThrottle: after three wrong passwords the user is locked
// out from that address: even the right password gets 429 with
// Retry-After, and the lock-out is audited.
func TestAdminLoginThrottle(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		if code, _, _ := f.call(t, "GET", "/workers", "admin:wrong", "", ""); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	f.call(t, "GET", "/workers", "admin:wrong", "", "") // the fourth starts the lock-out
	code, body, hdr := f.call(t, "GET", "/workers", admin, "", "")
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("the right password while locked out: %d %s (Retry-After %q), want 429", code, body, hdr.Get("Retry-After"))
	}
	if code, _, _ := f.call(t, "GET", "/workers", "auditor:secret", "", ""); code != http.StatusOK {
		t.Fatalf("another user: %d, want 200", code)
	}
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	if last := es[len(es)-1]; last.Action != "admin.refused" || !strings.Contains(last.Details["reason"], "throttled") {
		t.Fatalf("the lock-out is not audited last: %+v", last)
	}
}

// TestMayAndRequire: what the web UI asks — May for a route by its
// pattern, Require for an action of its own — answers as the API's role
// check, with the API's sentence and audit record.
func TestMayAndRequire(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		user, method, pattern string
		want                  bool
	}{
		{"auditor", "GET", "/workers", true},
		{"auditor", "POST", "/tokens/:token/activate", false},
		{"op", "POST", "/tokens/:token/activate", true},
		{"op", "POST", "/reload", false},
		{"op", "DELETE", "/tokens/:token/keys/:alias", false},
		{"admin", "POST", "/reload", true},
		{"admin", "POST", "/no/such/route", false},
		{"nobody", "GET", "/workers", false},
	}
	for _, tt := range tests {
		if got := f.h.May(tt.user, tt.method, tt.pattern); got != tt.want {
			t.Errorf("May(%s, %s %s) = %v, want %v", tt.user, tt.method, tt.pattern, got, tt.want)
		}
	}
	ctx := context.Background()
	if err := f.h.Require(ctx, Caller{User: "op", Remote: "192.0.2.7"}, "operator", "POST /admin/try"); err != nil {
		t.Errorf("operator refused: %v", err)
	}
	err := f.h.Require(ctx, Caller{User: "auditor", Remote: "192.0.2.7", RequestID: "r1"}, "operator", "POST /admin/try")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Message != "User auditor (roles auditor) may not POST /admin/try: that needs the operator role." {
		t.Fatalf("auditor: %v, want the API's 403 sentence", err)
	}
	es, _ := f.audit.Entries(ctx, 0, 0)
	last := es[len(es)-1]
	if last.Actor != "auditor" || last.Action != "admin.refused" || last.Target != "POST /admin/try" || last.Details["remote"] != "192.0.2.7" || last.Details["requestId"] != "r1" || last.Outcome != ae.Message {
		t.Errorf("audit record %+v", last)
	}
	// In process, the client address is recorded too (it has no port).
	if err := f.h.Call(ctx, Caller{User: "auditor", Remote: "192.0.2.8"}, http.MethodPost, "/reload", nil, nil); err == nil {
		t.Fatal("an auditor reloaded")
	}
	es, _ = f.audit.Entries(ctx, 0, 0)
	if last := es[len(es)-1]; last.Details["remote"] != "192.0.2.8" {
		t.Errorf("in-process refusal recorded from %q, want 192.0.2.8", last.Details["remote"])
	}
}

// TestMayLooksUp: May, which the web UI asks for every button of every
// page, looks the route up in the table built once instead of building
// the routes again (a slice and a method value per route) on each call.
func TestMayLooksUp(t *testing.T) {
	roles := []string{config.RoleOperator}
	h := New(Options{Roles: func(string) []string { return roles }})
	for _, r := range routes {
		if got, want := h.May("op", r.method, r.path), r.role != config.RoleAdmin; got != want {
			t.Errorf("May(op, %s %s) = %v, want %v (the route needs %s)", r.method, r.path, got, want, r.role)
		}
	}
	if n := testing.AllocsPerRun(100, func() { h.May("op", "POST", "/tokens/:token/activate") }); n != 0 {
		t.Errorf("May allocates %v times a call, want none", n)
	}
}

// TestEveryRouteRefused walks every route the handler registers (not a
// list kept beside it: a route added later is walked too) as an attacker
// on the network would: anonymous, with a wrong password, as a user with
// the right password but no role of the admin API, and as each user whose
// roles are below the route's. Every one is refused (401, 403, or 429
// once the wrong passwords are throttled) before its handler runs: no
// audit row of an action, no state changed.
func TestEveryRouteRefused(t *testing.T) {
	f := newFixture(t)
	e := echo.New()
	f.h.Register(e)
	params := strings.NewReplacer(":token", "soft", ":alias", "signer", ":name", "Signer", ":property", "DISABLED", ":requestId", "r1", "*", "x")
	roleOf := map[routeKey]string{}
	for _, r := range routes {
		roleOf[routeKey{r.method, r.path}] = r.role
	}
	below := map[string][]string{ // users whose roles do not reach the role
		config.RoleAuditor:  nil,
		config.RoleOperator: {"auditor:secret"},
		config.RoleAdmin:    {"auditor:secret", "op:secret"},
	}
	var walked int
	for _, rt := range e.Routes() {
		if !strings.HasPrefix(rt.Path, BasePath) || rt.Method == echo.RouteNotFound {
			continue
		}
		walked++
		path := params.Replace(strings.TrimPrefix(rt.Path, BasePath))
		who := []string{"", "nobody:wrong", "admin:wrong", "operator:secret"}
		if role, ok := roleOf[routeKey{rt.Method, strings.TrimPrefix(rt.Path, BasePath)}]; ok {
			who = append(who, below[role]...)
		} else if rt.Method == http.MethodHead {
			who = append(who, below[roleOf[routeKey{http.MethodGet, strings.TrimPrefix(rt.Path, BasePath)}]]...)
		}
		for _, w := range who {
			code, body, _ := f.call(t, rt.Method, path, w, "application/json", "{}")
			if code != http.StatusUnauthorized && code != http.StatusForbidden && code != http.StatusTooManyRequests {
				t.Errorf("%s %s as %q: %d %s, want it refused", rt.Method, path, w, code, body)
			}
		}
	}
	if walked < len(routes) {
		t.Fatalf("walked %d routes, fewer than the %d of the table", walked, len(routes))
	}
	es, _ := f.audit.Entries(context.Background(), 0, 0)
	for _, e := range es {
		if e.Action != "admin.refused" {
			t.Errorf("a refused request left the audit row %+v", e)
		}
	}
	if f.reloaded != 0 {
		t.Errorf("a refused request reloaded the configuration %d times", f.reloaded)
	}
}
