// Command soak is Signet's load test with hostile input (make soak). It
// starts bin/signet on loopback with the demo configuration and a server
// section of short timeouts, runs CLIENTS clients for DURATION against every
// endpoint family with HOSTILE of the requests from a table of bad input,
// opens STALLED connections that stall (three in four in the body of a
// CMSSigner request, more than its maxWorkerQueue: they must keep no valid
// request out), and, among the hostile requests,
// sends 4 concurrent batches of 1,000,000 items and 4 concurrent 200 MB
// bodies. It prints requests/s, the status counts, p50/p99 of the valid
// requests and the server's peak RSS, and exits 1 on any 5xx, any valid
// request that did not get its 200, a stalled connection the server did not
// close, or a peak RSS over -max-rss.
//
// It talks to 127.0.0.1 only, and every request and connection it makes is
// bounded by the run's duration.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/signet-project/signet/internal/demo"
)

func main() {
	bin := flag.String("bin", "bin/signet", "the signet `binary`")
	clients := flag.Int("clients", 64, "concurrent clients")
	duration := flag.Duration("duration", 60*time.Second, "how long the clients run")
	hostile := flag.Float64("hostile", 0.10, "share of hostile requests")
	stalled := flag.Int("stalled", 200, "stalled connections held open")
	bodyTimeout := flag.Duration("body-timeout", 5*time.Second, "the server's bodyTimeout")
	maxRSS := flag.Int64("max-rss", 256, "the bound on the server's peak RSS, `MiB` (README)")
	flag.Parse()
	if err := run(*bin, *clients, *duration, *hostile, *stalled, *bodyTimeout, *maxRSS<<20); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(bin string, clients int, duration time.Duration, hostile float64, stalled int, bodyTimeout time.Duration, maxRSS int64) error {
	dir, err := os.MkdirTemp("", "signet-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	files, _, err := demo.Bootstrap(ctx, dir)
	if err != nil {
		return err
	}
	cfg, err := os.ReadFile(files.Config)
	if err != nil {
		return err
	}
	soakCfg := filepath.Join(dir, "soak.yaml")
	if cfg, err = withServer(cfg, bodyTimeout); err != nil {
		return fmt.Errorf("%s: %w", files.Config, err)
	}
	if err := os.WriteFile(soakCfg, cfg, 0o600); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	srv := exec.Command(bin, "serve", "--config", soakCfg, "--data", dir, "--listen", addr)
	serverLog, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer serverLog.Close()
	srv.Stdout, srv.Stderr = io.Discard, serverLog
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	base := "http://" + addr
	if err := waitHealthy(base, 30*time.Second); err != nil {
		return err
	}

	t := newTable(base)
	st := &stats{codes: map[string]int{}}
	deadline := time.Now().Add(duration)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}, Timeout: duration}

	var wg sync.WaitGroup
	// The stalled connections, open for the whole run.
	stalledClosed := make(chan time.Duration, stalled)
	for i := range stalled {
		wg.Go(func() { stalledClosed <- stall(addr, i, deadline.Add(bodyTimeout+10*time.Second)) })
	}
	// The bursts: 4 concurrent million-item batches, 4 concurrent 200 MB
	// bodies, a quarter into the run.
	wg.Go(func() {
		time.Sleep(duration / 4)
		var bw sync.WaitGroup
		for i := range 4 {
			bw.Go(func() { st.hostile(t.millionBatch(client)) })
			bw.Go(func() { st.hostile(t.hugeBody(client, i)) })
		}
		bw.Wait()
	})
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if mrand.Float64() < hostile {
					st.hostile(t.hostileRequest(client, addr))
					continue
				}
				st.valid(t.validRequest(client))
			}
		})
	}
	peak := watchRSS(srv.Process.Pid, deadline.Add(bodyTimeout+15*time.Second))
	wg.Wait()
	close(stalledClosed)
	var closedIn []time.Duration
	for d := range stalledClosed {
		if d > 0 {
			closedIn = append(closedIn, d)
		}
	}
	rss := <-peak

	elapsed := duration.Seconds()
	fmt.Printf("signet soak: %d clients x %s, %.0f%% hostile, %d stalled connections, bodyTimeout %s\n", clients, duration, hostile*100, stalled, bodyTimeout)
	fmt.Printf("requests: %d (%.0f/s); valid %d, hostile %d\n", st.n.Load(), float64(st.n.Load())/elapsed, st.nValid, st.nHostile)
	codes := slices.Sorted(func(yield func(string) bool) {
		for k := range st.codes {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range codes {
		fmt.Printf("  %-28s %d\n", k, st.codes[k])
	}
	p50, p99 := st.percentiles()
	fmt.Printf("valid latency: p50 %s, p99 %s\n", p50.Round(time.Microsecond), p99.Round(time.Microsecond))
	slices.Sort(closedIn)
	fmt.Printf("stalled connections closed by the server: %d of %d", len(closedIn), stalled)
	if len(closedIn) > 0 {
		fmt.Printf(" (after %s to %s)", closedIn[0].Round(time.Millisecond), closedIn[len(closedIn)-1].Round(time.Millisecond))
	}
	fmt.Println()
	fmt.Printf("server peak RSS: %.1f MiB (bound %d MiB)\n", float64(rss)/(1<<20), maxRSS>>20)

	var fails []string
	if st.n5xx > 0 {
		fails = append(fails, fmt.Sprintf("%d answers were 5xx", st.n5xx))
	}
	if st.dropped > 0 {
		fails = append(fails, fmt.Sprintf("%d valid requests did not get their 200", st.dropped))
	}
	if len(closedIn) < stalled {
		fails = append(fails, fmt.Sprintf("%d stalled connections were not closed by the server", stalled-len(closedIn)))
	}
	if rss > maxRSS {
		fails = append(fails, fmt.Sprintf("peak RSS %d MiB is over the bound of %d MiB", rss>>20, maxRSS>>20))
	}
	if len(fails) > 0 {
		printWarnings(serverLog.Name())
		return fmt.Errorf("FAIL: %s", strings.Join(fails, "; "))
	}
	fmt.Println("PASS")
	return nil
}

func waitHealthy(base string, within time.Duration) error {
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		resp, err := http.Get(base + "/signserver/healthcheck/signserverhealth")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the server at %s was not healthy within %s", base, within)
}

// watchRSS reports the process's peak resident set (VmHWM) at until.
func watchRSS(pid int, until time.Time) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			if v := hwm(pid); v > peak {
				peak = v
			}
			if time.Now().After(until) {
				out <- peak
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return out
}

func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stall opens a connection, sends the start of a request and stops. It
// returns how long the server took to close it, or 0 when it did not by end.
func stall(addr string, i int, end time.Time) time.Duration {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0
	}
	defer c.Close()
	start := time.Now()
	if i%4 != 0 { // headers, then a body that stops
		fmt.Fprintf(c, "POST /signserver/worker/CMSSigner HTTP/1.1\r\nHost: soak\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nthe start of a body")
	} else { // headers that stop
		fmt.Fprintf(c, "POST /signserver/worker/CMSSigner HTTP/1.1\r\nHost: soak\r\n")
	}
	c.SetReadDeadline(end)
	io.Copy(io.Discard, c)
	if time.Now().After(end) {
		return 0
	}
	return time.Since(start)
}

// stats counts the outcomes.
type stats struct {
	n                atomic.Int64
	mu               sync.Mutex
	codes            map[string]int
	nValid, nHostile int
	n5xx, dropped    int
	latencies        []time.Duration
}

type outcome struct {
	name string
	code int    // 0: a connection error
	body string // the start of an answer other than the one wanted
	err  error
	took time.Duration
	want int // the expected status of a valid request
}

func (s *stats) valid(o outcome) {
	s.n.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nValid++
	s.codes[fmt.Sprintf("valid %d", o.code)]++
	if o.code != o.want {
		s.dropped++
		if s.dropped <= 5 {
			fmt.Fprintf(os.Stderr, "valid %s: %d %v %s\n", o.name, o.code, o.err, o.body)
		}
	}
	if o.code >= 500 {
		s.n5xx++
	}
	s.latencies = append(s.latencies, o.took)
}

func (s *stats) hostile(o outcome) {
	s.n.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nHostile++
	k := "hostile " + strconv.Itoa(o.code)
	if o.code == 0 {
		k = "hostile conn closed"
	}
	s.codes[k]++
	if o.code >= 500 {
		s.n5xx++
		fmt.Fprintf(os.Stderr, "hostile %s: %d\n", o.name, o.code)
	}
}

func (s *stats) percentiles() (p50, p99 time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.latencies) == 0 {
		return 0, 0
	}
	l := slices.Clone(s.latencies)
	slices.Sort(l)
	at := func(q float64) time.Duration { return l[int(math.Ceil(q*float64(len(l))))-1] }
	return at(0.50), at(0.99)
}

