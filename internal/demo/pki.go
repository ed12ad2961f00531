// Package demo makes the demo PKI behind Signet's embedded default
// configuration: a root CA and the signer and time-stamping certificates it
// issues. Tests use the same functions to make throw-away PKIs.
package demo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

// NewKey generates a key from a spec: "RSA-2048", "RSA-3072", "RSA-4096",
// "EC-P256", "EC-P384", "EC-P521" or "Ed25519".
func NewKey(spec string) (crypto.Signer, error) {
	switch strings.ToUpper(spec) {
	case "RSA-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA-3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "RSA-4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "EC-P256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EC-P384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EC-P521":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key spec %q: use RSA-2048|3072|4096, EC-P256|P384|P521 or Ed25519", spec)
}

// CA is a certificate authority that issues demo and test certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CRLURL, when set, is written as the CRL distribution point of every
	// certificate Issue makes (PAdES-BASELINE-LT embeds that CRL).
	CRLURL string
}

// Purpose selects the extensions of an issued certificate.
type Purpose int

// Certificate purposes.
const (
	// DocumentSigning: digitalSignature and nonRepudiation, for CMS/CAdES signers.
	DocumentSigning Purpose = iota
	// TimeStamping: digitalSignature with the critical timeStamping EKU that
	// RFC 3161 requires.
	TimeStamping
	// TLSServer: the demo server's HTTPS certificate, for localhost and the
	// loopback addresses.
	TLSServer
	// TLSClient: a TLS client certificate (AUTHTYPE CLIENTCERT).
	TLSClient
)

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
var oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// template is a demo certificate for commonName with a random serial, valid
// from an hour ago (clocks drift) until notAfter.
func template(commonName string, notAfter time.Time) (*x509.Certificate, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"Signet Demo"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}, nil
}

// NewCA makes a self-signed root CA valid for ten years, with a new ECDSA
// P-256 key.
func NewCA(commonName string) (*CA, error) {
	key, err := NewKey("EC-P256")
	if err != nil {
		return nil, err
	}
	tmpl, err := template(commonName, time.Now().AddDate(10, 0, 0))
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue issues a certificate for pub with the given common name and purpose,
// valid for validity from an hour ago.
func (ca *CA) Issue(commonName string, pub crypto.PublicKey, p Purpose, validity time.Duration) (*x509.Certificate, error) {
	tmpl, err := template(commonName, time.Now().Add(validity))
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	switch p {
	case TLSServer:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	case TLSClient:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if ca.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{ca.CRLURL}
	}
	if p == TimeStamping {
		// Go's ExtKeyUsage field marks the extension non-critical; RFC 3161
		// requires it critical, so it is written by hand.
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidKPTimeStamping})
		if err != nil {
			return nil, err
		}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %s: %w", commonName, err)
	}
	return x509.ParseCertificate(der)
}

// CRL issues a CRL listing revoked, valid from a minute ago for validity.
func (ca *CA) CRL(revoked []x509.RevocationListEntry, validity time.Duration) ([]byte, error) {
	now := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(now.UnixNano()),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: revoked,
	}, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue the CRL of %s: %w", ca.Cert.Subject, err)
	}
	return der, nil
}

// IssueCSR issues a document-signing certificate for a PKCS#10 request after
// checking its signature.
func (ca *CA) IssueCSR(csr *x509.CertificateRequest, validity time.Duration) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return ca.Issue(csr.Subject.CommonName, csr.PublicKey, DocumentSigning, validity)
}

// PEM encodes certificates as concatenated PEM blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
