// Package tlsclient holds the TLS options of Signet's command-line clients
// (client sign and batch, client bench, admin): the CA to trust for the
// server's certificate and a client certificate.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
)

// Flags are the TLS options of the command-line clients (client,
// bench, admin): the CA to trust for the server's certificate, and a
// client certificate for workers and APIs that take one.
type Flags struct{ cacert, cert, key string }

// Register adds -cacert, -cert and -cert-key to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.cacert, "cacert", os.Getenv("SIGNET_CACERT"), "PEM `file` of the CA of the server's certificate (the demo's is DATA/demo-ca.pem), $SIGNET_CACERT when set; without either, the system's CAs")
	fs.StringVar(&f.cert, "cert", "", "client certificate PEM `file`, for AUTHTYPE CLIENTCERT workers and certificate users")
	fs.StringVar(&f.key, "cert-key", "", "PEM `file` of the client certificate's private key")
}

// HasCert reports whether the flags name a client certificate.
func (f *Flags) HasCert() bool { return f.cert != "" }

// Config returns the tls.Config the flags ask for.
func (f *Flags) Config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.cacert != "" {
		pem, err := os.ReadFile(f.cacert)
		if err != nil {
			return nil, fmt.Errorf("read --cacert: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s holds no PEM certificate", f.cacert)
		}
	}
	if (f.cert == "") != (f.key == "") {
		return nil, fmt.Errorf("give --cert and --cert-key together")
	}
	if f.cert != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}