// table holds the requests, built once.
type table struct {
	base    string
	batch   []byte // a valid 10-item client-side-hash batch
	million []byte // a 1,000,000-item batch, about 85 MB
}

func newTable(base string) *table {
	t := &table{base: base}
	var b bytes.Buffer
	b.WriteString(`{"signatureRequests":[`)
	for i := range 10 {
		sum := sha256.Sum256([]byte{byte(i)})
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"data":%q,"customIdentifier":"item-%d"}`, base64.StdEncoding.EncodeToString(sum[:]), i)
	}
	b.WriteString(`]}`)
	t.batch = b.Bytes()
	item := `{"data":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","customIdentifier":"x"}`
	m := make([]byte, 0, 22+1_000_000*(len(item)+1)+2)
	m = append(m, `{"signatureRequests":[`...)
	for i := range 1_000_000 {
		if i > 0 {
			m = append(m, ',')
		}
		m = append(m, item...)
	}
	t.million = append(m, "]}"...)
	return t
}

const batchQuery = "?REQUEST_METADATA.USING_BATCHSIGNING=true&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256"

func (t *table) do(client *http.Client, name, method, path, ctype string, body io.Reader, size int64, want int) outcome {
	req, err := http.NewRequest(method, t.base+path, body)
	if err != nil {
		return outcome{name: name, err: err, want: want}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{name: name, err: err, took: time.Since(start), want: want}
	}
	o := outcome{name: name, code: resp.StatusCode, want: want}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		o.body = strings.TrimSpace(string(b))
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.took = time.Since(start)
	return o
}

