package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/loadgen"
	"github.com/signet-project/signet/workers"
)

// The make bench suite's in-process cases (see scripts/benchsuite): each
// BenchmarkSuite_<case> has a BenchmarkSuite_<case>_baseline measured in
// the same run, and both report items/s.

// suiteBatchSize is the number of client-side digests per batch request.
const suiteBatchSize = 1000

// benchKeys is the demo data folder the suite's benchmarks share:
// generating the RSA-3072 demo key takes seconds, and go test calls each
// benchmark function several times. It lives in a fixed temporary folder
// that later runs reuse (demo.Bootstrap keeps what exists).
var benchKeys = sync.OnceValues(func() (demo.Files, error) {
	dir := filepath.Join(os.TempDir(), "signet-bench-keys")
	if os.Getenv(demo.PasswordEnv) == "" {
		os.Setenv(demo.PasswordEnv, "bench-password")
	}
	f, _, err := demo.Bootstrap(context.Background(), dir)
	return f, err
})

// benchSet builds the workers of testdata/bench/bench.yaml over the demo
// keys of benchKeys.
func benchSet(b *testing.B) *workers.Set {
	b.Helper()
	ctx := context.Background()
	files, err := benchKeys()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(writeBenchConfig(b, files.Dir))
	if err != nil {
		b.Fatal(err)
	}
	return workers.Build(ctx, cfg, workers.BuildOptions{Open: tokenOpener(nil)})
}

// batchDigests returns n distinct SHA-256 digests.
func batchDigests(n int) [][]byte {
	ds := make([][]byte, n)
	for i := range ds {
		d := sha256.Sum256([]byte("document " + strconv.Itoa(i)))
		ds[i] = d[:]
	}
	return ds
}

// benchPipelineBatch sends batches of client-side SHA-256 digests through
// worker.Process (JSON in, CAdES-B signatures in JSON out), no HTTP.
func benchPipelineBatch(b *testing.B, worker string) {
	set := benchSet(b)
	w, err := set.Lookup(worker)
	if err != nil {
		b.Fatal(err)
	}
	req := workers.BatchRequest{}
	for i, d := range batchDigests(suiteBatchSize) {
		req.SignatureRequests = append(req.SignatureRequests, workers.BatchItem{
			Data: base64.StdEncoding.EncodeToString(d), HashingAlgorithm: "SHA-256", CustomIdentifier: "doc-" + strconv.Itoa(i)})
	}
	body, _ := json.Marshal(req)
	meta := map[string]string{
		config.MetaUsingBatchSigning:       "true",
		config.MetaUsingClientSuppliedHash: "true",
		config.MetaClientSideHashAlgorithm: "SHA-256",
	}
	ctx := context.Background()
	// One request first, so that the signer cache is warm.
	if _, err := w.Process(ctx, &workers.Request{Data: bytes.NewReader(body), Size: int64(len(body)), Metadata: meta}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		resp, err := w.Process(ctx, &workers.Request{Data: bytes.NewReader(body), Size: int64(len(body)), Metadata: meta})
		if err != nil {
			b.Fatal(err)
		}
		if resp.Items != suiteBatchSize {
			b.Fatalf("%d items signed, want %d", resp.Items, suiteBatchSize)
		}
	}
	reportItems(b, suiteBatchSize, cpu0)
}

// reportItems reports items/s, and the CPU time of the process per item,
// which unlike items/s hardly depends on what else the machine runs.
func reportItems(b *testing.B, perOp int, cpu0 time.Duration) {
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N*perOp)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*perOp), "cpu-µs/item")
}

