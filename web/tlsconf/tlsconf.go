// Package tlsconf is the TLS side of `signet serve`: the server certificate
// and key from PEM files, the bundle of CAs that client certificates are
// checked against, both reloaded on SIGHUP without dropping connections,
// and a tls.Config with TLS 1.2 as the floor and Go's defaults otherwise.
//
// Client certificates are requested, not required or verified, by the TLS
// layer: web/auth verifies them per request, so that a certificate from
// another CA or an expired one gets an HTTP 403 that says why instead of a
// failed handshake, and surfaces that do not use client certificates are
// not affected by them.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// Files names the PEM files of a TLS listener.
type Files struct {
	Cert      string // server certificate chain, leaf first
	Key       string // its private key
	ClientCAs string // CAs that issue client certificates; "" for none
}

// Server holds the certificate and client CA bundle in force.
type Server struct {
	cur atomic.Pointer[loaded]
}

type loaded struct {
	files Files // what cert and cas were read from
	cert  *tls.Certificate
	cas   *x509.CertPool // nil without a bundle
}

// New loads the files.
func New(f Files) (*Server, error) {
	s := &Server{}
	if err := s.ReloadFiles(f); err != nil {
		return nil, err
	}
	return s, nil
}

// ReloadFiles reads f, which become the files in force: a reloaded
// configuration may name other files than the one in force, a new client
// CA bundle that leaves a compromised CA out, say. When they do not load,
// the certificate, bundle and files in force stay and the error says why.
func (s *Server) ReloadFiles(f Files) error {
	l, err := load(f)
	if err != nil {
		return err
	}
	s.cur.Store(l)
	return nil
}

// Files returns the files in force.
func (s *Server) Files() Files { return s.cur.Load().files }

// Check loads the files as New and Reload do, and returns a *FileError
// naming the file that does not load: `signet config check` reports what
// the server would refuse, by the server's own loader.
func Check(f Files) error {
	_, err := load(f)
	return err
}

// The files of Files, as FileError names them.
const (
	FileCert      = "cert"
	FileKey       = "key"
	FileClientCAs = "clientCAs"
)

// FileError is a file of Files that does not load: which one (FileCert,
// FileKey, FileClientCAs), its path and why.
type FileError struct {
	Which, Path string
	Err         error
}

func (e *FileError) Error() string {
	what := map[string]string{FileCert: "TLS certificate", FileKey: "TLS key", FileClientCAs: "client CA bundle"}[e.Which]
	return fmt.Sprintf("the %s %s does not load: %v", what, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// load reads and parses the files: the certificate chain alone first, so
// that an error says which file is wrong, then the key with it (which must
// be the certificate's).
func load(f Files) (*loaded, error) {
	certPEM, err := os.ReadFile(f.Cert)
	if err != nil {
		return nil, &FileError{FileCert, f.Cert, err}
	}
	if _, err := parseCerts(certPEM); err != nil {
		return nil, &FileError{FileCert, f.Cert, err}
	}
	keyPEM, err := os.ReadFile(f.Key)
	if err != nil {
		return nil, &FileError{FileKey, f.Key, err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{FileKey, f.Key, fmt.Errorf("%w (is it the key of %s?)", err, f.Cert)}
	}
	l := &loaded{files: f, cert: &cert}
	if f.ClientCAs != "" {
		if l.cas, err = loadPool(f.ClientCAs); err != nil {
			return nil, &FileError{FileClientCAs, f.ClientCAs, err}
		}
	}
	return l, nil
}

// parseCerts returns the PEM certificates of data, each of which must
// parse, and at least one.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("it holds no PEM certificate")
	}
	return certs, nil
}

// loadPool reads a PEM bundle of CA certificates; every certificate in it
// must parse.
func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ClientCAs returns the client CA bundle in force, nil when none is
// configured (no client certificate is then accepted).
func (s *Server) ClientCAs() *x509.CertPool { return s.cur.Load().cas }

// Leaf returns the server certificate in force.
func (s *Server) Leaf() *x509.Certificate {
	c := s.cur.Load().cert
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

// Config returns the listener's tls.Config: TLS 1.2 or newer, the
// certificate in force for every handshake, client certificates requested
// when there is a client CA bundle. All of it is in the config that
// GetConfigForClient makes for each handshake from what is in force, which
// the handshake uses instead of this one.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			l := s.cur.Load()
			c := &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*l.cert},
				NextProtos:   []string{"h2", "http/1.1"},
			}
			if l.cas != nil {
				// Requested without naming the CAs: a client then sends the
				// certificate it has even from another CA, and is told
				// why it is refused (403) rather than that it sent none.
				c.ClientAuth = tls.RequestClientCert
			}
			return c, nil
		},
	}
}