// printWarnings prints the server log's warnings, errors and request lines
// of a 5xx answer (at most 20), so that a failed soak says why the server
// answered as it did.
func printWarnings(file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, " status=5") {
			if n++; n > 20 {
				break
			}
			fmt.Fprint(os.Stderr, "server: ", line)
		}
	}
}

// validRequest sends one request of the valid mix, each endpoint family in
// turn.
func (t *table) validRequest(c *http.Client) outcome {
	doc := make([]byte, 1024)
	rand.Read(doc)
	sum := sha256.Sum256(doc)
	switch mrand.IntN(7) {
	case 0:
		return t.do(c, "worker servlet CMS", "POST", "/signserver/worker/CMSSigner", "application/octet-stream", bytes.NewReader(doc), int64(len(doc)), 200)
	case 1:
		body, _ := json.Marshal(map[string]any{"data": base64.StdEncoding.EncodeToString(doc), "encoding": "BASE64", "metaData": map[string]string{"USING_BATCHSIGNING": "false"}})
		return t.do(c, "REST CAdES", "POST", "/signserver/rest/v1/workers/CAdESSigner/process", "application/json", bytes.NewReader(body), int64(len(body)), 200)
	case 2:
		return t.do(c, "batch", "POST", "/signserver/worker/CAdESSigner"+batchQuery, "application/json", bytes.NewReader(t.batch), int64(len(t.batch)), 200)
	case 3:
		form := url.Values{"workerName": {"PlainSigner"}, "encoding": {"base64"}, "data": {base64.StdEncoding.EncodeToString(doc)}}.Encode()
		return t.do(c, "process servlet form", "POST", "/signserver/process", "application/x-www-form-urlencoded", strings.NewReader(form), int64(len(form)), 200)
	case 4:
		q := tsQuery(sum[:])
		return t.do(c, "TSA", "POST", "/signserver/worker/TimeStampSigner", "application/timestamp-query", bytes.NewReader(q), int64(len(q)), 200)
	case 5:
		return t.do(c, "health", "GET", "/signserver/healthcheck/signserverhealth", "", nil, -1, 200)
	default:
		return t.do(c, "PlainSigner digest", "POST", "/signserver/worker/PlainSigner?REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256", "application/octet-stream", bytes.NewReader(sum[:]), 32, 200)
	}
}

// tsQuery is a DER TimeStampReq for a SHA-256 digest, with certReq.
func tsQuery(digest []byte) []byte {
	imprint := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, digest...)
	body := append([]byte{0x02, 0x01, 0x01}, imprint...)
	body = append(body, 0x01, 0x01, 0xff)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// hostileRequest sends one request from the table of bad input.
