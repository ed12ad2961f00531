package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
)

// demoServer runs Run on the demo configuration over plain HTTP, with
// serverYAML (indented lines) as its server section, and returns the
// address it listens on and the demo password.
func demoServer(t *testing.T, serverYAML string) (addr, password string) {
	addr, password, _ = reloadableDemoServer(t, serverYAML)
	return addr, password
}

// reloadableDemoServer is demoServer that also returns setServer, which
// writes another server section into the configuration file for a reload
// to read.
func reloadableDemoServer(t *testing.T, serverYAML string) (addr, password string, setServer func(serverYAML string)) {
	t.Helper()
	dir, withServer, password := demoFolder(t)
	cfg := filepath.Join(dir, "endpoint.yaml")
	setServer = func(serverYAML string) {
		if err := os.WriteFile(cfg, []byte(withServer(serverYAML)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setServer(serverYAML)
	addr, _ = runServer(t, cfg, dir, nil)
	return addr, password, setServer
}

// demoFolder bootstraps the demo data folder and returns it, withServer,
// which gives the demo configuration with serverYAML (indented lines) as
// its server section in place of its TLS (plain HTTP: the tests' clients
// trust no CA), and the demo password.
func demoFolder(t *testing.T) (dir string, withServer func(serverYAML string) string, password string) {
	t.Helper()
	dir = t.TempDir()
	files, _, err := demo.Bootstrap(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	const tlsSection = "server:\n  tls:\n    cert: tls.pem\n    key: tls.key\n"
	if !strings.Contains(string(b), tlsSection) {
		t.Fatalf("the demo configuration's server section changed: %.300s", b)
	}
	withServer = func(serverYAML string) string {
		return strings.Replace(string(b), tlsSection, "server:\n"+serverYAML, 1)
	}
	return dir, withServer, files.Password
}

// adminCall sends a request as the demo admin to the server at addr, with
// header, and returns the answer's body and header; an answer other than
// 200 fails the test.
func adminCall(t *testing.T, addr, password, method, path string, header http.Header) ([]byte, http.Header) {
	t.Helper()
	return adminRequest(t, addr, password, method, path, "{}", header)
}

// adminBodyCall is adminCall with the JSON body body.
func adminBodyCall(t *testing.T, addr, password, method, path, body string) ([]byte, http.Header) {
	t.Helper()
	return adminRequest(t, addr, password, method, path, body, nil)
}

// adminRequest is adminCall and adminBodyCall.
func adminRequest(t *testing.T, addr, password, method, path, in string, header http.Header) ([]byte, http.Header) {
	t.Helper()
	code, body, h := adminAnswer(t, addr, password, method, path, in, header)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, body)
	}
	return body, h
}

// adminAnswer sends an admin API request as admin, with the JSON body in,
// and returns its answer whatever its status.
func adminAnswer(t *testing.T, addr, password, method, path, in string, header http.Header) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(in))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// runServer runs Run on the configuration file cfg with its state in dir,
// reloading on every receive from reload, and returns the address it
// listens on and a stop that ends it and returns Run's error (also called
// at cleanup).
func runServer(t *testing.T, cfg, dir string, reload <-chan struct{}) (addr string, stop func() error) {
	t.Helper()
	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: dir,
			Logger: slog.New(slog.DiscardHandler), Stdout: w, Reload: reload})
		w.Close()
	}()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "Signet listening on http://"); ok {
			go io.Copy(io.Discard, r)
			return a, stop
		}
	}
	t.Fatalf("the server did not start: %v", stop())
	return "", nil
}

// millionBatch is a SignServer batch of n SHA-256 digests, generated as it
// is read so that the client holds none of it.
type millionBatch struct {
	n, i int
	buf  []byte
}

const batchHead, batchTail = `{"signatureRequests":[`, `]}`

func batchItem(i int) string {
	d := sha256.Sum256(fmt.Appendf(nil, "document %08d", i))
	return fmt.Sprintf(`{"data":"%s","customIdentifier":"%08d"}`, base64.StdEncoding.EncodeToString(d[:]), i)
}

// size is the body's length: every item is as long as the first.
func (m *millionBatch) size() int64 {
	return int64(len(batchHead)+len(batchTail)) + int64(m.n)*int64(len(batchItem(0))+1) - 1
}

func (m *millionBatch) Read(p []byte) (int, error) {
	for len(m.buf) < len(p) && m.i <= m.n {
		switch {
		case m.i == 0:
			m.buf = append(m.buf, batchHead...)
		case m.i == m.n:
			m.buf = append(m.buf, batchItem(m.i-1)+batchTail...)
		default:
			m.buf = append(m.buf, batchItem(m.i-1)+","...)
		}
		m.i++
	}
	if len(m.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.buf)
	m.buf = m.buf[:copy(m.buf, m.buf[n:])]
	return n, nil
}

