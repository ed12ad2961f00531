package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/web/auth"
	"github.com/signet-project/signet/web/tlsconf"
	"github.com/signet-project/signet/workers"
)

// testCA is a CA for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"Signet Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{c, k}
}

// issue makes a leaf certificate; eku is its extended key usage.
func (ca *testCA) issue(t *testing.T, cn string, serial int64, notAfter time.Time, eku x509.ExtKeyUsage, ips ...net.IP) tls.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// accessWorker answers "signed" and records the caller the guard would see.
type accessWorker struct {
	name   string
	id     int
	access config.Access
	mu     sync.Mutex
	last   tokens.Caller
}

func (w *accessWorker) Name() string                          { return w.name }
func (w *accessWorker) ID() int                               { return w.id }
func (w *accessWorker) Kind() string                          { return "Test" }
func (w *accessWorker) Access() config.Access                 { return w.access }
func (w *accessWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (w *accessWorker) Process(ctx context.Context, req *workers.Request) (*workers.Response, error) {
	io.Copy(io.Discard, req.Data)
	w.mu.Lock()
	w.last = tokens.CallerFrom(ctx)
	w.mu.Unlock()
	return &workers.Response{Data: []byte("signed")}, nil
}

// unsaidWorker is a worker that does not say how its clients are
// authorized (no Access): it is refused, not served to everyone.
type unsaidWorker struct{ w *accessWorker }

func (u unsaidWorker) Name() string                              { return u.w.Name() }
func (u unsaidWorker) ID() int                                   { return u.w.ID() }
func (u unsaidWorker) Kind() string                              { return u.w.Kind() }
func (u unsaidWorker) Status(ctx context.Context) workers.Status { return u.w.Status(ctx) }
func (u unsaidWorker) Process(ctx context.Context, req *workers.Request) (*workers.Response, error) {
	return u.w.Process(ctx, req)
}

// TestWorkerAuthOverTLS checks AUTHTYPE CLIENTCERT and USERNAME_PASSWORD
// over real TLS connections: who gets in, who gets 401 (with a challenge)
// and who 403, and that refusals are reported for the audit log.
func TestWorkerAuthOverTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "Server CA"), newTestCA(t, "Client CA"), newTestCA(t, "Other CA")
	srvCert := serverCA.issue(t, "localhost", 10, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", srvCert.Certificate[0])
	keyDER, _ := x509.MarshalPKCS8PrivateKey(srvCert.PrivateKey)
	writePEM(t, filepath.Join(dir, "server.key"), "PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "clients.pem"), "CERTIFICATE", clientCA.cert.Raw)
	tc, err := tlsconf.New(tlsconf.Files{Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server.key"), ClientCAs: filepath.Join(dir, "clients.pem")})
	if err != nil {
		t.Fatal(err)
	}

	issuer := "CN=Client CA,O=Signet Test"
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	certWorker := &accessWorker{name: "CertSigner", id: 1, access: config.Access{Type: config.AuthClientCert, Clients: []config.AuthorizedClient{
		{SubjectType: config.MatchSerialNo, SubjectValue: "2A", IssuerType: config.MatchIssuerBC, IssuerValue: issuer},
		{SubjectType: "SUBJECT_RDN_CN", SubjectValue: "app2", IssuerType: config.MatchIssuerBC, IssuerValue: issuer},
	}}}
	pwWorker := &accessWorker{name: "PasswordSigner", id: 2, access: config.Access{Type: config.AuthUsernamePassword,
		Users: []config.WorkerUser{{Name: "app", PasswordHash: string(hash)}}}}
	openWorker := &accessWorker{name: "OpenSigner", id: 3, access: config.Access{Type: config.AuthNoAuth}}
	unsaid := unsaidWorker{&accessWorker{name: "UnsaidSigner", id: 4}}
	var mu sync.Mutex
	var refusals []string
	var logs bytes.Buffer
	var logMu sync.Mutex
	s := New(Options{
		Registry:   workers.NewRegistry(workers.NewSet([]workers.Worker{certWorker, pwWorker, openWorker, unsaid}, nil)),
		Authorizer: &auth.WorkerAuthorizer{ClientCAs: tc.ClientCAs, Throttle: auth.NewThrottle()},
		OnRefusal: func(c echo.Context, surface string, err error) {
			mu.Lock()
			refusals = append(refusals, surface+": "+err.(*auth.Refusal).Reason)
			mu.Unlock()
		},
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{mu: &logMu, w: &logs}, nil)),
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeTLS(ctx, l, tc.Config()) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "https://" + l.Addr().String()
	roots := x509.NewCertPool()
	roots.AddCert(serverCA.cert)

	good := clientCA.issue(t, "app1", 0x2a, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	byCN := clientCA.issue(t, "app2", 77, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	otherSerial := clientCA.issue(t, "app3", 0x2b, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	expired := clientCA.issue(t, "app1", 0x2a, time.Now().Add(-time.Hour), x509.ExtKeyUsageClientAuth)
	foreign := otherCA.issue(t, "app1", 0x2a, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	// The right subject and serial from a CA of the trusted CA's very name
	// (another key): the rules match the issuer by name, the chain does not.
	sameName := newTestCA(t, "Client CA").issue(t, "app1", 0x2a, time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	serverOnly := clientCA.issue(t, "app1", 0x2a, time.Now().Add(time.Hour), x509.ExtKeyUsageServerAuth)

	tests := []struct {
		name       string
		worker     string
		cert       *tls.Certificate
		user, pass string
		want       int
		says       string
	}{
		{"authorized serial signs", "CertSigner", &good, "", "", 200, "signed"},
		{"authorized CN signs", "CertSigner", &byCN, "", "", 200, "signed"},
		{"no certificate", "CertSigner", nil, "", "", 401, "requires a TLS client certificate"},
		{"serial not authorized", "CertSigner", &otherSerial, "", "", 403, "does not authorize the client certificate 2B"},
		{"expired certificate", "CertSigner", &expired, "", "", 403, "expired"},
		{"certificate of another CA", "CertSigner", &foreign, "", "", 403, "not issued by a CA this server trusts"},
		{"certificate not for client auth", "CertSigner", &serverOnly, "", "", 403, "not for client authentication"},
		{"certificate of a CA of the same name", "CertSigner", &sameName, "", "", 403, "not issued by a CA this server trusts"},
		{"worker without Access, anonymous", "UnsaidSigner", nil, "", "", 401, "requires a TLS client certificate"},
		{"worker without Access, a trusted certificate", "UnsaidSigner", &good, "", "", 403, "does not authorize"},
		{"basic auth signs", "PasswordSigner", nil, "app", "s3cret", 200, "signed"},
		{"no credentials", "PasswordSigner", nil, "", "", 401, "requires a user name and password"},
		{"wrong password", "PasswordSigner", nil, "app", "nope", 401, "Wrong user name or password"},
		{"unknown user", "PasswordSigner", nil, "mallory", "s3cret", 401, "Wrong user name or password"},
		{"NOAUTH", "OpenSigner", nil, "", "", 200, "signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: roots}
			if tt.cert != nil {
				cfg.Certificates = []tls.Certificate{*tt.cert}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			req, _ := http.NewRequest("POST", base+"/signserver/worker/"+tt.worker, strings.NewReader("doc"))
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !strings.Contains(string(body), tt.says) {
				t.Fatalf("%d %q, want %d saying %q", resp.StatusCode, body, tt.want, tt.says)
			}
			if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	certWorker.mu.Lock()
	if !strings.HasPrefix(certWorker.last.User, "cert:") || certWorker.last.Client != "127.0.0.1" || certWorker.last.RequestID == "" {
		t.Errorf("the guard would record %+v", certWorker.last)
	}
	certWorker.mu.Unlock()
	// The request log names who got in: the basic-auth user, the client
	// certificate; nobody for NOAUTH.
	wantUsers := map[string]string{"PasswordSigner": "app", "OpenSigner": ""}
	seen := map[string]bool{}
	logMu.Lock()
	logText := logs.String()
	logMu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(logText), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "request" || l["status"] != 200.0 {
			continue
		}
		w, _ := l["worker"].(string)
		u, _ := l["user"].(string)
		if want, ok := wantUsers[w]; ok && u != want || w == "CertSigner" && !strings.HasPrefix(u, "cert:") {
			t.Errorf("log line of %s names user %q", w, u)
		}
		seen[w] = true
	}
	if len(seen) != 3 {
		t.Errorf("signed requests logged for %v, want the three workers", seen)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) != 11 {
		t.Errorf("refusals reported: %d %q, want 11", len(refusals), refusals)
	}
}
