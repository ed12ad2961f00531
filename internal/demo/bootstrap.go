package demo

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/signet-project/signet/internal/atomicfile"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
)

//go:embed default.yaml
var defaultConfig []byte

// DefaultConfig returns the embedded default configuration.
func DefaultConfig() []byte { return append([]byte(nil), defaultConfig...) }

// Files names what Bootstrap keeps in the data folder.
type Files struct {
	Dir      string
	Config   string // signet.yaml, the embedded default configuration
	CA       string // demo-ca.pem, the root to verify signatures against
	CAKey    string // demo-ca.key, to issue further demo certificates
	Keystore string // keystore/, one PKCS#12 file per key
	PIN      string // keystore.pin
	// TLSCert and TLSKey are the demo server's HTTPS certificate (issued
	// by the demo CA for localhost, 127.0.0.1 and ::1) and its key.
	TLSCert, TLSKey string
	// PasswordHash is demo-password.bcrypt: the bcrypt hash of the demo
	// password of the users admin, operator and demo.
	PasswordHash string
	// PasswordFile is demo-password: the demo password itself, readable
	// by its owner only.
	PasswordFile string
	// Password is the demo password; "" in a data folder made by an older
	// Signet, which kept only its hash.
	Password string
}

// PasswordEnv names the environment variable that chooses the demo
// password instead of a random one.
const PasswordEnv = "SIGNET_DEMO_PASSWORD"

// FilesIn returns the file names Bootstrap uses in dir.
func FilesIn(dir string) Files {
	return Files{
		Dir:      dir,
		Config:   filepath.Join(dir, "signet.yaml"),
		CA:       filepath.Join(dir, "demo-ca.pem"),
		CAKey:    filepath.Join(dir, "demo-ca.key"),
		Keystore: filepath.Join(dir, "keystore"),
		PIN:      filepath.Join(dir, "keystore.pin"),
		TLSCert:  filepath.Join(dir, "tls.pem"),
		TLSKey:   filepath.Join(dir, "tls.key"),

		PasswordHash: filepath.Join(dir, "demo-password.bcrypt"),
		PasswordFile: filepath.Join(dir, "demo-password"),
	}
}

// Demo keys: alias, key spec and certificate purpose. tsa-p256 is the key of
// the demo TimeStampSigner, with the critical timeStamping EKU.
var demoKeys = [...]struct {
	alias, spec string
	purpose     Purpose
}{
	{"signer-p256", "EC-P256", DocumentSigning},
	{"signer-rsa3072", "RSA-3072", DocumentSigning},
	{"tsa-p256", "EC-P256", TimeStamping},
}

// Bootstrap makes the demo PKI and configuration in dir unless they are
// there already: a root CA, a PKCS#12 keystore with an ECDSA P-256 and an
// RSA-3072 signer key and their certificates, a random keystore PIN, and the
// embedded default configuration. It reports whether it created them.
// The keystore also holds tsa-p256, the key of the demo TimeStampSigner,
// whose certificate has the critical timeStamping extended key usage.
// signet.yaml is written last, so an interrupted first start is redone.
//
// On every start it also makes sure of the demo password (see
// EnsurePassword): $SIGNET_DEMO_PASSWORD when set, otherwise the random one
// made at first start, kept in demo-password (0600) with its hash in
// demo-password.bcrypt.
func Bootstrap(ctx context.Context, dir string) (Files, bool, error) {
	return BootstrapCRL(ctx, dir, DefaultCRLURL)
}

// BootstrapCRL is Bootstrap with the CRL distribution point the demo
// certificates name: the server's own address, where it publishes the CRL at
// CRLPath. It matters only at first start, when the certificates are made.
func BootstrapCRL(ctx context.Context, dir, crlURL string) (Files, bool, error) {
	f := FilesIn(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, false, fmt.Errorf("create data folder: %w", err)
	}
	pw, err := EnsurePassword(f.PasswordHash, f.PasswordFile, os.Getenv(PasswordEnv))
	if err != nil {
		return f, false, err
	}
	f.Password = pw
	if _, err := os.Stat(f.Config); err == nil {
		return f, false, ensureTLS(f)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, false, err
	}
	ca, err := NewCA("Signet Demo Root CA")
	if err != nil {
		return f, false, err
	}
	ca.CRLURL = crlURL
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return f, false, err
	}
	if err := atomicfile.Write(f.CA, PEM(ca.Cert), 0o644); err != nil {
		return f, false, err
	}
	if err := atomicfile.Write(f.CAKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return f, false, err
	}
	pinBytes := make([]byte, 16)
	if _, err := rand.Read(pinBytes); err != nil {
		return f, false, err
	}
	pin := hex.EncodeToString(pinBytes)
	if err := atomicfile.Write(f.PIN, []byte(pin+"\n"), 0o600); err != nil {
		return f, false, err
	}
	os.RemoveAll(f.Keystore) // an interrupted first start
	ks, err := soft.Create(soft.Options{Path: f.Keystore, Type: "PKCS12", Name: "demo"}, pin)
	if err != nil {
		return f, false, fmt.Errorf("create demo keystore: %w", err)
	}
	for _, k := range demoKeys {
		if err := addSigner(ctx, ks, ca, k.alias, k.spec, k.purpose); err != nil {
			return f, false, err
		}
	}
	if err := ensureTLS(f); err != nil {
		return f, false, err
	}
	if err := atomicfile.Write(f.Config, defaultConfig, 0o644); err != nil {
		return f, false, err
	}
	return f, true, nil
}

