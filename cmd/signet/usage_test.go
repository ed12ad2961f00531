package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// writeUsageConfig makes a keystore with one P-256 key and a configuration
// with workers on it: Limited (KEYUSAGELIMIT limit), Shared (the same key,
// no limit, counted), Uncounted (DISABLEKEYUSAGECOUNTER=true).
func writeUsageConfig(t *testing.T, limit int) (cfgFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := demo.NewCA("Usage CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, demo.PEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	ks, err := soft.Create(soft.Options{Path: filepath.Join(dir, "ks"), Type: "PKCS12", Name: "u"}, "usage-pin")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ks.GenerateKey(context.Background(), "p256", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("usage signer", pub, demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.ImportChain(context.Background(), "p256", []*x509.Certificate{cert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	const props = "      ALLOW_BATCHSIGNING_OVERRIDE: true\n      ALLOW_CLIENTSIDEHASHING_OVERRIDE: true\n      DETACHEDSIGNATURE: true\n      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\n"
	y := fmt.Sprintf(`tokens:
  - name: u
    type: soft
    properties: {KEYSTOREPATH: ks, KEYSTORETYPE: PKCS12}
    pin: {file: pin}
workers:
  - {name: Limited, id: 1, kind: CAdESSigner, token: u, key: p256, properties: {AUTHTYPE: NOAUTH, KEYUSAGELIMIT: %d, ALLOW_BATCHSIGNING_OVERRIDE: true, ALLOW_CLIENTSIDEHASHING_OVERRIDE: true, DETACHEDSIGNATURE: true, ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256}}
  - name: Shared
    id: 2
    kind: CMSSigner
    token: u
    key: p256
    properties:
      AUTHTYPE: NOAUTH
%s  - name: Uncounted
    id: 3
    kind: CMSSigner
    token: u
    key: p256
    properties:
      AUTHTYPE: NOAUTH
      DISABLEKEYUSAGECOUNTER: true
%s`, limit, props, props)
	if err := os.WriteFile(filepath.Join(dir, "pin"), []byte("usage-pin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile = filepath.Join(dir, "usage.yaml")
	if err := os.WriteFile(cfgFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgFile, caFile
}

// usageMeta is the request metadata of a client-side-hashed request.
func usageMeta(batch bool) map[string]string {
	return map[string]string{"USING_BATCHSIGNING": fmt.Sprint(batch), "USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}
}

// signOne asks worker for one detached signature of doc (hashed here) and
// returns the status, the signature and the body of an error.
func usageSign(t *testing.T, s *server, worker string, doc []byte) (int, []byte) {
	t.Helper()
	d := sha256.Sum256(doc)
	return s.postRaw(t, worker, bytes.NewReader(d[:]), usageMeta(false))
}

// signBatch asks worker for one signature per doc in one batch request.
func usageBatch(t *testing.T, s *server, worker string, docs [][]byte) (int, []workers.BatchSignature, []byte) {
	t.Helper()
	code, body := s.postRaw(t, worker, bytes.NewReader(hashBatchBody(docs)), usageMeta(true))
	if code != http.StatusOK {
		return code, nil, body
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(body, &br); err != nil {
		t.Fatalf("batch answer: %v: %s", err, body)
	}
	return code, br.Signatures, body
}

// TestKeyUsageLimitConcurrent: 8 clients hammer a key with KEYUSAGELIMIT
// 500 with single and batch requests; exactly 500 signatures come out, every
// other request is a 503 saying the limit is exceeded, and after a restart
// the key stays at its limit. Every worker on the key shares its limit.
func TestKeyUsageLimitConcurrent(t *testing.T) {
	t.Parallel()
	const limit = 500
	cfgFile, caFile := writeUsageConfig(t, limit)
	data := t.TempDir()
	s := startServer(t, "--data", data, "--config", cfgFile)

	const want = limit
	var signed, refused atomic.Int64
	type signed1 struct{ doc, sig []byte }
	var sample atomic.Pointer[signed1]
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				doc := []byte(fmt.Sprintf("client %d document %d", c, i))
				if c%2 == 0 && i%3 != 2 {
					n := 1 + (c+i)%9
					docs := make([][]byte, n)
					for j := range docs {
						docs[j] = append(doc, byte(j))
					}
					code, sigs, body := usageBatch(t, s, "Limited", docs)
					switch code {
					case http.StatusOK:
						if len(sigs) != n {
							t.Errorf("%d signatures for a batch of %d", len(sigs), n)
							return
						}
						signed.Add(int64(n))
					case http.StatusServiceUnavailable:
						refused.Add(1)
						if !strings.Contains(string(body), "usage limit exceeded") {
							t.Errorf("503 without the reason: %s", body)
							return
						}
					default:
						t.Errorf("batch: %d %s", code, body)
						return
					}
					continue
				}
				code, body := usageSign(t, s, "Limited", doc)
				switch code {
				case http.StatusOK:
					signed.Add(1)
					if i%50 == 0 {
						sample.Store(&signed1{doc, body})
					}
				case http.StatusServiceUnavailable:
					refused.Add(1)
					if !strings.Contains(string(body), "usage limit exceeded") {
						t.Errorf("503 without the reason: %s", body)
					}
					return // a single signature refused: the key is at its limit
				default:
					t.Errorf("single: %d %s", code, body)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if signed.Load() != want {
		t.Fatalf("%d signatures came out, want exactly %d (KEYUSAGELIMIT %d)", signed.Load(), want, limit)
	}
	t.Logf("%d signatures, %d requests refused", signed.Load(), refused.Load())
	if p := sample.Load(); p != nil {
		if err := opensslVerify(t, p.sig, p.doc, caFile, true); err != nil {
			t.Fatalf("a signature of the rush: %v", err)
		}
	}
	// One key, one policy: Limited's limit is the key's, so Shared (no
	// limit of its own) and Uncounted (whose DISABLEKEYUSAGECOUNTER loses to
	// the limit) are refused too.
	for _, w := range []string{"Shared", "Uncounted"} {
		if code, body := usageSign(t, s, w, []byte("past the limit")); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "usage limit exceeded") {
			t.Fatalf("%s after the key's limit: %d %s, want 503 usage limit exceeded", w, code, body)
		}
	}
	checkHealthNames(t, s, "Limited", "usage limit exceeded")

	s.stop(t)
	s2 := startServer(t, "--data", data, "--config", cfgFile)
	code, body := usageSign(t, s2, "Limited", []byte("after restart"))
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "usage limit exceeded") {
		t.Fatalf("after a restart Limited answers %d %s, want 503 usage limit exceeded", code, body)
	}
	if code, _, body := usageBatch(t, s2, "Limited", [][]byte{[]byte("x")}); code != http.StatusServiceUnavailable {
		t.Fatalf("after a restart a batch answers %d %s, want 503", code, body)
	}
	s2.stop(t)
	if got := keyCount(t, data); got != limit {
		t.Fatalf("the key's count is %d, want %d", got, limit)
	}
}

// checkHealthNames checks that the health check reports worker offline
// with a reason containing want.
func checkHealthNames(t *testing.T, s *server, worker, want string) {
	t.Helper()
	body, code := healthCheck(t, s)
	if code == http.StatusOK || !strings.Contains(body, worker) || !strings.Contains(body, want) {
		t.Fatalf("health check: %d %s, want %s offline with %q", code, body, worker, want)
	}
}

// keyCount reads the only key's usage count from the state database.
func keyCount(t *testing.T, data string) int64 {
	t.Helper()
	db := openStateDB(t, data)
	var n int64
	if err := db.QueryRow("SELECT count FROM key_usage").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func openStateDB(t *testing.T, data string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestAuditVerify: the server writes start, reload and stop records;
// `signet admin audit verify` passes on the intact log and fails, naming
// the record, once a record is edited or deleted, the log wiped, or an
// older copy of the database put back.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	cfgFile, _ := writeUsageConfig(t, -1)
	data := t.TempDir()
	s := startServer(t, "--data", data, "--config", cfgFile)
	s.stop(t)
	// An older copy of the database, as a backup would hold it.
	older := filepath.Join(t.TempDir(), "older.db")
	copyFile(t, filepath.Join(data, stateFile), older)
	s = startServer(t, "--data", data, "--config", cfgFile)
	verify := func() (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), []string{"admin", "audit", "verify", "--data", data}, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// A reload is recorded (before it is logged).
	s.reloadConfig(t, "configuration reloaded")
	if !strings.Contains(auditActions(t, data), "config.reload ok") {
		t.Fatalf("no config.reload record after the reload: %s", auditActions(t, data))
	}
	// While the server runs, read-only.
	if out, errOut, err := verify(); err != nil || out != "audit log intact: 4 records\n" {
		t.Fatalf("verify beside a running server: %v, %q %q", err, out, errOut)
	}
	s.stop(t)
	if got, want := auditActions(t, data), "server.start ok,server.stop ok,server.start ok,config.reload ok,server.stop ok"; got != want {
		t.Fatalf("audit records %q, want %q", got, want)
	}

	out, errOut, err := verify()
	if err != nil || out != "audit log intact: 5 records\n" {
		t.Fatalf("verify of an intact log: %v, %q %q", err, out, errOut)
	}
	db := openStateDB(t, data)
	if _, err := db.Exec("UPDATE audit SET outcome = 'edited' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = verify()
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(errOut, "audit record 2") || !strings.Contains(errOut, "edited") {
		t.Fatalf("verify of an edited log: %v, %q %q; want exit 1 naming record 2", err, out, errOut)
	}
	if _, err := db.Exec("UPDATE audit SET outcome = 'ok' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM audit WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err = verify(); err == nil || !strings.Contains(errOut, "audit record 3") {
		t.Fatalf("verify of a log missing record 3: %v %q", err, errOut)
	}
	// Wiped: the chain alone would read as an empty, intact log.
	for _, q := range []string{"DELETE FROM audit", "DELETE FROM audit_head"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, err = verify(); err == nil || !strings.Contains(errOut, "audit record 5: is missing") {
		t.Fatalf("verify of a wiped log: %v %q", err, errOut)
	}
	db.Close()
	// The older copy put back: intact as a chain, but it ends before the
	// sealed head; the server refuses to start on it (its usage counters
	// would be rolled back too).
	for _, side := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(data, stateFile) + side)
	}
	copyFile(t, older, filepath.Join(data, stateFile))
	if _, errOut, err = verify(); err == nil || !strings.Contains(errOut, "audit record 5: is missing") || !strings.Contains(errOut, "older copy") {
		t.Fatalf("verify of an older copy: %v %q", err, errOut)
	}
	if _, _, err := run2(t, "serve", "--data", data, "--config", cfgFile, "--listen", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "older copy was put back") {
		t.Fatalf("serve on an older copy of the state: %v, want a refusal", err)
	}
	if _, errOut, err := run2(t, "admin", "audit", "verify", "--data", t.TempDir()); err == nil {
		t.Fatalf("verify without a database succeeded: %q", errOut)
	}
}

// TestDeletedDemoFolderNamesTheHead: a demo data folder deleted for a fresh
// start leaves the audit key and its sealed head beside it, so the next
// start is refused as a wiped log; the refusal names the head file to
// delete, and with it deleted (as make clean does) the demo starts afresh.
func TestDeletedDemoFolderNamesTheHead(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "signet-data")
	launch(t, data, "127.0.0.1:0").stop(t)
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	head := data + ".audit-key.head"
	_, _, err := run2(t, "serve", "--data", data, "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "delete "+head+" too") {
		t.Fatalf("serve on a deleted demo folder: %v; want a refusal naming %s", err, head)
	}
	if err := os.Remove(head); err != nil {
		t.Fatal(err)
	}
	launch(t, data, "127.0.0.1:0").stop(t)
}

// auditActions lists the audit records' actions and outcomes, read-only.
func auditActions(t *testing.T, data string) string {
	t.Helper()
	st, err := sqlite.OpenReadOnly(t.Context(), filepath.Join(data, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.Entries(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Actor != "system" {
			t.Errorf("record %d has actor %q", e.Seq, e.Actor)
		}
		out = append(out, e.Action+" "+e.Outcome)
	}
	return strings.Join(out, ",")
}

func run2(t *testing.T, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestKeyUsageAfterKill kills the server with SIGKILL after some signatures:
// restarted, the key makes at most its limit in all, and at least the limit
// less the lease the store held when it died.
func TestKeyUsageAfterKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the signet binary")
	}
	const limit = 300
	cfgFile, _ := writeUsageConfig(t, limit)
	data := t.TempDir()
	bin := filepath.Join(t.TempDir(), "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := func() (*server, *exec.Cmd) {
		cmd := exec.Command(bin, "serve", "--data", data, "--listen", "127.0.0.1:0", "--config", cfgFile)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "Signet listening on "); ok {
				go io.Copy(io.Discard, stdout)
				return &server{url: addr}, cmd
			}
		}
		t.Fatalf("the server did not start: %v", sc.Err())
		return nil, nil
	}
	signAll := func(s *server, max int) int {
		n := 0
		for n < max {
			code, body := usageSign(t, s, "Limited", []byte(fmt.Sprint("doc ", n)))
			if code == http.StatusServiceUnavailable {
				break
			}
			if code != http.StatusOK {
				t.Fatalf("sign: %d %s", code, body)
			}
			n++
		}
		return n
	}
	s, cmd := start()
	before := signAll(s, 20)
	if before != 20 {
		t.Fatalf("%d signatures before the kill, want 20", before)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	s, _ = start()
	after := signAll(s, limit)
	t.Logf("%d signatures before SIGKILL, %d after", before, after)
	// The lease of a limited key is a sixteenth of what the limit leaves.
	if lease := (limit - before) / 16; before+after > limit || before+after < limit-lease {
		t.Fatalf("%d+%d signatures in all with KEYUSAGELIMIT %d: want at most the limit and at least the limit less the lease (%d)", before, after, limit, lease)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
