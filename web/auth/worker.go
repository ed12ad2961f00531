package auth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/clienttext"
)

// Refusal is an authentication or authorization failure as the client gets
// it: 401 with a WWW-Authenticate challenge when credentials are missing or
// wrong, 403 when they are valid but not allowed, 429 with Retry-After while
// a user and address are locked out. The web layer renders it.
type Refusal struct {
	Status     int
	Msg        string        // one sentence for the client
	Challenge  string        // the WWW-Authenticate header of a 401
	RetryAfter time.Duration // of a 429
	Reason     string        // for the audit log: what was refused and why
	Who        string        // the user or certificate that was refused, "" for none
	// Authenticated: the client proved who it is (a right password, a
	// certificate the client CA issued) and was refused what it asked.
	// Such refusals are always audited, as the admin API's refusals of a
	// role are; those of unproven clients, which anyone can send, are
	// bounded (RefusalLog).
	Authenticated bool
}

func (r *Refusal) Error() string { return r.Msg }

// HTTPStatus is the status the web layer answers with; AuthChallenge and
// RetryIn say the rest of how it answers.
func (r *Refusal) HTTPStatus() int { return r.Status }

// AuthChallenge is the WWW-Authenticate header of a 401.
func (r *Refusal) AuthChallenge() string { return r.Challenge }

// RetryIn is the Retry-After of a 429.
func (r *Refusal) RetryIn() time.Duration { return r.RetryAfter }

// RetryAfterHeader is the Retry-After header of a 429: RetryAfter in
// whole seconds, rounded up so that the client does not come back early.
func (r *Refusal) RetryAfterHeader() string {
	return strconv.Itoa(int((r.RetryAfter + time.Second - 1) / time.Second))
}

// WorkerAuthorizer enforces a worker's AUTHTYPE, as SignServer's
// authorizers do: NOAUTH lets everyone in; CLIENTCERT wants a TLS client
// certificate that verifies against the server's client CA bundle and
// matches one of the worker's authorizedClients; USERNAME_PASSWORD wants
// HTTP basic credentials of one of the worker's users.
type WorkerAuthorizer struct {
	// ClientCAs returns the client CA bundle in force (nil: none).
	ClientCAs func() *x509.CertPool
	// Passwords knows the configuration's users section (a worker's
	// shared users) and checks passwords through its caches: a bcrypt
	// comparison per signing request would cost tens of milliseconds.
	// Nil: no shared users, and every check a bcrypt comparison.
	Passwords *Authenticator
	// Throttle slows password guessing; nil: none.
	Throttle *Throttle
}

// Authorize returns who the client of worker is (user name, or the
// certificate as CertName writes it; "" for NOAUTH) or a *Refusal.
func (a *WorkerAuthorizer) Authorize(r *http.Request, client, worker string, acc config.Access) (string, error) {
	switch acc.Type {
	case config.AuthNoAuth:
		return "", nil
	case config.AuthUsernamePassword:
		return a.password(r, client, worker, acc)
	}
	// CLIENTCERT, and whatever else: refuse rather than serve unchecked.
	var pool *x509.CertPool
	if a.ClientCAs != nil {
		pool = a.ClientCAs()
	}
	cert, err := ClientCert(r, pool)
	switch {
	case err != nil:
		return "", &Refusal{Status: http.StatusForbidden, Who: peerName(r), Msg: "Worker " + worker + " refuses the client certificate: " + err.Error() + ".", Reason: err.Error()}
	case cert == nil:
		return "", &Refusal{Status: http.StatusUnauthorized, Challenge: `Certificate realm="` + worker + `"`,
			Msg: "Worker " + worker + " requires a TLS client certificate (AUTHTYPE CLIENTCERT): connect over HTTPS with one.", Reason: "no client certificate"}
	case !MatchClient(cert, acc.Clients):
		who := CertName(cert)
		return "", &Refusal{Status: http.StatusForbidden, Who: who, Authenticated: true,
			Msg:    fmt.Sprintf("Worker %s does not authorize the client certificate %X issued by %q: ask its administrator to add it to authorizedClients.", worker, cert.SerialNumber, cert.Issuer.String()),
			Reason: "client certificate not in authorizedClients"}
	}
	return CertName(cert), nil
}

func (a *WorkerAuthorizer) password(r *http.Request, client, worker string, acc config.Access) (string, error) {
	challenge := `Basic realm="` + worker + `"`
	name, pass, ok := r.BasicAuth()
	if !ok {
		return "", &Refusal{Status: http.StatusUnauthorized, Challenge: challenge, Reason: "no credentials",
			Msg: "Worker " + worker + " requires a user name and password (AUTHTYPE USERNAME_PASSWORD): send HTTP basic credentials."}
	}
	if ref := a.Throttle.Check(name, client); ref != nil {
		return "", ref
	}
	hash := ""
	for _, u := range acc.Users {
		if u.Name != name {
			continue
		}
		hash = u.PasswordHash
		if u.Shared && a.Passwords != nil {
			if cu, ok := a.Passwords.user(name); ok {
				if h, err := a.Passwords.hash(cu); err == nil {
					hash = h
				}
			}
		}
		break
	}
	if a.Passwords != nil {
		ok = a.Passwords.matches(name, hash, pass)
	} else {
		ok = CheckPassword(hash, pass)
	}
	if !ok {
		a.Throttle.Fail(name, client)
		return "", &Refusal{Status: http.StatusUnauthorized, Challenge: challenge, Who: name, Reason: "wrong user name or password",
			Msg: "Wrong user name or password for worker " + worker + "."}
	}
	a.Throttle.Succeeded(name, client)
	return name, nil
}

// CheckPassword compares password with a bcrypt hash. An empty hash (an
// unknown user) is compared against a hash of the same cost, so that a
// failed login costs the same time whether the user exists or not.
func CheckPassword(hash, password string) bool {
	if hash == "" {
		bcrypt.CompareHashAndPassword(equalTimeHash(), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// Check returns a 429 Refusal while user from addr is locked out; nil
// otherwise (also on a nil Throttle).
func (t *Throttle) Check(user, addr string) *Refusal {
	if t == nil {
		return nil
	}
	w := t.Wait(user, addr)
	if w <= 0 {
		return nil
	}
	secs := int((w + time.Second - 1) / time.Second)
	return &Refusal{Status: http.StatusTooManyRequests, RetryAfter: w, Who: user, Reason: "login throttled after repeated failures",
		Msg: "Too many failed logins for " + clienttext.Quote(user) + " from this address: try again in " + strconv.Itoa(secs) + " s."}
}

// Fail records a failure; a nil Throttle records nothing.
func (t *Throttle) Fail(user, addr string) {
	if t != nil {
		t.Failed(user, addr)
	}
}

// equalTimeHash is the hash an unknown user's password is compared with:
// bcrypt's default cost, the cost of `signet admin hash-password` and of
// the demo's users.
var equalTimeHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("signet equal time"), bcrypt.DefaultCost)
	return h
})
