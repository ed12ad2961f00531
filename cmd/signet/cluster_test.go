package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state/postgres/pgtest"
)

// execEnv makes the test binary run main: the cluster tests start Signet
// nodes as processes (to kill -9 one) without building the binary.
const execEnv = "SIGNET_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

// runTests runs the tests with this binary's SoftHSM2 folder (testHSM).
func runTests(m *testing.M) int {
	cleanup, err := setupSoftHSM()
	if err != nil {
		fmt.Fprintln(os.Stderr, "SoftHSM2 folder for the tests:", err)
		return 1
	}
	defer cleanup()
	return m.Run()
}

// signetCmd returns the command running signet with args in this test
// binary, with env added.
func signetCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), execEnv+"=1"), env...)
	return cmd
}

// node is a Signet process of the test cluster.
type node struct {
	name      string
	dir, addr string
	env       []string
	cmd       *exec.Cmd
	done      chan struct{}

	mu      sync.Mutex
	stderr  bytes.Buffer  // the process's log, for a failure to show
	applied int64         // the newest configuration version the process logged in force
	wake    chan struct{} // closed, and made anew, when applied changes
}

func (n *node) url() string { return "http://" + n.addr }

// start starts the node and waits until it listens. Its log (JSON, on
// stderr) is read for the configuration versions it puts in force.
func (n *node) start(t *testing.T) {
	t.Helper()
	n.cmd = signetCmd(context.Background(), n.env, "serve", "--config", filepath.Join(n.dir, "node.yaml"), "--data", filepath.Join(n.dir, "data"), "--listen", n.addr, "--log-format", "json")
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.stderr.Reset()
	n.applied, n.wake = 0, make(chan struct{})
	n.mu.Unlock()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	listening := make(chan struct{})
	go func() {
		var readers sync.WaitGroup
		readers.Go(func() {
			sc := bufio.NewScanner(out)
			once := sync.Once{}
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "Signet listening on") {
					once.Do(func() { close(listening) })
				}
			}
		})
		readers.Go(func() { n.readLog(errOut) })
		readers.Wait() // Wait closes the pipes: read them to the end first
		n.cmd.Wait()
		close(n.done)
	}()
	select {
	case <-listening:
	case <-n.done:
		t.Fatalf("node %s ended: %s", n.name, n.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s does not listen: %s", n.name, n.log())
	}
}

// readLog keeps the node's log and notes each configuration version the
// node logs in force (at start, and when its watch of the cluster applies
// a pushed or edited version).
func (n *node) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			Version int64  `json:"version"`
		}
		_ = json.Unmarshal(sc.Bytes(), &line)
		n.mu.Lock()
		n.stderr.Write(sc.Bytes())
		n.stderr.WriteByte('\n')
		if line.Msg == "cluster configuration in force" && line.Version > n.applied {
			n.applied = line.Version
			close(n.wake)
			n.wake = make(chan struct{})
		}
		n.mu.Unlock()
	}
}

// log returns what the node logged so far.
func (n *node) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stderr.String()
}

// waitApplied waits until the node logs configuration version v (or a
// newer one) in force, which it does once the version's workers serve.
func (n *node) waitApplied(t *testing.T, v int64, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		n.mu.Lock()
		applied, wake := n.applied, n.wake
		n.mu.Unlock()
		if applied >= v {
			return
		}
		select {
		case <-wake:
		case <-timeout:
			t.Fatalf("%s does not put configuration version %d in force within %v (last: %d); its log:\n%s", n.name, v, within, applied, n.log())
		}
	}
}

// kill ends the node with SIGKILL: no lease given back, nothing flushed.
func (n *node) kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.kill()
	}
}

// sign posts data to worker and returns the status code (0 when the node
// does not answer).
func (n *node) sign(worker string) int {
	code, _ := n.signBody(worker)
	return code
}

