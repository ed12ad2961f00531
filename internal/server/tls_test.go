package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"golang.org/x/crypto/bcrypt"
)

// tlsPKI is a CA and the PEM files of server certificates it issued.
type tlsPKI struct {
	ca  *demo.CA
	dir string
}

func newTLSPKI(t *testing.T) *tlsPKI {
	t.Helper()
	ca, err := demo.NewCA("TLS Test CA")
	if err != nil {
		t.Fatal(err)
	}
	return &tlsPKI{ca: ca, dir: t.TempDir()}
}

// issue returns the PEM of a new localhost server certificate (chain: leaf,
// CA) named cn and of its key.
func (p *tlsPKI) issue(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := p.ca.Issue(cn, key.Public(), demo.TLSServer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return demo.PEM(cert, p.ca.Cert), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// write writes files in the PKI's folder: name → content.
func (p *tlsPKI) write(t *testing.T, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(p.dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// tlsYAML is a configuration with TLS from server.pem and server.key (line
// 3 and 4) and the client CA bundle clients.pem (line 5), and more server
// settings after them.
func tlsYAML(more string) string {
	return "server:\n  tls:\n    cert: server.pem\n    key: server.key\n    clientCAs: clients.pem\n" + more + "workers: []\n"
}

// TestCheckTLSFiles: config check reports a TLS file the server would
// refuse at the line that names it, and the server refuses the same file
// with the same words (one loader).
func TestCheckTLSFiles(t *testing.T) {
	t.Parallel()
	p := newTLSPKI(t)
	cert, key := p.issue(t, "signet-a")
	_, otherKey := p.issue(t, "signet-b")
	caPEM := demo.PEM(p.ca.Cert)
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	tests := []struct {
		name           string
		cert, key, cas []byte // nil: the file is missing
		line           int    // of the problem; 0: none
		says           string
	}{
		{"good", cert, key, caPEM, 0, ""},
		{"no certificate file", nil, key, caPEM, 3, "TLS certificate"},
		{"a certificate file that is no PEM", []byte("hello"), key, caPEM, 3, "holds no PEM certificate"},
		{"a key where the certificate belongs", key, key, caPEM, 3, "holds no PEM certificate"},
		{"a certificate that does not parse", corrupt, key, caPEM, 3, "certificate 1"},
		{"no key file", cert, nil, caPEM, 4, "TLS key"},
		{"a key that is no PEM", cert, []byte("hello"), caPEM, 4, "TLS key"},
		{"the key of another certificate", cert, otherKey, caPEM, 4, "does not match"},
		{"no client CA bundle", cert, key, nil, 5, "client CA bundle"},
		{"a client CA bundle without certificates", cert, key, []byte("hello"), 5, "holds no PEM certificate"},
		{"a client CA bundle with a corrupt certificate", cert, key, append(caPEM, corrupt...), 5, "certificate 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, data := range map[string][]byte{"server.pem": tt.cert, "server.key": tt.key, "clients.pem": tt.cas, "signet.yaml": []byte(tlsYAML(""))} {
				if data != nil {
					if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			cfg := filepath.Join(dir, "signet.yaml")
			ps := Check(cfg)
			if tt.line == 0 {
				if len(ps) != 0 {
					t.Fatalf("problems of a good configuration: %v", ps)
				}
				return
			}
			want := fmt.Sprintf("%s:%d: The server cannot start: ", cfg, tt.line)
			if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), want) || !strings.Contains(ps[0].Error(), tt.says) {
				t.Fatalf("config check: %v; want one problem %q… saying %q", ps, want, tt.says)
			}
			err := Run(t.Context(), Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
				Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard})
			if err == nil || err.Error() != ps[0].Error() {
				t.Fatalf("the server refuses with %v; config check said %q", err, ps[0])
			}
		})
	}
}

// tlsServer is Run serving a configuration over TLS, for the tests.
type tlsServer struct {
	url, health string
	reload      chan struct{}
	purge       chan time.Time
	events      *logEvents
	roots       *x509.CertPool
}

// logEvents lets a test wait for a message in the server log.
type logEvents struct {
	mu   sync.Mutex
	seen map[string]int
	wake chan struct{}
}

func (l *logEvents) Enabled(context.Context, slog.Level) bool { return true }
func (l *logEvents) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logEvents) WithGroup(string) slog.Handler            { return l }
func (l *logEvents) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.seen[r.Message]++
	close(l.wake)
	l.wake = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// wait waits until msg has been logged n times in all.
func (l *logEvents) wait(t *testing.T, msg string, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		got, wake := l.seen[msg], l.wake
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("the server did not log %q %d times in 10 s", msg, n)
		}
	}
}

