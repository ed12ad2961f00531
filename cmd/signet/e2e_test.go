package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/workers"
)

// server is a Signet started in process by run("serve", …).
type server struct {
	url      string
	data     string
	cancel   context.CancelFunc
	done     chan error
	logs     *bytes.Buffer
	logw     *lockedWriter // writes logs
	reload   chan struct{} // the server's Options.Reload
	clock    *testClock    // the server's Options.Now
	stopOnce sync.Once
}

// startServer runs signet serve with args on a free loopback port and waits
// until it listens.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return launch(t, t.TempDir(), "127.0.0.1:0", args...)
}

// launch runs signet serve --data data --listen listen args… in process and
// waits until it listens. It stops when the test ends, or earlier by stop
// (so that a test can start it again on the same data and port).
func launch(t testing.TB, data, listen string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{data: data, cancel: cancel, done: make(chan error, 1), logs: &bytes.Buffer{}, reload: make(chan struct{}), clock: &testClock{}}
	s.logw = &lockedWriter{w: s.logs, changed: make(chan struct{})}
	all := append([]string{"serve", "--data", data, "--listen", listen}, args...)
	var confDirs []string
	for i, a := range args { // a later --data wins
		if a == "--data" && i+1 < len(args) {
			s.data = args[i+1]
		}
		if a == "--config" && i+1 < len(args) {
			confDirs = append(confDirs, filepath.Dir(args[i+1]))
		}
	}
	go func() {
		reloads := func(context.Context) <-chan struct{} { return s.reload }
		err := dispatch(ctx, all, stdio{out: pw, err: s.logw, reloads: reloads, now: s.clock.Now})
		pw.CloseWithError(fmt.Errorf("server stopped: %v", err))
		s.done <- err
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "Signet listening on "); ok {
			s.url = addr
			break
		}
	}
	if s.url == "" {
		cancel()
		t.Fatalf("server did not start: %v\n%s", sc.Err(), s.logs)
	}
	if strings.HasPrefix(s.url, "https://") {
		trustCA(t, filepath.Join(s.data, "demo-ca.pem"))
		for _, d := range confDirs { // a demo configuration copied beside its PKI
			trustCA(t, filepath.Join(d, "demo-ca.pem"))
		}
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() { s.stop(t) })
	return s
}

// bootstrapDemo makes the demo PKI and configuration in a new folder, with
// edit (nil: none) applied to the configuration's text and users (items of
// its users section, the last section) appended.
func bootstrapDemo(t *testing.T, edit func(string) string, users string) demo.Files {
	t.Helper()
	return bootstrapDemoIn(t, t.TempDir(), edit, users)
}

// bootstrapDemoIn is bootstrapDemo in the folder dir (see demoData).
func bootstrapDemoIn(t *testing.T, dir string, edit func(string) string, users string) demo.Files {
	t.Helper()
	files, _, err := demo.Bootstrap(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	text := string(y)
	if edit != nil {
		text = edit(text)
	}
	if err := os.WriteFile(files.Config, []byte(text+users), 0o644); err != nil {
		t.Fatal(err)
	}
	return files
}

// testRoots are the CAs that the tests' HTTP clients (http.DefaultClient)
// trust: each demo server's own CA, added when it starts. Parallel tests
// each have their own demo CA, so the set only grows.
var testRoots struct {
	mu    sync.Mutex
	certs []*x509.Certificate
}

func init() {
	http.DefaultTransport.(*http.Transport).TLSClientConfig = &tls.Config{
		// Verified in VerifyConnection against testRoots, which changes
		// while tests run.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			testRoots.mu.Lock()
			pool := x509.NewCertPool()
			for _, c := range testRoots.certs {
				pool.AddCert(c)
			}
			testRoots.mu.Unlock()
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: cs.ServerName})
			return err
		},
	}
}

// trustCA adds the PEM CA certificate in file (a file that may not exist:
// a configuration without the demo CA) to testRoots.
func trustCA(t testing.TB, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			testRoots.mu.Lock()
			testRoots.certs = append(testRoots.certs, c)
			testRoots.mu.Unlock()
		}
	}
}