// signBody is sign that also returns the answer's body.
func (n *node) signBody(worker string) (int, string) {
	resp, err := http.Post(n.url()+"/signserver/worker/"+worker, "application/octet-stream", strings.NewReader("cluster test document"))
	if err != nil {
		return 0, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// health returns the health check's status, body and configuration version.
func (n *node) health() (int, string, string) {
	resp, err := http.Get(n.url() + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		return 0, err.Error(), ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), resp.Header.Get("X-Signet-Config-Version")
}

// admin calls the admin API as the cluster's admin.
func (n *node) admin(method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, n.url()+"/admin/api"+path, strings.NewReader(body))
	req.SetBasicAuth("admin", "cluster-admin-pw")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// signetCLI runs a signet command line and returns its output and exit code.
func signetCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	out, err := signetCmd(context.Background(), env, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// waitUntil polls cond (a status read over HTTP) until it holds. The
// nodes are processes of their own, which a test can only ask: polling
// them, bounded by within, is the one way to see their state change.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func loopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sharedConfig is the configuration pushed to the cluster: a soft token
// whose keystore is in the database, and workers on its keys.
func sharedConfig(hash string, workers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `tokens:
  - name: db
    type: soft
    properties:
      KEYSTORETYPE: DATABASE
    pin: {env: SIGNET_TEST_PIN}
users:
  - name: admin
    roles: [admin]
    passwordHash: %q
workers:
`, hash)
	for i, w := range workers {
		f := append(strings.SplitN(w, ":", 3), "")
		name, key, limit := f[0], f[1], f[2]
		fmt.Fprintf(&b, "  - name: %s\n    id: %d\n    kind: PlainSigner\n    token: db\n    key: %s\n    properties:\n      AUTHTYPE: NOAUTH\n      SIGNATUREALGORITHM: SHA256withECDSA\n", name, i+1, key)
		if limit != "" {
			fmt.Fprintf(&b, "      KEYUSAGELIMIT: %s\n", limit)
		}
	}
	return b.String()
}

// TestCluster runs three Signet nodes on one PostgreSQL: exact key usage
// limits across the nodes (also when one is killed), one audit chain, a
// key generated on one node signing on another, configuration pushed to
// every node (waited for as each node logs it in force, not timed: the
// test runs on loaded machines), and the nodes' behaviour while PostgreSQL
// is down.
func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("the cluster tests need PostgreSQL 15: %v", err)
	}
	defer pg.Close()
	url, err := pg.NewDatabase(ctx, "signet")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{"SIGNET_DATABASE_URL=" + url, "SIGNET_TEST_PIN=cluster-pin"}
	hash, _ := bcrypt.GenerateFromPassword([]byte("cluster-admin-pw"), bcrypt.MinCost)
	push := func(t *testing.T, workers ...string) {
		t.Helper()
		f := filepath.Join(dir, "shared.yaml")
		if err := os.WriteFile(f, []byte(sharedConfig(string(hash), workers...)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, code := signetCLI(t, env, "config", "push", f); code != 0 {
			t.Fatalf("config push: exit %d: %s", code, out)
		}
	}
	push(t)

	// The audit seal key every node has, outside the database.
	sealKey := filepath.Join(dir, "audit-seal.key")
	if err := os.WriteFile(sealKey, []byte("8f6c1e0a9b2d4c7e8f6c1e0a9b2d4c7e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		n := &node{name: fmt.Sprintf("node%d", i+1), dir: filepath.Join(dir, fmt.Sprintf("node%d", i+1)), addr: loopbackAddr(t), env: env}
		os.MkdirAll(n.dir, 0o700)
		yaml := fmt.Sprintf("state:\n  postgres:\n    url: {env: SIGNET_DATABASE_URL}\n    node: %s\n    sealKey: %s\n", n.name, sealKey)
		if err := os.WriteFile(filepath.Join(n.dir, "node.yaml"), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		n.start(t)
		defer n.stop()
		nodes[i] = n
	}

	// Keys generated through node 1 only.
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		if code, body := nodes[0].admin("POST", "/tokens/db/keys", `{"alias":"`+k+`","algorithm":"ECDSA","curve":"P-256"}`); code != 200 && code != 201 {
			t.Fatalf("generate %s through node 1: %d %s", k, code, body)
		}
	}
	push(t, "Limited:k1:500", "Crash:k2:500", "Down:k3:1000000", "Free:k4")
	// waitVersion waits until every node put version v in force, as each
	// logs when its watch of the cluster applies the version; the bound
	// is generous (a loaded machine), the wait ends with the event.
	waitVersion := func(t *testing.T, v int64) {
		t.Helper()
		for _, n := range nodes {
			n.waitApplied(t, v, 30*time.Second)
		}
	}
	waitVersion(t, 2)

	t.Run("key from node 1 signs on node 3", func(t *testing.T) {
		if code := nodes[2].sign("Free"); code != 200 {
			t.Fatalf("node 3 signing with a key generated through node 1: %d", code)
		}
	})

	// clients signs with worker through every node, 8 clients per node,
	// until each gets 503; it returns the signatures made.
	clients := func(t *testing.T, worker string, during func(made *atomic.Int64)) int64 {
		var made atomic.Int64
		var wg sync.WaitGroup
		for _, n := range nodes {
			for range 8 {
				wg.Go(func() {
					for {
						switch code := n.sign(worker); code {
						case 200:
							made.Add(1)
						case 503:
							return
						case 0: // the node was killed: ask again until it is back (a process; the test restarts it)
							time.Sleep(20 * time.Millisecond)
						default:
							t.Errorf("%s: status %d", n.name, code)
							return
						}
					}
				})
			}
		}
		if during != nil {
			during(&made)
		}
		wg.Wait()
		return made.Load()
	}

	t.Run("exact limit across nodes", func(t *testing.T) {
		if made := clients(t, "Limited", nil); made != 500 {
			t.Fatalf("the cluster made %d signatures with KEYUSAGELIMIT 500, want exactly 500", made)
		}
	})

	t.Run("kill -9 a node", func(t *testing.T) {
		made := clients(t, "Crash", func(made *atomic.Int64) {
			waitUntil(t, 30*time.Second, "150 signatures", func() bool { return made.Load() >= 150 })
			nodes[1].kill()
			nodes[1].start(t)
		})
		if made > 500 || made < 500-128 {
			t.Fatalf("with a node killed the cluster made %d signatures, want at most 500 and at least 500-128 (the lease lost)", made)
		}
		t.Logf("%d signatures with node 2 killed and restarted", made)
		out, code := signetCLI(t, env, "admin", "audit", "verify", "--state", url, "--seal", sealKey)
		if code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: exit %d: %s", code, out)
		}
	})

	t.Run("config push reaches every node", func(t *testing.T) {
		// Added has a key of its own: the limit it is given below is its
		// key's, which Free's key must not share.
		push(t, "Limited:k1:500", "Crash:k2:500", "Down:k3:1000000", "Free:k4", "Added:k5")
		waitVersion(t, 3)
		for _, n := range nodes {
			if code := n.sign("Added"); code != 200 {
				t.Errorf("%s: the added worker answers %d", n.name, code)
			}
			req, _ := http.NewRequest("GET", n.url()+"/admin/api/workers", nil)
			req.SetBasicAuth("admin", "cluster-admin-pw")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if v := resp.Header.Get("X-Signet-Config-Version"); resp.StatusCode != 200 || v != "3" {
				t.Errorf("%s: the admin status answers %d with configuration version %q, want 200 and 3", n.name, resp.StatusCode, v)
			}
		}
	})

	// One source of truth: every problem config check reports, push
	// reports too, and pushes nothing. It did not run the checks of the
	// files a configuration names (a validator's TRUSTANCHORS, the TLS
	// files), so it installed configurations the nodes ran with a
	// validator OFFLINE, and that an admin edit would have refused.
	t.Run("config push refuses what config check refuses", func(t *testing.T) {
		notPEM := filepath.Join(dir, "not-anchors.pem")
		if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, yaml string
			pushOnly   []string // what push refuses beyond config check
		}{
			{"unknown kind and a server section", "server:\n  listen: 127.0.0.1:9999\nworkers:\n  - name: X\n    id: 99\n    kind: NoSuchKind\n",
				[]string{"server section belongs in each node's own file"}},
			{"trust anchors that do not read", "workers:\n  - name: V\n    kind: CMSValidator\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: " + notPEM + "\n", nil},
			{"missing trust anchors", "workers:\n  - name: V\n    kind: PDFValidator\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: " + filepath.Join(dir, "missing.pem") + "\n", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := filepath.Join(dir, "bad.yaml")
				if err := os.WriteFile(bad, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				checked, code := signetCLI(t, env, "config", "check", bad)
				if code != 1 {
					t.Fatalf("config check of a bad file: exit %d: %s", code, checked)
				}
				out, code := signetCLI(t, env, "config", "push", bad)
				if code != 1 || !strings.Contains(out, "nothing was pushed") {
					t.Fatalf("config push of a bad file: exit %d: %s", code, out)
				}
				for _, line := range strings.Split(strings.TrimSpace(checked), "\n") {
					if strings.HasPrefix(line, bad) && !strings.Contains(out, line) {
						t.Errorf("config check says %q; config push does not:\n%s", line, out)
					}
				}
				for _, want := range tc.pushOnly {
					if !strings.Contains(out, want) {
						t.Errorf("config push does not say %q:\n%s", want, out)
					}
				}
				if _, _, v := nodes[0].health(); v != "3" {
					t.Fatalf("node 1 runs version %q after a refused push, want 3", v)
				}
			})
		}
	})

	t.Run("admin API edits the version in force", func(t *testing.T) {
		// The edit's answer carries the settings waiting for a restart, as
		// on a single server: none, for a worker's property.
		if code, body := nodes[1].admin("PUT", "/workers/Added/properties/KEYUSAGELIMIT", `{"value":"7"}`); code != 200 || !strings.Contains(body, `"restartNeeded":[]`) {
			t.Fatalf("set a property through node 2: %d %s", code, body)
		}
		waitVersion(t, 4)
		out, code := signetCLI(t, env, "config", "pull")
		if code != 0 || !strings.Contains(out, "KEYUSAGELIMIT: 7") || !strings.Contains(out, "pushed by admin") {
			t.Fatalf("config pull after the edit: exit %d: %s", code, out)
		}
		// What config push refuses, an edit refuses: a relative path would
		// name a file below each node's own working folder.
		ca, err := demo.NewCA("Cluster Anchors CA")
		if err != nil {
			t.Fatal(err)
		}
		anchors := filepath.Join(dir, "anchors.pem")
		if err := os.WriteFile(anchors, demo.PEM(ca.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
		wd, err := os.Getwd() // the nodes' working folder
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(wd, anchors)
		if err != nil {
			t.Fatal(err)
		}
		code, body := nodes[1].admin("POST", "/workers", `{"name":"V","kind":"CMSValidator","properties":{"AUTHTYPE":"NOAUTH","TRUSTANCHORS":"`+rel+`"}}`)
		if code != 400 && code != 409 && code != 422 || !strings.Contains(body, "must name files by absolute path") {
			t.Fatalf("add a worker with a relative path through node 2: %d %s", code, body)
		}
		if _, _, v := nodes[0].health(); v != "4" {
			t.Fatalf("node 1 runs version %q after a refused edit, want 4", v)
		}
	})

	t.Run("database down", func(t *testing.T) {
		if err := pg.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			waitUntil(t, 5*time.Second, n.name+" degraded", func() bool {
				code, body, _ := n.health()
				return code == 500 && strings.Contains(body, "Node: ") && strings.Contains(body, "Worker Down (3)")
			})
			if code, body := n.signBody("Down"); code != 503 || !strings.Contains(body, "database does not answer") {
				t.Errorf("%s: a limited worker answers %d %q while the database is down, want 503 naming the database", n.name, code, body)
			}
			if code := n.sign("Down"); code != 503 {
				t.Errorf("%s: a limited worker answers %d while the database is down, want 503", n.name, code)
			}
			if code := n.sign("Free"); code != 200 {
				t.Errorf("%s: an unlimited worker answers %d while the database is down, want 200", n.name, code)
			}
		}
		if err := pg.Start(ctx); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			waitUntil(t, 10*time.Second, n.name+" recovered", func() bool { return n.sign("Down") == 200 })
			waitUntil(t, 5*time.Second, n.name+" healthy", func() bool {
				code, body, _ := n.health()
				return !strings.Contains(body, "Node: ") && !strings.Contains(body, "Worker Down") && code != 0
			})
		}
	})

	t.Run("key removed through node 1 stops signing on node 3", func(t *testing.T) {
		if code := nodes[2].sign("Free"); code != 200 {
			t.Fatalf("node 3 before the removal: %d", code)
		}
		if code, body := nodes[0].admin("DELETE", "/tokens/db/keys/k4?force=true", ""); code != 200 && code != 204 {
			t.Fatalf("remove k4 through node 1: %d %s", code, body)
		}
		// Right after the database's restart node 3 may not be listening
		// yet: then it hears nothing of the removal and reads every key
		// again when its watch reconnects (every 250 ms while it cannot).
		waitUntil(t, 5*time.Second, "node 3 refuses the removed key", func() bool { return nodes[2].sign("Free") != 200 })
	})
}