// serveTLS runs the server on the configuration yaml, written in p's
// folder, until the test ends; a configuration without server tls is
// served over plain HTTP.
func serveTLS(t *testing.T, p *tlsPKI, yaml string) *tlsServer {
	t.Helper()
	cfg := filepath.Join(p.dir, "signet.yaml")
	p.write(t, map[string][]byte{"signet.yaml": []byte(yaml)})
	s := &tlsServer{reload: make(chan struct{}), purge: make(chan time.Time), events: &logEvents{seen: map[string]int{}, wake: make(chan struct{})}, roots: x509.NewCertPool()}
	s.roots.AddCert(p.ca.Cert)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Run(ctx, Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: filepath.Join(p.dir, "data"),
			Logger: slog.New(s.events), Stdout: pw, Reload: s.reload, PurgeTick: s.purge})
		pw.CloseWithError(fmt.Errorf("server stopped: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Health check (plain HTTP) on "); ok {
			s.health = u
		}
		if u, ok := strings.CutPrefix(sc.Text(), "Signet listening on "); ok {
			s.url = u
			break
		}
	}
	if s.url == "" {
		t.Fatalf("the server did not start: %v", sc.Err())
	}
	go io.Copy(io.Discard, pr)
	return s
}

// startTLS serves tlsYAML(more) with a new certificate for "signet-a".
func startTLS(t *testing.T, more string) (*tlsPKI, *tlsServer) {
	t.Helper()
	p := newTLSPKI(t)
	cert, key := p.issue(t, "signet-a")
	p.write(t, map[string][]byte{"server.pem": cert, "server.key": key, "clients.pem": demo.PEM(p.ca.Cert)})
	return p, serveTLS(t, p, tlsYAML(more))
}

// send sends req with c and returns the status and the body.
func send(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// peer connects anew and returns the common name of the certificate the
// server presents.
func (s *tlsServer) peer(t *testing.T) string {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.url, "https://"), &tls.Config{RootCAs: s.roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLSReload: after a reload (the trigger SIGHUP pulls) the server
// presents the certificate now in the files; files that do not load leave
// the one in force, and both are written to the log.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	p, s := startTLS(t, "")
	if cn := s.peer(t); cn != "signet-a" {
		t.Fatalf("the server presents %q, want signet-a", cn)
	}
	cert, key := p.issue(t, "signet-b")
	p.write(t, map[string][]byte{"server.pem": cert, "server.key": key})
	s.reload <- struct{}{}
	s.events.wait(t, "TLS certificate reloaded", 1)
	if cn := s.peer(t); cn != "signet-b" {
		t.Fatalf("after the reload the server presents %q, want signet-b", cn)
	}
	_, otherKey := p.issue(t, "signet-c")
	p.write(t, map[string][]byte{"server.key": otherKey}) // not the key of signet-b
	s.reload <- struct{}{}
	s.events.wait(t, "TLS certificate reload refused; the one in force stays", 1)
	if cn := s.peer(t); cn != "signet-b" {
		t.Fatalf("after a refused reload the server presents %q, want signet-b still", cn)
	}
}

// TestTLSReloadByAdminAPI: the admin API's reload does what SIGHUP does,
// the TLS certificate included; a certificate that does not load is a 400
// that says so, and the one in force stays.
func TestTLSReloadByAdminAPI(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := newTLSPKI(t)
	cert, key := p.issue(t, "signet-a")
	p.write(t, map[string][]byte{"server.pem": cert, "server.key": key, "clients.pem": demo.PEM(p.ca.Cert)})
	s := serveTLS(t, p, tlsYAML("")+"users:\n  - name: admin\n    roles: [admin]\n    passwordHash: '"+string(hash)+"'\n")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots, ServerName: "localhost"}, DisableKeepAlives: true}}
	reload := func() (int, string) {
		req, err := http.NewRequest(http.MethodPost, s.url+"/admin/api/reload", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", "pw")
		return send(t, c, req)
	}
	cert, key = p.issue(t, "signet-b")
	p.write(t, map[string][]byte{"server.pem": cert, "server.key": key})
	if code, body := reload(); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if cn := s.peer(t); cn != "signet-b" {
		t.Fatalf("after the admin API's reload the server presents %q, want signet-b", cn)
	}
	_, otherKey := p.issue(t, "signet-c")
	p.write(t, map[string][]byte{"server.key": otherKey})
	code, body := reload()
	if code != http.StatusBadRequest || !strings.Contains(body, "TLS certificate") {
		t.Fatalf("reload with a key that does not match: %d %s, want 400 naming the TLS certificate", code, body)
	}
	if cn := s.peer(t); cn != "signet-b" {
		t.Fatalf("after a refused reload the server presents %q, want signet-b still", cn)
	}
}