// tlsArgs are the flags that let a command-line client trust s.
func (s *server) tlsArgs() []string {
	if !strings.HasPrefix(s.url, "https://") {
		return nil
	}
	return []string{"-cacert", filepath.Join(s.data, "demo-ca.pem")}
}

// stop stops the server and waits for it (at most 10 s); a second call does
// nothing.
func (s *server) stop(t testing.TB) {
	s.stopOnce.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	})
}

// hashBatchBody is a SignServer batch request of the SHA-256 digests of
// docs, item i with the customIdentifier "i".
func hashBatchBody(docs [][]byte) []byte {
	var br workers.BatchRequest
	for i, d := range docs {
		h := sha256.Sum256(d)
		br.SignatureRequests = append(br.SignatureRequests, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(h[:]), HashingAlgorithm: "SHA-256", CustomIdentifier: strconv.Itoa(i)})
	}
	body, err := json.Marshal(br)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return body
}

// testClock is a test server's clock for its tokens: the wall clock plus
// how far the test moved it on, so that a token's retry or probe is due
// when the test says so (Advance by the interval) instead of after a wait.
type testClock struct{ ahead atomic.Int64 }

// Now returns the wall clock plus the advance.
func (c *testClock) Now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) { c.ahead.Add(int64(d)) }

// lockedWriter serialises writes from the server's goroutines and tells
// waiters that the text grew.
type lockedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	changed chan struct{} // closed, and replaced, by every write
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.changed)
	l.changed = make(chan struct{})
	return l.w.Write(p)
}

// waitLog waits until the server's log has n lines containing text: the
// event a test waits on instead of a sleep. The deadline (10 s) only
// bounds a server that never logs it.
func (s *server) waitLog(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.logw.mu.Lock()
		got, changed := strings.Count(s.logs.String(), text), s.logw.changed
		s.logw.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the server did not log %q %d times in 10 s", text, n)
		}
	}
}

// logCount returns how many times the server's log has text so far.
func (s *server) logCount(text string) int {
	s.logw.mu.Lock()
	defer s.logw.mu.Unlock()
	return strings.Count(s.logs.String(), text)
}

// reloadConfig asks the server to reload its configuration, as SIGHUP does
// in the signet process, and waits for the reload's outcome in the log:
// event is "configuration reloaded" or "configuration reload refused".
func (s *server) reloadConfig(t *testing.T, event string) {
	t.Helper()
	n := s.logCount(event) + 1
	select {
	case s.reload <- struct{}{}:
	case <-time.After(10 * time.Second): // bounds a server that stopped
		t.Fatal("the server did not take the reload request within 10 s")
	}
	s.waitLog(t, event, n)
}

