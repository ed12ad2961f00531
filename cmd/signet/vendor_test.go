package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/config/demo"
	"github.com/signet-project/signet/workers"
)

// vendorPassword is Signet A's demo password in the vendor tests.
const vendorPassword = "vendor-test-secret"

// signet is a Signet run in process on a data folder and address the test
// chooses, so that it can be stopped and started again on the same port.
type signet struct {
	*server
	stopOnce sync.Once
}

// runSignet runs signet serve --data data --listen listen args… and waits
// until it listens. It stops when the test ends, or earlier by stop.
func runSignet(t *testing.T, data, listen string, args ...string) *signet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &signet{server: &server{data: data, cancel: cancel, done: make(chan error, 1), logs: &bytes.Buffer{}}}
	all := append([]string{"serve", "--data", data, "--listen", listen}, args...)
	go func() {
		err := run(ctx, all, pw, &lockedWriter{w: s.logs})
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
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop stops the server and waits for it.
func (s *signet) stop(t *testing.T) {
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

// metric reads one counter from the server's /metrics.
func (s *signet) metric(t *testing.T, name string) int64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// remoteConfig is Signet B's configuration: a dsm and a nethsm token on
// Signet A's demo key signer-p256, and a CAdES worker on each.
const remoteConfig = `tokens:
  - name: viadsm
    type: dsm
    properties:
      URL: %[1]s
      USER: demo
      MAXBATCHSIZE: %[2]d
      CHAINDIR: chains
      TIMEOUT: 10s
    pin: {file: secret}
  - name: vianethsm
    type: nethsm
    properties:
      URL: %[1]s
      USER: operator
      TIMEOUT: 10s
    pin: {file: secret}
workers:
  - name: DSMCAdES
    id: 1
    kind: CAdESSigner
    token: viadsm
    key: signer-p256
    properties: &props
      DETACHEDSIGNATURE: true
      CLIENTSIDEHASHING: true
      BATCHSIGNING: true
      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256
  - name: NetHSMCAdES
    id: 2
    kind: CAdESSigner
    token: vianethsm
    key: signer-p256
    properties: *props
`

// vendorPair starts Signet A (demo configuration, serving the DSM and
// NetHSM APIs) and Signet B whose workers sign through A.
func vendorPair(t *testing.T, maxBatch int) (a, b *signet) {
	t.Helper()
	t.Setenv(demo.PasswordEnv, vendorPassword)
	a = runSignet(t, t.TempDir(), "127.0.0.1:0")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "chains"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The DSM API holds no certificates: B reads the chain from a file,
	// here A's certificate of the key as the NetHSM API serves it.
	req, _ := http.NewRequest(http.MethodGet, a.url+"/api/v1/keys/signer-p256/cert", nil)
	req.SetBasicAuth("operator", vendorPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET cert: %d %s", resp.StatusCode, chain)
	}
	files := map[string]string{
		"chains/signer-p256.pem": string(chain),
		"secret":                 vendorPassword + "\n",
		"signet.yaml":            fmt.Sprintf(remoteConfig, a.url, maxBatch),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b = runSignet(t, filepath.Join(dir, "data"), "127.0.0.1:0", "--config", filepath.Join(dir, "signet.yaml"))
	return a, b
}

// vendorDocs returns n distinct documents.
func vendorDocs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "document %d of the remote batch\n", i)
	}
	return out
}