func (t *table) hostileRequest(c *http.Client, addr string) outcome {
	switch mrand.IntN(9) {
	case 0:
		return t.do(c, "bad base64", "POST", "/signserver/process", "application/x-www-form-urlencoded", strings.NewReader("workerName=CMSSigner&encoding=base64&data=%40%40%40"), -1, 0)
	case 1:
		return t.do(c, "invalid JSON", "POST", "/signserver/rest/v1/workers/CMSSigner/process", "application/json", strings.NewReader(`{"data":`), -1, 0)
	case 2:
		return t.do(c, "invalid UTF-8", "POST", "/signserver/rest/v1/workers/CMSSigner/process", "application/json", strings.NewReader("{\"data\":\"a\xffb\"}"), -1, 0)
	case 3:
		return t.do(c, "wrong content type", "POST", "/signserver/rest/v1/workers/CMSSigner/process", "text/plain", strings.NewReader(`{"data":"x"}`), -1, 0)
	case 4:
		return rawHostile(addr, "huge header", "GET /signserver/healthcheck/signserverhealth HTTP/1.1\r\nHost: soak\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n")
	case 5:
		return rawHostile(addr, "negative Content-Length", "POST /signserver/worker/CMSSigner HTTP/1.1\r\nHost: soak\r\nContent-Length: -1\r\n\r\n")
	case 6:
		return t.do(c, "unknown worker", "POST", "/signserver/worker/Nope", "application/octet-stream", strings.NewReader("doc"), 3, 0)
	case 7:
		bad := bytes.Replace(t.batch, []byte(`"data":"`), []byte(`"data":"!!`), 1)
		return t.do(c, "bad batch item", "POST", "/signserver/worker/CAdESSigner"+batchQuery, "application/json", bytes.NewReader(bad), int64(len(bad)), 0)
	default:
		return t.do(c, "digest too long", "POST", "/signserver/worker/PlainSigner?REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256", "application/octet-stream", strings.NewReader(strings.Repeat("x", 100)), 100, 0)
	}
}

// rawHostile sends bytes net/http's client would refuse to send.
func rawHostile(addr, name, req string) outcome {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return outcome{name: name, err: err}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	go io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return outcome{name: name, err: err, took: time.Since(start)}
	}
	resp.Body.Close()
	return outcome{name: name, code: resp.StatusCode, took: time.Since(start)}
}

// millionBatch sends a batch of 1,000,000 items (about 85 MB).
func (t *table) millionBatch(c *http.Client) outcome {
	return t.do(c, "1,000,000-item batch", "POST", "/signserver/worker/CAdESSigner"+batchQuery, "application/json", bytes.NewReader(t.million), int64(len(t.million)), 0)
}

// hugeBody sends 200 MB: with and without Content-Length, to the REST API
// and to a worker that would embed the document.
func (t *table) hugeBody(c *http.Client, i int) outcome {
	const size = 200 << 20
	body := io.LimitReader(zeros{}, size)
	length := int64(size)
	if i%2 == 1 {
		length = -1 // chunked
	}
	if i < 2 {
		body = io.MultiReader(strings.NewReader(`{"data":"`), io.LimitReader(as{}, size), strings.NewReader(`"}`))
		if length > 0 {
			length = size + 11
		}
		return t.do(c, "200 MB REST body", "POST", "/signserver/rest/v1/workers/CMSSigner/process", "application/json", body, length, 0)
	}
	return t.do(c, "200 MB document", "POST", "/signserver/worker/CMSSigner", "application/octet-stream", body, length, 0)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type as struct{}

func (as) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

// withServer returns the configuration cfg with the soak's server section
// in place of its own. The demo's (its HTTPS certificate) gives way to
// plain HTTP on loopback, so that the stalled connections stall bodies and
// not TLS handshakes, with the timeouts under test. The other sections are
// kept as they are, as yaml.v3 read them.
func withServer(cfg []byte, bodyTimeout time.Duration) ([]byte, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	var server yaml.Node
	if err := server.Encode(map[string]string{"bodyTimeout": bodyTimeout.String(), "readHeaderTimeout": bodyTimeout.String()}); err != nil {
		return nil, err
	}
	doc["server"] = server
	return yaml.Marshal(doc)
}