// TestHealthListen: the plain-HTTP health listener answers the health
// check and nothing else — no signing, no admin, no vendor API, no metrics
// — while the TLS listener serves them.
func TestHealthListen(t *testing.T) {
	t.Parallel()
	_, s := startTLS(t, "  healthListen: 127.0.0.1:0\n")
	if !strings.HasPrefix(s.health, "http://127.0.0.1:") {
		t.Fatalf("health listener %q", s.health)
	}
	base := strings.TrimSuffix(s.health, "/signserver/healthcheck/signserverhealth")
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}}}
	do := func(c *http.Client, method, url string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader("data"))
		if err != nil {
			t.Fatal(err)
		}
		return send(t, c, req)
	}
	if code, body := do(http.DefaultClient, http.MethodGet, s.health); code != 200 || strings.TrimSpace(body) != "ALLOK" {
		t.Fatalf("GET health: %d %q", code, body)
	}
	if code, _ := do(http.DefaultClient, http.MethodHead, s.health); code != 200 {
		t.Fatalf("HEAD health: %d", code)
	}
	// A 405 says in Allow what the path takes (RFC 9110 15.5.6), as the
	// main listener's do.
	post, err := http.Post(s.health, "text/plain", strings.NewReader("data"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST health: %d, Allow %q; want 405, Allow \"GET, HEAD\"", post.StatusCode, post.Header.Get("Allow"))
	}
	tests := []struct{ method, path string }{
		{http.MethodPost, "/signserver/worker/CAdESSigner"},
		{http.MethodPost, "/signserver/process"},
		{http.MethodPost, "/signserver/rest/v1/workers/CAdESSigner/process"},
		{http.MethodGet, "/admin/api/workers"},
		{http.MethodPost, "/admin/api/reload"},
		{http.MethodGet, "/admin/"},
		{http.MethodGet, "/api/v1/keys"},
		{http.MethodPost, "/crypto/v1/keys/batch/sign"},
		{http.MethodGet, "/metrics"},
		{http.MethodGet, "/"},
	}
	for _, tt := range tests {
		code, body := do(http.DefaultClient, tt.method, base+tt.path)
		if code != http.StatusNotFound || !strings.Contains(body, "serves the health check only") {
			t.Errorf("%s %s on the health listener: %d %q, want 404 naming the health check", tt.method, tt.path, code, body)
		}
		// The TLS listener serves the path: its answer is not that 404.
		if code, body := do(tlsClient, tt.method, s.url+tt.path); strings.Contains(body, "serves the health check only") {
			t.Errorf("%s %s on the TLS listener: %d %q", tt.method, tt.path, code, body)
		}
	}
	if code, body := do(tlsClient, http.MethodGet, s.url+"/admin/api/workers"); code != http.StatusUnauthorized {
		t.Errorf("the admin API on the TLS listener: %d %q, want 401", code, body)
	}
}

// TestReloadAppliesNewClientCAs: a reload reads the TLS files the reloaded
// configuration names. It read the ones named at start whatever the
// configuration now said, so an operator who pointed clientCAs at a new
// bundle (to drop a compromised CA) and reloaded got "ok" while the old
// CA's client certificates still logged in as their users.
func TestReloadAppliesNewClientCAs(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := newTLSPKI(t)
	other, err := demo.NewCA("Other Clients CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := p.issue(t, "signet-a")
	p.write(t, map[string][]byte{"server.pem": cert, "server.key": key, "clients.pem": demo.PEM(p.ca.Cert), "other.pem": demo.PEM(other.Cert)})
	users := "users:\n  - name: admin\n    roles: [admin]\n    passwordHash: '" + string(hash) + "'\n" +
		"    authorizedClients:\n      - {matchSubjectWithType: SUBJECT_RDN_CN, matchSubjectWithValue: ops, matchIssuerWithValue: '" + p.ca.Cert.Subject.String() + "'}\n"
	s := serveTLS(t, p, tlsYAML("")+users)
	ckey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ccert, err := p.ca.Issue("ops", ckey.Public(), demo.TLSClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: s.roots, ServerName: "localhost",
		Certificates: []tls.Certificate{{Certificate: [][]byte{ccert.Raw}, PrivateKey: ckey}}}}}
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/admin/api/workers", nil)
		code, _ := send(t, withCert, req)
		return code
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("client certificate of the configured CA: %d, want 200", code)
	}
	p.write(t, map[string][]byte{"signet.yaml": []byte(strings.Replace(tlsYAML("")+users, "clientCAs: clients.pem", "clientCAs: other.pem", 1))})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/admin/api/reload", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "pw")
	if code, body := send(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: s.roots, ServerName: "localhost"}}}, req); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if code := get(); code != http.StatusForbidden {
		t.Errorf("client certificate of the CA taken out of clientCAs, after the reload: %d, want 403", code)
	}
}

