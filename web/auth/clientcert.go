package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/dn"
)

// CertName is how a client certificate is named in the audit and signing
// logs: its serial number and issuer, which identify it, and its subject.
func CertName(c *x509.Certificate) string {
	return fmt.Sprintf("cert:%X issuer %q subject %q", c.SerialNumber, c.Issuer.String(), c.Subject.String())
}

// MatchClient reports whether the client certificate c (already verified
// against the server's client CA bundle by the TLS layer) matches one of the
// rules, as SignServer's Client Certificate Authorizer matches its
// authorization rules: the chosen subject field equals the rule's value
// (text compared ignoring letter case, serial numbers as numbers) and the
// issuer DN equals the rule's.
func MatchClient(c *x509.Certificate, rules []config.AuthorizedClient) bool {
	return slices.ContainsFunc(rules, func(r config.AuthorizedClient) bool { return matchRule(c, r) })
}

func matchRule(c *x509.Certificate, r config.AuthorizedClient) bool {
	if !matchIssuer(c, r) {
		return false
	}
	want := strings.TrimSpace(r.SubjectValue)
	switch r.SubjectType {
	case config.MatchSerialNo:
		n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(want, ":", "")), "0x"), 16)
		return ok && n.Cmp(c.SerialNumber) == 0
	case config.MatchRFC822:
		return slices.ContainsFunc(c.EmailAddresses, func(e string) bool { return strings.EqualFold(e, want) })
	}
	attr, ok := config.SubjectMatchTypes()[r.SubjectType]
	if !ok || attr == "" {
		return false
	}
	oid, ok := dn.AttributeOID(attr)
	if !ok {
		return false
	}
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(oid) {
			if s, ok := atv.Value.(string); ok && strings.EqualFold(strings.TrimSpace(s), want) {
				return true
			}
		}
	}
	return false
}

// matchIssuer compares the certificate's issuer with the rule's DN, RDN by
// RDN: in the order written for ISSUER_DN_LDAPSTYLE (RFC 4514, most
// specific first) and, for ISSUER_DN_BCSTYLE as EJBCA writes it, in either
// order.
func matchIssuer(c *x509.Certificate, r config.AuthorizedClient) bool {
	want, err := dn.Parse(r.IssuerValue)
	if err != nil {
		return false
	}
	var got pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawIssuer, &got); err != nil || len(rest) > 0 {
		return false
	}
	if equalRDNs(got, want) {
		return true
	}
	if r.IssuerType == config.MatchIssuerLDAP {
		return false
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	return equalRDNs(got, rev)
}

func equalRDNs(a, b pkix.RDNSequence) bool {
	return slices.EqualFunc(a, b, func(x, y pkix.RelativeDistinguishedNameSET) bool {
		return len(x) == len(y) && !slices.ContainsFunc(x, func(ax pkix.AttributeTypeAndValue) bool {
			return !slices.ContainsFunc(y, func(ay pkix.AttributeTypeAndValue) bool {
				return ax.Type.Equal(ay.Type) && strings.EqualFold(fmt.Sprint(ax.Value), fmt.Sprint(ay.Value))
			})
		})
	})
}

// ErrNoClientCA reports a client certificate sent to a server without a
// client CA bundle.
var ErrNoClientCA = errors.New("this server accepts no client certificates: it has no client CA bundle (server.tls.clientCAs)")

// ClientCert returns the TLS client certificate of r verified against pool
// (chain to one of its CAs, valid now, usable for client authentication),
// and nil, nil when the client sent none. The error says why a certificate
// is refused, in a sentence for the client.
func ClientCert(r *http.Request, pool *x509.CertPool) (*x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	if pool == nil {
		return nil, ErrNoClientCA
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case err == nil:
		return leaf, nil
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return nil, fmt.Errorf("the client certificate %X is expired or not yet valid (valid %s to %s): use a current one", leaf.SerialNumber, leaf.NotBefore.UTC().Format(time.DateOnly), leaf.NotAfter.UTC().Format(time.DateOnly))
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return nil, fmt.Errorf("the client certificate %X is not for client authentication (extended key usage)", leaf.SerialNumber)
	case errors.As(err, &unk):
		return nil, fmt.Errorf("the client certificate %X is not issued by a CA this server trusts (issuer %q)", leaf.SerialNumber, leaf.Issuer.String())
	}
	return nil, fmt.Errorf("the client certificate %X cannot be verified: %v", leaf.SerialNumber, err)
}
