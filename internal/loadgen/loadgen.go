// Package loadgen is the load generator behind `signet client bench`: it
// keeps a number of requests in flight against a worker (single documents,
// digests, batches, a file streamed from disk, or SignServer's REST API)
// for a time or a count, and reports throughput, latency percentiles and
// errors by status.
package loadgen

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/client"
	"github.com/signet-project/signet/internal/tlsclient"
	"github.com/signet-project/signet/workers"
)

// Options say what to send and for how long; Flags registers them.
type Options struct {
	url        string
	worker     string
	meta       client.MetaList
	batch      int
	size       int
	file       string
	clientSide bool
	digest     string
	conns      int
	duration   time.Duration
	count      int
	keepAlive  bool
	rest       bool
	jsonOut    bool
	progress   time.Duration
	tls        tlsclient.Flags

	api          string // a key-level API instead of a worker: dsm, nethsm, transit, floor
	key          string
	user         string
	passwordFile string
}

// Flags registers the options as flags of fs; defaultURL is the server
// asked when -url is not given.
func (f *Options) Flags(fs *flag.FlagSet, defaultURL string) {
	fs.StringVar(&f.url, "url", defaultURL, "Signet (or SignServer) base `URL`, $SIGNET when set")
	f.tls.Register(fs)
	fs.StringVar(&f.worker, "worker", "CAdESSigner", "worker `name` or id")
	fs.Var(&f.meta, "meta", "extra request metadata `KEY=VALUE` (repeatable)")
	fs.IntVar(&f.batch, "batch", 0, "items per batch request; 0 sends one document per request")
	fs.IntVar(&f.size, "size", 1024, "document size in `bytes`")
	fs.StringVar(&f.file, "file", "", "send this `file` as the document of every request, streamed from disk (single requests only)")
	fs.BoolVar(&f.clientSide, "clientside", false, "hash each document on the client and send only the digest (USING_CLIENTSUPPLIED_HASH)")
	fs.StringVar(&f.digest, "digest", "SHA-256", "digest `algorithm` for -clientside and batch items")
	fs.IntVar(&f.conns, "c", 8, "concurrent connections (requests in flight)")
	fs.DurationVar(&f.duration, "d", 10*time.Second, "how long to run, unless -n is given")
	fs.IntVar(&f.count, "n", 0, "number of requests to send (overrides -d)")
	fs.BoolVar(&f.keepAlive, "keepalive", true, "reuse connections between requests")
	fs.BoolVar(&f.rest, "rest", false, "send through SignServer's REST API (/signserver/rest/v1/workers/NAME/process, data in base64) instead of the worker servlet")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object instead of a table")
	fs.DurationVar(&f.progress, "progress", time.Second, "progress update `interval`; 0 disables it")
	fs.StringVar(&f.api, "api", "", "sign client-side digests through a key-level `API` instead of a worker: dsm (Fortanix DSM batch or single sign), nethsm (NetHSM sign), transit (OpenBao/Vault transit sign, token in $BAO_TOKEN), floor (make bench's minimal signer)")
	fs.StringVar(&f.key, "key", "signer-p256", "key `name` for -api (DSM name, NetHSM ID, transit key)")
	fs.StringVar(&f.user, "user", "", "user for -api dsm or nethsm (HTTP basic)")
	fs.StringVar(&f.passwordFile, "password-file", "", "`file` holding the -user's password (default: $"+PasswordEnv+")")
}