// postRaw sends body to the worker servlet with metadata in the query.
func (s *server) postRaw(t *testing.T, worker string, body io.Reader, meta map[string]string) (int, []byte) {
	t.Helper()
	ctype := "application/octet-stream"
	if meta["USING_BATCHSIGNING"] == "true" {
		ctype = "application/json" // SignServer's batch protocol
	}
	resp, err := http.Post(workerURL(s.url, worker, meta), ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// restRequest is the SignServer REST process request.
type restRequest struct {
	Data     string            `json:"data"`
	Encoding string            `json:"encoding,omitempty"`
	MetaData map[string]string `json:"metaData,omitempty"`
}

// postREST sends a REST process request and returns the decoded data.
func (s *server) postREST(t *testing.T, worker string, req any) (int, []byte, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(req)
	resp, err := http.Post(s.url+"/signserver/rest/v1/workers/"+url.PathEscape(worker)+"/process", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("REST answer is not JSON (%d): %s", resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, m
	}
	data, err := base64.StdEncoding.DecodeString(m["data"].(string))
	if err != nil {
		t.Fatalf("REST data is not base64: %v", err)
	}
	return resp.StatusCode, data, m
}

// opensslVerify runs openssl cms -verify on a DER signature; content is the
// detached document (nil for attached). It returns openssl's error.
func opensslVerify(t *testing.T, sig, content []byte, caFile string, cades bool) error {
	t.Helper()
	dir := t.TempDir()
	sigFile := filepath.Join(dir, "sig.der")
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile, "-CAfile", caFile, "-purpose", "any", "-out", filepath.Join(dir, "out")}
	if cades {
		args = append(args, "-cades")
	}
	if content != nil {
		cf := filepath.Join(dir, "content")
		if err := os.WriteFile(cf, content, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-content", cf)
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func TestDemoCurlLine(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	doc := []byte("An invoice to sign.\n")
	code, sig := s.postRaw(t, "CAdESSigner", bytes.NewReader(doc), map[string]string{"USING_BATCHSIGNING": "false"})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, sig)
	}
	ca := filepath.Join(s.data, "demo-ca.pem")
	if err := opensslVerify(t, sig, doc, ca, true); err != nil {
		t.Fatalf("openssl rejects the demo signature: %v", err)
	}
	if err := opensslVerify(t, sig, []byte("An invoice to sign!\n"), ca, true); err == nil {
		t.Fatal("openssl accepts the signature over a tampered document")
	}
	// The attached CMSSigner through REST.
	code, der, m := s.postREST(t, "CMSSigner", restRequest{Data: base64.StdEncoding.EncodeToString(doc), Encoding: "BASE64"})
	if code != http.StatusOK {
		t.Fatalf("REST status %d: %v", code, m)
	}
	if err := opensslVerify(t, der, nil, ca, false); err != nil {
		t.Fatalf("openssl rejects the attached CMS signature: %v", err)
	}
	certDER, err := base64.StdEncoding.DecodeString(fmt.Sprint(m["signerCertificate"]))
	if err != nil {
		t.Fatalf("signerCertificate: %v", err)
	}
	if _, err := x509.ParseCertificate(certDER); err != nil {
		t.Fatalf("signerCertificate is not a certificate: %v", err)
	}
	// Health.
	resp, err := http.Get(s.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ALLOK" {
		t.Fatalf("health %d %q", resp.StatusCode, body)
	}
}

// TestStreamedDetachedKeepsMemoryFlat sends 1 GiB through the raw worker
// servlet and samples the heap while the server hashes it.
func TestStreamedDetachedKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB upload skipped in -short mode")
	}
	const size = 1 << 30
	s := startServer(t, "--max-upload", fmt.Sprint(2*size))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	h := sha256.New()
	body := io.TeeReader(io.LimitReader(&pattern{}, size), h)
	code, sig := s.postRaw(t, "CAdESSigner", body, map[string]string{"USING_BATCHSIGNING": "false"})
	close(stop)
	<-sampled
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, sig)
	}
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by at most %d KiB while streaming 1 GiB", grew/1024)
	if grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB while streaming 1 GiB: the body is being buffered", grew>>20)
	}
	sd, err := cms.Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sd.Signers[0].MessageDigest, h.Sum(nil)) {
		t.Fatal("the signature's message digest is not the SHA-256 of the 1 GiB upload")
	}
	if err := sd.Verify(io.LimitReader(&pattern{}, size)); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// pattern is an endless reader of a byte pattern that depends only on the
// offset, so that two readers with different buffer sizes agree.
type pattern struct{ off int }

func (r *pattern) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte((r.off+i)*7 + 3)
	}
	r.off += len(p)
	return len(p), nil
}

// TestPlainSigner checks raw ECDSA signatures from the demo PlainSigner over
// a document and over a client-side digest with the standard library.
func TestPlainSigner(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	doc := []byte("plain document")
	sum := sha256.Sum256(doc)
	cases := []struct {
		name string
		data []byte
		meta map[string]string
	}{
		{"document", doc, nil},
		{"client hash", sum[:], map[string]string{"USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, sig, m := s.postREST(t, "PlainSigner", restRequest{Data: base64.StdEncoding.EncodeToString(c.data), Encoding: "BASE64", MetaData: c.meta})
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, m)
			}
			der, _ := base64.StdEncoding.DecodeString(fmt.Sprint(m["signerCertificate"]))
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			pub := cert.PublicKey.(*ecdsa.PublicKey)
			if !ecdsa.VerifyASN1(pub, sum[:], sig) {
				t.Fatal("the plain signature does not verify over SHA-256 of the document")
			}
			other := sha256.Sum256([]byte("other"))
			if ecdsa.VerifyASN1(pub, other[:], sig) {
				t.Fatal("the plain signature verifies over another document")
			}
		})
	}
}