// rawAnswer sends req on a new connection and reads the answer until the
// server closes it, or the deadline.
func rawAnswer(t *testing.T, addr, req string, deadline time.Duration) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(deadline))
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestHostileRequestsAtTheEndpoint sends the hostile requests of issue 14
// to a server started from a configuration (the demo's, with its server
// section's limits), through HTTP: a 1,000,000-item batch is refused at
// MAX_BATCH_SIZE without the server allocating its 85 MB; stalled bodies
// are answered 408 and closed at the configured bodyTimeout; a negative or
// overflowing Content-Length and a 2 MB header get a sentence; refused
// logins are not each an audit row. It measures the bytes the process
// allocates, so it does not run in parallel.
func TestHostileRequestsAtTheEndpoint(t *testing.T) {
	const bodyTimeout = 500 * time.Millisecond
	addr, password := demoServer(t, fmt.Sprintf("  bodyTimeout: %s\n", bodyTimeout))
	base := "http://" + addr

	t.Run("1,000,000-item batch", func(t *testing.T) {
		body := &millionBatch{n: 1_000_000}
		req, _ := http.NewRequest(http.MethodPost, base+"/signserver/worker/CAdESSigner?REQUEST_METADATA.USING_BATCHSIGNING=true&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256", body)
		req.ContentLength = body.size()
		req.Header.Set("Content-Type", "application/json")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, err := http.DefaultClient.Do(req)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "MAX_BATCH_SIZE") {
			t.Errorf("%d %.300s; want 413 naming MAX_BATCH_SIZE", resp.StatusCode, b)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d-byte batch refused after %d bytes allocated (client and server), heap %d MB", req.ContentLength, alloc, after.HeapAlloc>>20)
		if alloc > 32<<20 {
			t.Errorf("the process allocated %d MB for a refused %d MB batch; want at most 32 MB", alloc>>20, req.ContentLength>>20)
		}
	})

	t.Run("stalled bodies", func(t *testing.T) {
		const n = 50
		type answer struct {
			got string
			d   time.Duration
			err error
		}
		answers := make(chan answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				start := time.Now()
				path := "/signserver/worker/CMSSigner"
				ctype := "application/octet-stream"
				if i%2 == 1 { // a form the process servlet reads before it knows the worker
					path, ctype = "/signserver/process", "application/x-www-form-urlencoded"
				}
				got, err := rawAnswer(t, addr, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: "+ctype+"\r\nContent-Length: 1000\r\n\r\nworkerName=CMSSigner&data=a", 20*time.Second)
				answers <- answer{got, time.Since(start), err}
			})
		}
		wg.Wait()
		close(answers)
		for a := range answers {
			if a.err != nil || !strings.HasPrefix(a.got, "HTTP/1.1 408 ") || !strings.Contains(a.got, "stalled for more than "+bodyTimeout.String()) {
				t.Errorf("after %s: %v %.200q; want 408 naming bodyTimeout %s and the connection closed", a.d, a.err, a.got, bodyTimeout)
				continue
			}
			if a.d < bodyTimeout || a.d > bodyTimeout+10*time.Second {
				t.Errorf("closed after %s; want about bodyTimeout %s", a.d, bodyTimeout)
			}
		}
	})

	t.Run("malformed framing", func(t *testing.T) {
		for _, tc := range []struct{ name, req, status, want string }{
			{"negative Content-Length", "POST /signserver/worker/CMSSigner HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "400", "Content-Length"},
			{"overflowing Content-Length", "POST /signserver/worker/CMSSigner HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", "400", "malformed HTTP"},
			{"2 MB header", "GET /signserver/healthcheck/signserverhealth HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 2<<20) + "\r\n\r\n", "431", "shorter headers"},
		} {
			got, _ := rawAnswer(t, addr, tc.req, 20*time.Second)
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
			if err != nil {
				t.Errorf("%s: %q: %v", tc.name, got, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			if fmt.Sprint(resp.StatusCode) != tc.status || !strings.Contains(string(b), tc.want) || !strings.HasSuffix(string(b), ".\n") {
				t.Errorf("%s: %d %q; want %s and a sentence with %q", tc.name, resp.StatusCode, b, tc.status, tc.want)
			}
		}
	})

	t.Run("refused logins", func(t *testing.T) {
		const n = 200
		start := time.Now()
		for i := range n {
			req, _ := http.NewRequest(http.MethodPost, base+"/sys/v1/session/auth", nil)
			req.SetBasicAuth(fmt.Sprintf("guess%d", i%3), "wrong")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("refused login %d: %d", i, resp.StatusCode)
			}
		}
		secs := int(time.Since(start)/time.Second) + 1
		req, _ := http.NewRequest(http.MethodGet, base+"/admin/api/audit?action=access.refused&limit=1000", nil)
		req.SetBasicAuth("admin", password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct {
			Entries []struct {
				Details map[string]string `json:"details"`
			} `json:"entries"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("audit: %d %v", resp.StatusCode, err)
		}
		rows := len(page.Entries)
		t.Logf("%d refused logins in %d s: %d audit rows", n, secs, rows)
		if rows == 0 || rows > 5*(secs+1) {
			t.Errorf("%d refused logins in %d s wrote %d audit rows; want between 1 and %d (5 a second)", n, secs, rows, 5*(secs+1))
		}
	})
}