// BenchResult is what signet client bench measured; -json prints it.
type BenchResult struct {
	Worker      string  `json:"worker"`
	Batch       int     `json:"batch"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	Requests    int64   `json:"requests"`
	Items       int64   `json:"items"`
	Bytes       int64   `json:"bytes"`
	RequestsPS  float64 `json:"requestsPerSecond"`
	ItemsPS     float64 `json:"itemsPerSecond"`
	// Latencies of the successful requests, in milliseconds.
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
	// Errors counts failed requests by HTTP status ("transport" for
	// connection errors); Sample holds the first answer of each.
	Errors map[string]int64  `json:"errors"`
	Sample map[string]string `json:"errorSamples,omitempty"`
}

// failures is the shared tally of failed requests.
type failures struct {
	mu     sync.Mutex
	count  map[string]int64
	sample map[string]string
}

func (f *failures) add(key, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count[key]++
	if _, ok := f.sample[key]; !ok {
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		f.sample[key] = msg
	}
}

func (f *failures) total() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, c := range f.count {
		n += c
	}
	return n
}

// check reports the first flag combination that cannot run.
func (f *Options) check() error {
	switch {
	case f.conns < 1:
		return errors.New("-c must be at least 1")
	case f.batch < 0:
		return errors.New("-batch must be 0 (single requests) or more")
	case f.size < 0:
		return errors.New("-size must not be negative")
	case f.count < 0:
		return errors.New("-n must not be negative")
	case f.count == 0 && f.duration <= 0:
		return errors.New("give a positive -d duration or a -n count")
	case f.file != "" && f.batch > 0:
		return errors.New("-file sends one document per request: leave -batch out")
	case f.file != "" && f.clientSide:
		return errors.New("-file streams the document to the server: leave -clientside out")
	case f.file != "" && f.rest:
		return errors.New("-file streams the document to the worker servlet: leave -rest out")
	case f.progress < 0:
		return errors.New("-progress must not be negative")
	}
	return f.checkAPI()
}

// Check reports the first option that cannot run: a usage error.
func (f *Options) Check() error {
	if err := f.check(); err != nil {
		return err
	}
	if _, err := cms.ParseHash(f.digest); err != nil {
		return fmt.Errorf("-digest: %w", err)
	}
	if _, err := client.ParseMeta(f.meta); err != nil {
		return err
	}
	// The files the flags name are read before the first request: one
	// that is not there is a mistake in the command line, as a bad flag.
	if f.file != "" {
		if st, err := os.Stat(f.file); err != nil {
			return fmt.Errorf("-file %s cannot be read: %w", f.file, err)
		} else if !st.Mode().IsRegular() {
			return fmt.Errorf("-file %s is not a regular file: name the document to send", f.file)
		}
	}
	_, err := f.tls.Config()
	return err
}

// Run sends the load that f describes, prints the result on stdout (a
// table, or JSON) and progress on stdout or stderr, and returns the result.
// f must have passed Check.
func Run(ctx context.Context, f *Options, stdout, stderr io.Writer) (*BenchResult, error) {
	h, err := cms.ParseHash(f.digest)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{config.MetaUsingBatchSigning: strconv.FormatBool(f.batch > 0)}
	if f.clientSide {
		meta[config.MetaUsingClientSuppliedHash] = "true"
		meta[config.MetaClientSideHashAlgorithm] = cms.HashName(h)
	}
	extra, err := client.ParseMeta(f.meta)
	if err != nil {
		return nil, err
	}
	maps.Copy(meta, extra)
	res, err := runBench(ctx, f, h, meta, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if f.jsonOut {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return nil, err
		}
	} else {
		printBench(stdout, res)
	}
	return res, nil
}

// runBench drives f.conns workers until the duration or count is reached.
func runBench(ctx context.Context, f *Options, h crypto.Hash, meta map[string]string, stdout, stderr io.Writer) (*BenchResult, error) {
	tc, err := f.tls.Config()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: f.conns,
		MaxConnsPerHost:     f.conns,
		DisableKeepAlives:   !f.keepAlive,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	u, restMeta, err := endpoint(f, meta)
	if err != nil {
		return nil, err
	}
	runCtx := ctx
	if f.count == 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}

	headers, err := f.apiHeaders()
	if err != nil {
		return nil, err
	}
	t := &tally{f: f, hc: &http.Client{Transport: tr}, url: u, headers: headers,
		fails: &failures{count: map[string]int64{}, sample: map[string]string{}}}
	hists := make([]*hdrhistogram.Histogram, f.conns)
	var wg sync.WaitGroup
	start := time.Now()
	stopProgress := startProgress(f, stdout, stderr, start, &t.okReqs, &t.items, t.fails)
	for g := range f.conns {
		hists[g] = hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
		body, contentType, err := newBenchBody(f, h, g, restMeta)
		if err != nil {
			stopProgress()
			return nil, err
		}
		wg.Go(func() { t.drive(runCtx, body, contentType, hists[g]) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bench: interrupted; the figures are of the requests finished so far")
	}
	return t.result(elapsed, hists), nil
}

// endpoint returns the URL requests go to and, for the REST API, the
// request metadata as JSON.
func endpoint(f *Options, meta map[string]string) (string, []byte, error) {
	if f.api != "" {
		return f.apiEndpoint(), nil, nil
	}
	if !f.rest {
		return client.WorkerURL(f.url, f.worker, meta), nil, nil
	}
	restMeta, err := json.Marshal(meta)
	return strings.TrimRight(f.url, "/") + "/signserver/rest/v1/workers/" + url.PathEscape(f.worker) + "/process", restMeta, err
}

// tally is what the connections of one run share: where they send and
// what they counted.
type tally struct {
	f       *Options
	hc      *http.Client
	url     string
	headers map[string]string

	sent, items, okReqs, bytesIn atomic.Int64
	fails                        *failures
}

// drive sends requests on one connection until the count is reached or
// ctx ends, recording the latency of each success in hist.
func (t *tally) drive(ctx context.Context, body *benchBody, contentType string, hist *hdrhistogram.Histogram) {
	perItem := int64(max(t.f.batch, 1))
	for {
		if t.f.count > 0 && t.sent.Add(1) > int64(t.f.count) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		body.next()
		t0 := time.Now()
		status, n, msg, err := t.request(ctx, contentType, body)
		// An answer before the whole body was sent (an error) may leave the
		// transport still reading it; a 200 means the server read all of it.
		body.shared = err != nil || status != http.StatusOK
		if err != nil {
			if ctx.Err() != nil {
				return // the duration ended, or ^C, mid-request: not a failure
			}
			msg := err.Error()
			if h := tlsclient.Hint(err); h != "" {
				msg = h + ": " + msg // first: the sample is cut at 200 bytes
			}
			t.fails.add("transport", msg)
			continue
		}
		if status != http.StatusOK {
			t.fails.add(strconv.Itoa(status), msg)
			continue
		}
		_ = hist.RecordValue(max(time.Since(t0).Microseconds(), 1))
		t.okReqs.Add(1)
		t.items.Add(perItem)
		t.bytesIn.Add(n)
	}
}

// result sums up a run of elapsed time with the connections' histograms.
func (t *tally) result(elapsed time.Duration, hists []*hdrhistogram.Histogram) *BenchResult {
	all := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	for _, hh := range hists {
		all.Merge(hh)
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	secs := elapsed.Seconds()
	f := t.f
	worker := f.worker
	if f.api != "" {
		worker = f.api + " API, key " + f.key
	}
	res := &BenchResult{
		Worker: worker, Batch: f.batch, Connections: f.conns, Seconds: secs,
		Requests: t.okReqs.Load(), Items: t.items.Load(), Bytes: t.bytesIn.Load(),
		RequestsPS: float64(t.okReqs.Load()) / secs, ItemsPS: float64(t.items.Load()) / secs,
		Errors: t.fails.count, Sample: t.fails.sample,
	}
	if all.TotalCount() > 0 {
		res.P50, res.P90, res.P99, res.Max = ms(all.ValueAtQuantile(50)), ms(all.ValueAtQuantile(90)), ms(all.ValueAtQuantile(99)), ms(all.Max())
	}
	return res
}

// benchBody is the request body of one connection: a document (varied per
// request so that no two signatures are of the same content), a digest, a
// batch of digests or documents, or a file streamed from disk.
type benchBody struct {
	file    string
	doc     []byte // the document; its first 8 bytes count requests
	h       crypto.Hash
	digest  bool
	payload []byte       // the document, digest or batch
	rest    []byte       // the REST request's metaData, or nil for the worker servlet
	api     string       // -api, or "" for a worker
	key     string       // -key, for -api
	wire    []byte       // what is sent: payload, or a REST or API request holding it
	answer  bytes.Buffer // the last -api answer
	n       uint64
	// shared is set after a failed request: the transport may still be
	// reading the buffers, so the next request must not write into them.
	shared bool
}

func newBenchBody(f *Options, h crypto.Hash, conn int, restMeta []byte) (*benchBody, string, error) {
	if f.file != "" {
		return &benchBody{file: f.file}, "application/octet-stream", nil
	}
	doc := make([]byte, max(f.size, 8))[:f.size]
	if _, err := rand.Read(doc); err != nil {
		return nil, "", err
	}
	b := &benchBody{doc: doc, h: h, digest: f.clientSide, n: uint64(conn) << 40, rest: restMeta, api: f.api, key: f.key}
	ct := "application/octet-stream"
	if f.rest || f.api != "" && f.api != apiFloor {
		ct = "application/json"
	}
	if f.api != "" && f.api != apiFloor {
		b.digest = true // the key-level APIs sign digests
	}
	if f.batch == 0 {
		return b, ct, nil
	}
	if f.api != "" {
		// A batch of digests, built once, as the API spells it.
		items := make([][]byte, f.batch)
		for i := range items {
			b.next()
			items[i] = bytes.Clone(b.payload)
		}
		b.wire = apiWire(nil, f.api, f.key, h, items, true)
		b.doc = nil
		return b, ct, nil
	}
	// A batch body is built once: every request signs the same items.
	req := workers.BatchRequest{SignatureRequests: make([]workers.BatchItem, f.batch)}
	for i := range req.SignatureRequests {
		b.next()
		req.SignatureRequests[i] = workers.BatchItem{
			Data:             base64.StdEncoding.EncodeToString(b.payload),
			HashingAlgorithm: cms.HashName(h),
			CustomIdentifier: "doc-" + strconv.Itoa(i),
		}
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return nil, "", err
	}
	b.payload, b.doc = payload, nil
	b.wrap()
	return b, "application/json", nil
}

// wrap sets what is sent from the payload.
func (b *benchBody) wrap() {
	if b.api != "" {
		b.wire = apiWire(b.wire, b.api, b.key, b.h, [][]byte{b.payload}, false)
		return
	}
	if b.rest == nil {
		b.wire = b.payload
		return
	}
	w := append(b.wire[:0], `{"encoding":"BASE64","metaData":`...)
	w = append(w, b.rest...)
	w = append(w, `,"data":"`...)
	w = base64.StdEncoding.AppendEncode(w, b.payload)
	b.wire = append(w, `"}`...)
}

// next prepares the payload of the next request.
func (b *benchBody) next() {
	if b.doc == nil {
		return // a batch or a file: the same each time
	}
	if b.shared {
		b.doc, b.payload, b.wire, b.shared = bytes.Clone(b.doc), nil, nil, false
	}
	b.n++
	if len(b.doc) >= 8 {
		binary.BigEndian.PutUint64(b.doc, b.n)
	}
	if !b.digest {
		b.payload = b.doc
	} else {
		hh := b.h.New()
		hh.Write(b.doc)
		b.payload = hh.Sum(b.payload[:0])
	}
	b.wrap()
}

func (b *benchBody) reader() (io.Reader, int64, func(), error) {
	if b.file == "" {
		return bytes.NewReader(b.wire), int64(len(b.wire)), func() {}, nil
	}
	fl, err := os.Open(b.file)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := fl.Stat()
	if err != nil {
		fl.Close()
		return nil, 0, nil, err
	}
	return fl, st.Size(), func() { fl.Close() }, nil
}

// request sends one request and drains the answer; it returns the
// status, the bytes received and, for a failure, the server's sentence. An
// -api answer is read whole and must hold a signature for every item.
func (t *tally) request(ctx context.Context, contentType string, b *benchBody) (int, int64, string, error) {
	body, size, done, err := b.reader()
	if err != nil {
		return 0, 0, "", err
	}
	defer done()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, body)
	if err != nil {
		return 0, 0, "", err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, 0, strings.TrimSpace(string(msg)), nil
	}
	if t.f.api != "" {
		b.answer.Reset()
		n, err := b.answer.ReadFrom(resp.Body)
		if err != nil {
			return 0, n, "", err
		}
		want := max(t.f.batch, 1)
		if got := apiSignatures(t.f.api, b.answer.Bytes()); got >= 0 && got != want || n == 0 {
			return resp.StatusCode, 0, fmt.Sprintf("%d signatures for %d items: %.200s", got, want, b.answer.Bytes()), nil
		}
		return resp.StatusCode, n, "", nil
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, n, "", err
	}
	if n == 0 {
		return resp.StatusCode, 0, "empty answer", nil
	}
	return resp.StatusCode, n, "", nil
}