// ensureTLS makes the demo server's HTTPS certificate and key from the demo
// CA when they are missing (also in a data folder made by an older Signet).
func ensureTLS(f Files) error {
	if _, err := os.Stat(f.TLSCert); err == nil {
		if _, err := os.Stat(f.TLSKey); err == nil {
			return nil
		}
	}
	ca, err := LoadCA(f)
	if err != nil {
		return fmt.Errorf("load the demo CA to make the HTTPS certificate: %w", err)
	}
	key, err := NewKey("EC-P256")
	if err != nil {
		return err
	}
	cert, err := ca.Issue("localhost", key.Public(), TLSServer, 2*365*24*time.Hour)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.TLSKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(f.TLSCert, PEM(cert, ca.Cert), 0o644)
}

// addSigner generates a key in tok and stores a chain issued by ca for it.
func addSigner(ctx context.Context, tok *soft.Token, ca *CA, alias, spec string, purpose Purpose) error {
	ks := tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"}
	if spec == "RSA-3072" {
		ks = tokens.KeySpec{Algorithm: "RSA", Bits: 3072}
	}
	pub, err := tok.GenerateKey(ctx, alias, ks)
	if err != nil {
		return fmt.Errorf("generate demo key %s: %w", alias, err)
	}
	name := "Signet Demo Signer " + alias
	if purpose == TimeStamping {
		name = "Signet Demo TSA " + alias
	}
	cert, err := ca.Issue(name, pub, purpose, 2*365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := tok.ImportChain(ctx, alias, []*x509.Certificate{cert, ca.Cert}); err != nil {
		return fmt.Errorf("store demo certificate %s: %w", alias, err)
	}
	return nil
}

// NamedCRL returns the CRL distribution point that the demo's signer
// certificates in f name, where PDFSignerLT and online validation fetch the
// demo CA's CRL: the address of the start that made them. "" when they name
// none.
func NamedCRL(ctx context.Context, f Files) (string, error) {
	pin, err := os.ReadFile(f.PIN)
	if err != nil {
		return "", err
	}
	tok, err := soft.Open(soft.Options{Path: f.Keystore, Type: "PKCS12", Name: "demo"})
	if err != nil {
		return "", err
	}
	if err := tok.Activate(ctx, strings.TrimSpace(string(pin))); err != nil {
		return "", err
	}
	defer tok.Deactivate(ctx)
	chain, err := tok.Chain(ctx, demoKeys[0].alias)
	if err != nil || len(chain) == 0 || len(chain[0].CRLDistributionPoints) == 0 {
		return "", err
	}
	return chain[0].CRLDistributionPoints[0], nil
}

// DefaultDataDir is the data folder signet serve uses without --data, where
// make run makes the demo: the commands' defaults and the hints of the
// clients' errors (the demo's CA, its password file) name it.
const DefaultDataDir = "signet-data"

// CRLPath is where a demo server publishes the demo CA's CRL, and
// DefaultCRLURL the CRL distribution point the demo certificates name: the
// path on the default listen address.
const (
	CRLPath       = "/crl/demo-ca.crl"
	DefaultCRLURL = "http://127.0.0.1:8080" + CRLPath
)

// crlValidity is how long a published CRL is valid (its nextUpdate).
const crlValidity = time.Hour

// CRLHandler serves the demo CA's CRL (DER, application/pkix-crl), issued
// afresh at most every minute. No demo certificate is revoked.
func CRLHandler(f Files) (http.Handler, error) {
	ca, err := LoadCA(f)
	if err != nil {
		return nil, fmt.Errorf("load the demo CA to publish its CRL: %w", err)
	}
	var mu sync.Mutex
	var der []byte
	var made time.Time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if der == nil || time.Since(made) > time.Minute {
			if d, err := ca.CRL(nil, crlValidity); err == nil {
				der, made = d, time.Now()
			}
		}
		out := der
		mu.Unlock()
		if out == nil {
			http.Error(w, "The demo CRL could not be issued; see the server log.", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write(out)
	}), nil
}

// LoadCA reads the demo CA written by Bootstrap.
func LoadCA(f Files) (*CA, error) {
	certPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(f.CAKey)
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("demo CA files in %s are not PEM", f.Dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("demo CA key in %s is not a signing key", f.CAKey)
	}
	return &CA{Cert: cert, Key: signer}, nil
}