// TestReloadAppliesNewCertPaths: a reload (SIGHUP) after the configuration
// was pointed at other certificate and key files presents the certificate
// of the new files; new paths that do not load are refused and the
// certificate in force stays, as after a refused reload of the same paths.
func TestReloadAppliesNewCertPaths(t *testing.T) {
	t.Parallel()
	p, s := startTLS(t, "")
	reloaded, refused := 0, 0
	for _, tc := range []struct {
		name      string
		cert, key string // paths the configuration names
		files     map[string][]byte
		want      string // the CN presented after the reload
		refused   bool
	}{
		{"new paths", "new.pem", "new.key", nil, "signet-b", false},
		{"new certificate missing", "missing.pem", "new.key", nil, "signet-b", true},
		{"new key of another certificate", "new.pem", "other.key", nil, "signet-b", true},
		{"back to the first paths", "server.pem", "server.key", nil, "signet-a", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, key := p.issue(t, "signet-b")
			_, otherKey := p.issue(t, "signet-c")
			if tc.name == "new paths" {
				p.write(t, map[string][]byte{"new.pem": cert, "new.key": key, "other.key": otherKey})
			}
			yaml := strings.NewReplacer("cert: server.pem", "cert: "+tc.cert, "key: server.key", "key: "+tc.key).Replace(tlsYAML(""))
			p.write(t, map[string][]byte{"signet.yaml": []byte(yaml)})
			s.reload <- struct{}{}
			if tc.refused {
				refused++
				s.events.wait(t, "TLS certificate reload refused; the one in force stays", refused)
			} else {
				reloaded++
				s.events.wait(t, "TLS certificate reloaded", reloaded)
			}
			if cn := s.peer(t); cn != tc.want {
				t.Fatalf("after the reload the server presents %q, want %q", cn, tc.want)
			}
		})
	}
}

// TestTLSPort probes the TLS port as a client on the network would: a
// plain HTTP request is answered 400 naming https and never served (the
// health check that would answer it in clear included); TLS 1.0 and 1.1
// are refused at the handshake; TLS 1.2 and 1.3 are served.
func TestTLSPort(t *testing.T) {
	t.Parallel()
	_, s := startTLS(t, "")
	addr := strings.TrimPrefix(s.url, "https://")
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/signserver/healthcheck/signserverhealth", nil)
	if code, body := send(t, plain, req); code != http.StatusBadRequest || !strings.Contains(body, "HTTPS") {
		t.Errorf("plain HTTP on the TLS port: %d %q, want 400 naming HTTPS", code, body)
	}
	tests := []struct {
		name     string
		min, max uint16
		ok       bool
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, false},
		{"TLS 1.1", tls.VersionTLS11, tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: s.roots, ServerName: "localhost", MinVersion: tt.min, MaxVersion: tt.max})
		if err == nil {
			conn.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s: handshake error %v, want accepted %v", tt.name, err, tt.ok)
		}
	}
}

// TestHealthListenBusy: a healthListen address in use (by another program,
// or by the server itself when --listen names it, which config check does
// not see) stops the start with the sentence that names the setting and a
// port to try, as a busy listen address does.
func TestHealthListenBusy(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	dir, withServer, _ := demoFolder(t)
	cfg := filepath.Join(dir, "busy.yaml")
	if err := os.WriteFile(cfg, []byte(withServer("  healthListen: "+held.Addr().String()+"\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	err = Run(t.Context(), Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard})
	want := held.Addr().String() + ", the health check's address (server.healthListen), is in use by another program or by this server's own listener: give healthListen a free port, such as 127.0.0.1:"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Run: %v; want %q…", err, want)
	}
}

// TestNextPort: the address suggested for a busy port is the next one on
// the same host, passing over the server's own listener: a healthListen
// one below the listen port was told to try the listen port.
func TestNextPort(t *testing.T) {
	t.Parallel()
	own := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}
	tests := []struct {
		addr  string
		taken []net.Addr
		want  string
	}{
		{"127.0.0.1:8080", nil, "127.0.0.1:8081"},
		{":8442", []net.Addr{own}, ":8444"},
		{"127.0.0.1:9000", []net.Addr{own}, "127.0.0.1:9001"},
		{"127.0.0.1:65535", nil, "127.0.0.1:8081"},
		{"localhost", nil, "127.0.0.1:8081"},
	}
	for _, tt := range tests {
		if got := nextPort(tt.addr, tt.taken...); got != tt.want {
			t.Errorf("nextPort(%q, %v) = %q, want %q", tt.addr, tt.taken, got, tt.want)
		}
	}
}