// startProgress shows progress until the returned function is called: a
// progress bar when stdout is a terminal, otherwise a line on stderr at
// every interval.
func startProgress(f *Options, stdout, stderr io.Writer, start time.Time, reqs, items *atomic.Int64, fails *failures) func() {
	if f.progress == 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	var bar *progressbar.ProgressBar
	if isTerminal(stdout) && !f.jsonOut {
		total := int64(f.count)
		if total == 0 {
			total = int64(f.duration / time.Millisecond)
		}
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(stdout),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	line := func() string {
		el := time.Since(start).Seconds()
		return fmt.Sprintf("%5.1fs  %d requests  %d items  %.0f items/s  %d errors", el, reqs.Load(), items.Load(), float64(items.Load())/el, fails.total())
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(f.progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-t.C:
				if bar == nil {
					fmt.Fprintln(stderr, "bench:", line())
					continue
				}
				if f.count > 0 {
					_ = bar.Set64(reqs.Load() + fails.total())
				} else {
					_ = bar.Set64(min(time.Since(start).Milliseconds(), int64(f.duration/time.Millisecond)))
				}
				bar.Describe(line())
			}
		}
	}()
	return sync.OnceFunc(func() { close(done); <-finished })
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	fl, ok := w.(*os.File)
	return ok && term.IsTerminal(int(fl.Fd()))
}

// printBench writes the result as a small table.
func printBench(w io.Writer, r *BenchResult) {
	mode := "single documents"
	if r.Batch > 0 {
		mode = fmt.Sprintf("batches of %d", r.Batch)
	}
	fmt.Fprintf(w, "worker %s, %s, %d connections, %.1fs\n", r.Worker, mode, r.Connections, r.Seconds)
	fmt.Fprintf(w, "requests  %d  (%.1f/s)\n", r.Requests, r.RequestsPS)
	fmt.Fprintf(w, "items     %d  (%.1f/s)\n", r.Items, r.ItemsPS)
	fmt.Fprintf(w, "latency   p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", r.P50, r.P90, r.P99, r.Max)
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors    none")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "errors    %s: %d  (first: %s)\n", k, r.Errors[k], r.Sample[k])
	}
}