// benchRawBatch signs the same number of digests with the worker's key
// read from its PKCS#12 file: ecdsa or rsa Sign on GOMAXPROCS goroutines: what tokens.SignAll
// uses for a soft token, without CMS, JSON or the worker.
func benchRawBatch(b *testing.B, alias string) {
	files, err := benchKeys()
	if err != nil {
		b.Fatal(err)
	}
	p12, err := os.ReadFile(filepath.Join(files.Keystore, alias+".p12"))
	if err != nil {
		b.Fatal(err)
	}
	pin, err := os.ReadFile(files.PIN)
	if err != nil {
		b.Fatal(err)
	}
	priv, _, _, err := pkcs12.DecodeChain(p12, strings.TrimSpace(string(pin)))
	if err != nil {
		b.Fatal(err)
	}
	key := priv.(crypto.Signer) // *ecdsa.PrivateKey or *rsa.PrivateKey
	digests := batchDigests(suiteBatchSize)
	p := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range p {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(digests); i = int(next.Add(1) - 1) {
					if _, err := key.Sign(rand.Reader, digests[i], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	reportItems(b, suiteBatchSize, cpu0)
}

// BenchmarkSuite_pipelineBatchP256 is pipeline-batch-p256: a CAdES-B batch
// of 1000 client-side digests through the worker, soft ECDSA P-256.
func BenchmarkSuite_pipelineBatchP256(b *testing.B) { benchPipelineBatch(b, "CAdESSigner") }

// BenchmarkSuite_pipelineBatchP256_baseline is raw ecdsa.Sign with the same
// key and goroutines.
func BenchmarkSuite_pipelineBatchP256_baseline(b *testing.B) { benchRawBatch(b, "signer-p256") }

// BenchmarkSuite_pipelineBatchRSA3072 is pipeline-batch-rsa3072: the same
// with RSA-3072 PKCS#1 v1.5.
func BenchmarkSuite_pipelineBatchRSA3072(b *testing.B) { benchPipelineBatch(b, "CAdESSignerRSA") }

// BenchmarkSuite_pipelineBatchRSA3072_baseline is raw rsa.SignPKCS1v15 with
// the same key and goroutines.
func BenchmarkSuite_pipelineBatchRSA3072_baseline(b *testing.B) {
	benchRawBatch(b, "signer-rsa3072")
}

// BenchmarkHTTPSingle runs signet serve and signet client bench in this
// process (32 connections, 1 KiB documents, detached CAdES-B P-256), so
// that -cpuprofile shows where an HTTP request spends its time, server and
// client together. It reports requests/s and the CPU time of the process
// per request, which unlike requests/s does not depend on what else the
// machine runs.
func BenchmarkHTTPSingle(b *testing.B) {
	benchHTTP(b, 1, "-c", "32", "-size", "1024")
}

// BenchmarkHTTPBatchREST is the same with batches of 1000 client-side
// digests through the REST API (4 in flight); an op is one batch.
func BenchmarkHTTPBatchREST(b *testing.B) {
	benchHTTP(b, 1000, "-c", "4", "-rest", "-batch", "1000", "-clientside")
}

// BenchmarkHTTPBatchDSM is the same through the Fortanix DSM batch API
// (raw signatures, HTTP basic credentials on every request), as make
// bench's http-dsm-batch-p256; an op is one batch.
func BenchmarkHTTPBatchDSM(b *testing.B) {
	if _, err := benchKeys(); err != nil { // sets the demo password it uses
		b.Fatal(err)
	}
	if os.Getenv(loadgen.PasswordEnv) == "" {
		b.Setenv(loadgen.PasswordEnv, os.Getenv(demo.PasswordEnv))
	}
	benchHTTP(b, 1000, "-c", "4", "-api", "dsm", "-user", "bench", "-key", "signer-p256", "-batch", "1000", "-clientside")
}

// BenchmarkHTTPSingleDSM is one digest per request through the Fortanix
// DSM sign API (32 clients), as make bench's http-dsm-single-p256: where
// a raw signature's request spends what a CAdES request does not.
func BenchmarkHTTPSingleDSM(b *testing.B) {
	if _, err := benchKeys(); err != nil { // sets the demo password it uses
		b.Fatal(err)
	}
	if os.Getenv(loadgen.PasswordEnv) == "" {
		b.Setenv(loadgen.PasswordEnv, os.Getenv(demo.PasswordEnv))
	}
	benchHTTP(b, 1, "-c", "32", "-api", "dsm", "-user", "bench", "-key", "signer-p256")
}

// benchHTTP serves the demo configuration in process and runs signet client
// bench -n b.N with args against it.
func benchHTTP(b *testing.B, perRequest int, args ...string) {
	files, err := benchKeys()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.CopyFS(dir, os.DirFS(files.Dir)); err != nil {
		b.Fatal(err)
	}
	// make bench's configuration (plain HTTP, as its HTTP cases): the demo
	// configuration of the data folder serves HTTPS.
	srv := launch(b, dir, "127.0.0.1:0", "--config", writeBenchConfig(b, dir))
	var out bytes.Buffer
	cpu0 := cpuTime()
	b.ResetTimer()
	all := append([]string{"client", "bench", "-url", srv.url, "-n", strconv.Itoa(b.N), "-json", "-progress", "0"}, args...)
	err = run(b.Context(), all, &out, io.Discard)
	b.StopTimer()
	if err != nil {
		b.Fatalf("%v: %s", err, out.String())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*perRequest), "cpu-µs/item")
}

// writeBenchConfig writes make bench's configuration,
// testdata/bench/bench.yaml, into the demo data folder dir and returns its
// path.
func writeBenchConfig(b *testing.B, dir string) string {
	b.Helper()
	yaml, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bench", "bench.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, yaml, 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
