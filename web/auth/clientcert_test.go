package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
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
