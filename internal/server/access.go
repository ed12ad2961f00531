package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/web/auth"
)

// workerAuthorizer enforces the workers' AUTHTYPE with the client CA bundle
// and users in force.
func (a *app) workerAuthorizer() *auth.WorkerAuthorizer {
	return &auth.WorkerAuthorizer{
		ClientCAs: a.clientCAs,
		Passwords: a.auth,
		Throttle:  a.throttle,
	}
}

// clientCAs returns the client CA bundle in force: nil without TLS or
// without server.tls.clientCAs.
func (a *app) clientCAs() *x509.CertPool {
	if a.tls == nil {
		return nil
	}
	return a.tls.ClientCAs()
}

// auditRefusal records a refused client in the audit log: who it claimed
// to be, from where, what it asked for and why it was refused. Refusals of
// clients that proved who they are are always written; of the others, at
// most auth.MaxRefusalRows a second for each API (each is an fsync'd row
// that an unauthenticated client could otherwise make at will), the next
// row written counting the ones left out.
func (a *app) auditRefusal(c echo.Context, surface string, err error) {
	var r *auth.Refusal
	if a.audit == nil || !errors.As(err, &r) {
		return
	}
	var more map[string]string
	if !r.Authenticated {
		var ok bool
		if ok, more = a.refusalLog(surface).Admit(a.now()); !ok {
			return
		}
	}
	// The claimed name and the path are the client's text, cut by
	// clienttext: whole, an anonymous client wrote rows of megabytes.
	actor := clienttext.Cut(r.Who)
	if actor == "" {
		actor = "anonymous"
	}
	e := state.Entry{Actor: actor, Action: "access.refused", Target: surface, Outcome: r.Msg, Details: map[string]string{
		"remote": c.RealIP(), "reason": r.Reason, "status": fmt.Sprint(r.Status), "requestId": web.RequestID(c),
		"request": clienttext.Cut(c.Request().Method + " " + c.Request().URL.Path),
	}}
	maps.Copy(e.Details, more)
	if _, err := a.audit.Append(context.WithoutCancel(c.Request().Context()), e); err != nil {
		a.log.Error("audit log", "action", e.Action, "error", err)
	}
}

// refusalLog is the bound on the audit rows of refused clients of one API:
// dsm, nethsm or the signing API ("worker/NAME" surfaces share one).
func (a *app) refusalLog(surface string) *auth.RefusalLog {
	api, _, _ := strings.Cut(surface, "/")
	return a.refused[api]
}

// serveHealth serves the health check alone over plain HTTP on addr, for
// load balancers that do not speak TLS: nothing else is reachable there.
func (a *app) serveHealth(ctx context.Context, addr string, main net.Addr, stdout io.Writer) error {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		// Another program's port, or the server's own: --listen, which
		// config check does not see, may name healthListen's.
		return fmt.Errorf("%s, the health check's address (server.healthListen), is in use by another program or by this server's own listener: give healthListen a free port, such as %s: %w", addr, nextPort(addr, main), err)
	}
	if err != nil {
		return fmt.Errorf("listen for the health check on %s: %w", addr, err)
	}
	const path = "/signserver/healthcheck/signserverhealth"
	h := a.srv.Handler()
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "The health check takes GET.", http.StatusMethodNotAllowed)
			return
		}
		if r.Method == http.MethodHead {
			// The web server routes GET only; net/http drops the body of
			// the answer to a HEAD request.
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
		}
		h.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "This listener serves the health check only ("+path+"): sign over the main listener.", http.StatusNotFound)
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(l)
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	fmt.Fprintf(stdout, "Health check (plain HTTP) on http://%s%s\n", l.Addr(), path)
	return nil
}

// vendorLogins throttles and audits the logins of the DSM and NetHSM APIs,
// which check HTTP basic credentials themselves: a user locked out from an
// address gets 429 with Retry-After before its password is looked at; a
// 401 counts as a failure and, like a 403, is written to the audit log.
// A request without an Authorization header is authenticated here by its
// client certificate (vendorCert), once, for the API's Certificate option
// to read.
func (a *app) vendorLogins(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := c.Request().URL.Path
		surface, role := "", ""
		switch {
		case strings.HasPrefix(p, "/api/v1/"):
			surface, role = "nethsm", config.RoleOperator
		case strings.HasPrefix(p, "/crypto/v1/"), strings.HasPrefix(p, "/sys/v1/"):
			surface, role = "dsm", config.RoleDSM
		}
		if surface == "" {
			return next(c)
		}
		user, _, basic := c.Request().BasicAuth()
		var cert vendorCert
		if !auth.HasCredentials(c.Request()) {
			cert = a.vendorCert(c.Request(), surface, role)
			c.Set(vendorCertKey, cert)
			user = cert.user.Name
		}
		if !basic && cert.user.Name == "" && cert.err == nil {
			return next(c) // no credentials, or a bearer token
		}
		ip := c.RealIP()
		if basic {
			if ref := a.throttle.Check(user, ip); ref != nil {
				a.auditRefusal(c, surface, ref)
				c.Response().Header().Set(echo.HeaderRetryAfter, ref.RetryAfterHeader())
				return c.JSON(ref.Status, map[string]string{"message": ref.Msg})
			}
		}
		err := next(c)
		var ref *auth.Refusal
		st := c.Response().Status
		refused := st == http.StatusUnauthorized || st == http.StatusForbidden
		switch {
		case refused && errors.As(cert.err, &ref):
			a.auditRefusal(c, surface, ref)
		case st == http.StatusUnauthorized && basic:
			a.throttle.Fail(user, ip)
			a.auditRefusal(c, surface, &auth.Refusal{Status: st, Who: user, Reason: "wrong user name or secret", Msg: "refused: wrong user name or secret"})
		case st == http.StatusForbidden:
			a.auditRefusal(c, surface, &auth.Refusal{Status: st, Who: user, Reason: "not allowed (role or key)", Msg: "refused: not allowed", Authenticated: true})
		}
		// Only an answer given after the password was checked ends the
		// failures: a 406 or 412 comes before the check.
		if basic && (st < 400 || st == http.StatusForbidden) {
			a.throttle.Succeeded(user, ip)
		}
		return err
	}
}

// vendorCertKey is where vendorLogins leaves a request's vendorCert in the
// echo context.
const vendorCertKey = "signet.vendor.cert"

// vendorCert is who a client certificate authenticates on a vendor API:
// the user, or why it is refused.
type vendorCert struct {
	user config.User
	err  error // a *auth.Refusal
}

// vendorCert authenticates r by its client certificate for surface, whose
// users need role.
func (a *app) vendorCert(r *http.Request, surface, role string) vendorCert {
	u, err := a.auth.CertUser(r)
	if err == nil && u.Name != "" && !u.HasRole(role) {
		err = roleRefusal(u.Name, surface, role)
		u = config.User{}
	}
	return vendorCert{user: u, err: err}
}

// roleRefusal is the 403 of a user who proved who they are (a right
// password or a trusted certificate) on a vendor API surface whose users
// need role.
func roleRefusal(user, surface, role string) *auth.Refusal {
	api := map[string]string{"dsm": "DSM", "nethsm": "NetHSM"}[surface]
	return &auth.Refusal{Status: http.StatusForbidden, Who: user, Reason: "role", Authenticated: true,
		Msg: fmt.Sprintf("User %s may not use the %s API: that needs the %s role.", user, api, role)}
}

// certOf returns the vendorCert vendorLogins found for c.
func certOf(c echo.Context) (config.User, error) {
	v, _ := c.Get(vendorCertKey).(vendorCert)
	return v.user, v.err
}
