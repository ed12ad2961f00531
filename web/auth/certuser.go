package auth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/signet-project/signet/config"
)

// Reasons of certificate refusals, for the audit log.
const (
	// ReasonCertNoUser: a verified certificate that no user's
	// authorizedClients name.
	ReasonCertNoUser = "client certificate matches no user's authorizedClients"
	// ReasonCertUntrusted: a certificate that does not verify against
	// the client CA bundle (another CA, expired, not for client auth).
	ReasonCertUntrusted = "client certificate not verified"
)

// HasCredentials reports whether r carries an Authorization header (HTTP
// basic, or a bearer token). Such credentials decide who the caller is; a
// client certificate decides only for requests without them, so that a
// client whose TLS stack sends a certificate keeps logging in with its
// password.
func HasCredentials(r *http.Request) bool { return r.Header.Get("Authorization") != "" }

// peerName names the client certificate r was sent with (CertName), ""
// for none: who a refusal of a certificate that does not verify names.
func peerName(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	return CertName(r.TLS.PeerCertificates[0])
}

// CertUser returns the user of the configuration whose authorizedClients
// match the TLS client certificate of r, verified against ClientCAs as a
// CLIENTCERT worker's clients are (ClientCert, MatchClient). It returns the
// zero User and nil when r carries no client certificate, and a 403
// *Refusal when it carries one that does not verify, that no user's rules
// match, or that the rules of several users match (acting as either would
// be a guess).
func (a *Authenticator) CertUser(r *http.Request) (config.User, error) {
	var pool *x509.CertPool
	if a.ClientCAs != nil {
		pool = a.ClientCAs()
	}
	cert, err := ClientCert(r, pool)
	if err != nil {
		return config.User{}, &Refusal{Status: http.StatusForbidden, Who: peerName(r), Reason: ReasonCertUntrusted + ": " + err.Error(),
			Msg: "The client certificate is refused: " + err.Error() + "."}
	}
	if cert == nil {
		return config.User{}, nil
	}
	var found []config.User
	for _, u := range a.users() {
		if len(u.AuthorizedClients) > 0 && MatchClient(cert, u.AuthorizedClients) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return config.User{}, &Refusal{Status: http.StatusForbidden, Who: CertName(cert), Reason: ReasonCertNoUser, Authenticated: true,
			Msg: fmt.Sprintf("The client certificate %X issued by %q is not authorized for any user: ask an administrator to add it to a user's %s.", cert.SerialNumber, cert.Issuer.String(), config.FieldAuthorizedClients)}
	}
	names := make([]string, len(found))
	for i, u := range found {
		names[i] = u.Name
	}
	return config.User{}, &Refusal{Status: http.StatusForbidden, Who: CertName(cert), Reason: "client certificate matches several users", Authenticated: true,
		Msg: fmt.Sprintf("The client certificate %X matches the %s of several users (%s): ask an administrator to make the rules name one.", cert.SerialNumber, config.FieldAuthorizedClients, strings.Join(names, ", "))}
}
