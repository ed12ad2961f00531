// Package tlsclient holds the TLS options of Signet's command-line clients
// (client sign and batch, client bench, admin): the CA to trust for the
// server's certificate and a client certificate.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"syscall"

	"github.com/signet-project/signet/internal/demo"
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

// Hint is the fix a person at the command line needs for the two errors of
// a request to the server that a new user meets first: a server certificate
// from a CA the client does not trust (the demo's own CA, when the line
// make run prints was not pasted) and a refused connection (no server
// there). "" for any other error.
func Hint(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return "the server's certificate is from a CA this client does not trust; give its CA with --cacert FILE or $SIGNET_CACERT (the demo's is " + demo.FilesIn(demo.DefaultDataDir).CA + ")"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "no server listens there; start it (make run), or give the address it printed with --url or $SIGNET"
	}
	return ""
}

// Explain adds its Hint to err; an error without one it returns as it is.
func Explain(err error) error {
	if h := Hint(err); h != "" {
		return fmt.Errorf("%w: %s", err, h)
	}
	return err
}

// Explained wraps a transport so that the errors of its requests are
// Explain'ed: what the clients print for a failed request names the fix.
func Explained(rt http.RoundTripper) http.RoundTripper { return explained{rt} }

type explained struct{ rt http.RoundTripper }

func (e explained) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.rt.RoundTrip(r)
	return resp, Explain(err)
}