// postBatch sends docs' SHA-256 digests as one SignServer batch to worker.
func postBatch(t *testing.T, s *signet, worker string, docs [][]byte) (int, []byte) {
	t.Helper()
	var items []workers.BatchItem
	for i, d := range docs {
		sum := sha256.Sum256(d)
		items = append(items, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(sum[:]), HashingAlgorithm: "SHA-256", CustomIdentifier: strconv.Itoa(i)})
	}
	body, _ := json.Marshal(workers.BatchRequest{SignatureRequests: items})
	resp, err := http.Post(s.url+"/signserver/worker/"+url.PathEscape(worker), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// remoteBatch sends docs' SHA-256 digests as one SignServer batch to worker
// and returns the signatures in order.
func remoteBatch(t *testing.T, s *signet, worker string, docs [][]byte) [][]byte {
	t.Helper()
	code, raw := postBatch(t, s, worker, docs)
	if code != http.StatusOK {
		t.Fatalf("batch to %s: %d %s", worker, code, raw)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(raw, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.Signatures) != len(docs) {
		t.Fatalf("%d signatures for %d documents", len(br.Signatures), len(docs))
	}
	sigs := make([][]byte, len(docs))
	for i, sg := range br.Signatures {
		if sg.CustomIdentifier != strconv.Itoa(i) {
			t.Fatalf("signature %d is for item %q", i, sg.CustomIdentifier)
		}
		sigs[i] = sg.Signature
	}
	return sigs
}

// opensslVerifyAll checks every detached CAdES signature with openssl cms
// -verify -cades, in two shell loops (one openssl process per signature).
func opensslVerifyAll(t *testing.T, sigs, docs [][]byte, caFile string) {
	t.Helper()
	dir := t.TempDir()
	for i := range sigs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i, ".p7s")), sigs[i], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i, ".doc")), docs[i], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const script = `for i in $(seq $1 2 $2); do
  openssl cms -verify -cades -binary -inform DER -in $i.p7s -content $i.doc -CAfile "$3" -purpose any -out /dev/null 2>/dev/null || echo "$i"
done`
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for k := range 2 {
		wg.Go(func() {
			cmd := exec.Command("sh", "-c", script, "sh", strconv.Itoa(k), strconv.Itoa(len(sigs)-1), caFile)
			cmd.Dir = dir
			outs[k], errs[k] = cmd.Output()
		})
	}
	wg.Wait()
	for k := range 2 {
		if errs[k] != nil {
			t.Fatalf("openssl loop: %v", errs[k])
		}
		if failed := strings.Fields(string(outs[k])); len(failed) > 0 {
			t.Fatalf("openssl cms -verify -cades rejects %d signatures, such as item %s", len(failed), failed[0])
		}
	}
	// The check can fail: a signature over another document is refused.
	if err := opensslVerify(t, sigs[0], docs[1], caFile, true); err == nil {
		t.Fatal("openssl accepts signature 0 over document 1")
	}
}

// TestRemoteTokensBatch signs a 1000-item CAdES batch on Signet B through
// a dsm and a nethsm token pointing at Signet A, verifies every signature
// with openssl, and checks A's call counters: ceil(1000/max batch size)
// DSM batch calls, 1000 NetHSM sign calls.
func TestRemoteTokensBatch(t *testing.T) {
	const n, maxBatch = 1000, 128
	a, b := vendorPair(t, maxBatch)
	ds := vendorDocs(n)
	ca := filepath.Join(a.data, "demo-ca.pem")

	before := a.metric(t, "signet_dsm_batch_calls_total")
	start := time.Now()
	sigs := remoteBatch(t, b, "DSMCAdES", ds)
	t.Logf("dsm: %d items in %v", n, time.Since(start))
	if got, want := a.metric(t, "signet_dsm_batch_calls_total")-before, int64((n+maxBatch-1)/maxBatch); got != want {
		t.Errorf("A served %d DSM batch calls for %d items, want %d", got, n, want)
	}
	opensslVerifyAll(t, sigs, ds, ca)

	before = a.metric(t, "signet_nethsm_sign_calls_total")
	start = time.Now()
	sigs = remoteBatch(t, b, "NetHSMCAdES", ds)
	t.Logf("nethsm: %d items in %v", n, time.Since(start))
	if got := a.metric(t, "signet_nethsm_sign_calls_total") - before; got != n {
		t.Errorf("A served %d NetHSM sign calls for %d items, want %d", got, n, n)
	}
	opensslVerifyAll(t, sigs, ds, ca)
}

// TestRemoteTokensRecover stops Signet A: B's remote workers answer 503
// and are OFFLINE in B's health check; A starts again on the same port and
// B's workers come back on their own.
func TestRemoteTokensRecover(t *testing.T) {
	a, b := vendorPair(t, 100)
	ds := vendorDocs(3)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		remoteBatch(t, b, w, ds)
	}
	addr := strings.TrimPrefix(a.url, "http://")
	a.stop(t)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		code, body := postBatch(t, b, w, ds)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("%s with A stopped: %d %s, want 503", w, code, body)
		}
	}
	resp, err := http.Get(b.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	health, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(health), "offline") {
		t.Fatalf("B's health with A stopped: %d %s", resp.StatusCode, health)
	}
	t.Logf("B's health with A stopped: %d %s", resp.StatusCode, health)

	runSignet(t, a.data, addr)
	deadline := time.Now().Add(30 * time.Second)
	for _, w := range []string{"DSMCAdES", "NetHSMCAdES"} {
		for {
			code, body := postBatch(t, b, w, ds)
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not recover within 30 s after A restarted: %d %s", w, code, body)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	resp, err = http.Get(b.url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	health, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("B's health after A restarted: %d %s", resp.StatusCode, health)
	}
}
