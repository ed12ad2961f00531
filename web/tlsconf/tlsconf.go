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
	files Files
	cur   atomic.Pointer[loaded]
}

type loaded struct {
	cert *tls.Certificate
	cas  *x509.CertPool // nil without a bundle
}

// New loads the files.
func New(f Files) (*Server, error) {
	s := &Server{files: f}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again. When they do not load, the certificate in
// force stays and the error says why.
func (s *Server) Reload() error {
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("load the TLS certificate %s and key %s: %w", s.files.Cert, s.files.Key, err)
	}
	l := &loaded{cert: &cert}
	if s.files.ClientCAs != "" {
		if l.cas, err = LoadPool(s.files.ClientCAs); err != nil {
			return err
		}
	}
	s.cur.Store(l)
	return nil
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the client CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("the client CA bundle " + file + " holds no PEM certificate")
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
// when there is a client CA bundle.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
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
		NextProtos: []string{"h2", "http/1.1"},
	}
}
