package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
)

func TestMatchClient(t *testing.T) {
	t.Parallel()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuer := pkix.Name{CommonName: "Client CA", Organization: []string{"Example"}, Country: []string{"DE"}}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1a2b3c), Issuer: issuer,
		Subject:        pkix.Name{CommonName: "client1", Organization: []string{"Example"}, OrganizationalUnit: []string{"Signing"}},
		EmailAddresses: []string{"client1@example.org"},
		NotBefore:      time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	parent := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: issuer}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	const ca = "CN=Client CA,O=Example,C=DE"
	tests := []struct {
		name string
		rule config.AuthorizedClient
		want bool
	}{
		{"serial", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A2B3C", IssuerValue: ca}, true},
		{"serial with leading zeros and lower case", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "001a2b3c", IssuerValue: ca}, true},
		{"other serial", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A2B3D", IssuerValue: ca}, false},
		{"serial of another issuer", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A2B3C", IssuerValue: "CN=Other CA,O=Example,C=DE"}, false},
		{"issuer written C first", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A2B3C", IssuerValue: "C=DE,O=Example,CN=Client CA"}, true},
		{"issuer C first, LDAP style", config.AuthorizedClient{SubjectType: config.MatchSerialNo, SubjectValue: "1A2B3C", IssuerType: config.MatchIssuerLDAP, IssuerValue: "C=DE,O=Example,CN=Client CA"}, false},
		{"CN", config.AuthorizedClient{SubjectType: "SUBJECT_RDN_CN", SubjectValue: "Client1", IssuerValue: ca}, true},
		{"OU", config.AuthorizedClient{SubjectType: "SUBJECT_RDN_OU", SubjectValue: "Signing", IssuerValue: ca}, true},
		{"other CN", config.AuthorizedClient{SubjectType: "SUBJECT_RDN_CN", SubjectValue: "client2", IssuerValue: ca}, false},
		{"e-mail", config.AuthorizedClient{SubjectType: config.MatchRFC822, SubjectValue: "client1@example.org", IssuerValue: ca}, true},
	}
	for _, tt := range tests {
		if got := MatchClient(c, []config.AuthorizedClient{tt.rule}); got != tt.want {
			t.Errorf("%s: MatchClient = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRefusedCertificateNamesWho: a client certificate refused because it
// does not verify is named in the refusal (and so in its audit row) by the
// worker authorizer as by CertUser: the worker's refusals were recorded as
// "anonymous", though the certificate that was refused is known.
func TestRefusedCertificateNamesWho(t *testing.T) {
	t.Parallel()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x2a), Subject: pkix.Name{CommonName: "intruder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	r := httptest.NewRequest(http.MethodPost, "/signserver/worker/W", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	pool := func() *x509.CertPool { return x509.NewCertPool() } // trusts no one
	clients := []config.AuthorizedClient{{SubjectType: "SUBJECT_RDN_CN", SubjectValue: "intruder", IssuerValue: "CN=intruder"}}
	workerErr := func() error {
		_, err := (&WorkerAuthorizer{ClientCAs: pool}).Authorize(r, "192.0.2.1", "W", config.Access{Type: config.AuthClientCert, Clients: clients})
		return err
	}
	certUserErr := func() error {
		a := New(func() []config.User {
			return []config.User{{Name: "u", Roles: []string{config.RoleAdmin}, AuthorizedClients: clients}}
		})
		a.ClientCAs = pool
		_, err := a.CertUser(r)
		return err
	}
	for _, tt := range []struct {
		name string
		err  func() error
	}{
		{"worker", workerErr},
		{"user", certUserErr},
	} {
		var ref *Refusal
		if err := tt.err(); !errors.As(err, &ref) || ref.Status != http.StatusForbidden || ref.Who != CertName(c) {
			t.Errorf("%s: %#v, want a 403 refusal naming %s", tt.name, err, CertName(c))
		}
	}
}
