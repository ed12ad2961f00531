package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for cn and its key to dir
// (cn.pem, cn.key) and returns the certificate.
func writeCert(t *testing.T, dir, cn string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	for file, b := range map[string]*pem.Block{cn + ".pem": {Type: "CERTIFICATE", Bytes: der}, cn + ".key": {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// handshake runs a TLS handshake of client against server over a pipe and
// returns the client's view of it.
func handshake(server, client *tls.Config) (tls.ConnectionState, error) {
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	go func() {
		s := tls.Server(sc, server)
		_ = s.Handshake()
		sc.Close()
	}()
	c := tls.Client(cc, client)
	err := c.Handshake()
	return c.ConnectionState(), err
}

// TestConfig: every handshake gets the certificate in force (after a
// reload too), the TLS 1.2 floor, ALPN for HTTP/2 and a request for a
// client certificate when there is a client CA bundle — all from the
// config made for the handshake, the only one the handshake reads.
func TestConfig(t *testing.T) {
	dir := t.TempDir()
	a, b := writeCert(t, dir, "a"), writeCert(t, dir, "b")
	files := Files{Cert: filepath.Join(dir, "a.pem"), Key: filepath.Join(dir, "a.key"), ClientCAs: filepath.Join(dir, "b.pem")}
	s, err := New(files)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.Config()
	roots := x509.NewCertPool()
	roots.AddCert(a)
	roots.AddCert(b)
	asked := false
	client := func(edit func(*tls.Config)) *tls.Config {
		c := &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"},
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				asked = true
				return &tls.Certificate{}, nil
			}}
		if edit != nil {
			edit(c)
		}
		return c
	}

	st, err := handshake(cfg, client(nil))
	if err != nil {
		t.Fatal(err)
	}
	if st.PeerCertificates[0].Subject.CommonName != "a" || st.NegotiatedProtocol != "h2" || !asked {
		t.Errorf("handshake: certificate %s, protocol %q, client certificate asked %v; want a, h2, asked",
			st.PeerCertificates[0].Subject.CommonName, st.NegotiatedProtocol, asked)
	}
	// Go's servers refuse TLS 1.1 by default; with that default switched
	// off, as GODEBUG may, the floor must be the config's own.
	t.Setenv("GODEBUG", "tls10server=1")
	if _, err := handshake(cfg, client(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 })); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("a TLS 1.1 client with GODEBUG=tls10server=1: %v, want the server to refuse its protocol version", err)
	}

	if err := s.ReloadFiles(Files{Cert: filepath.Join(dir, "b.pem"), Key: filepath.Join(dir, "b.key")}); err != nil {
		t.Fatal(err)
	}
	asked = false
	st, err = handshake(cfg, client(nil))
	if err != nil {
		t.Fatal(err)
	}
	if st.PeerCertificates[0].Subject.CommonName != "b" || asked {
		t.Errorf("after the reload: certificate %s, client certificate asked %v; want b, not asked (no client CA bundle)",
			st.PeerCertificates[0].Subject.CommonName, asked)
	}
}
