package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/state/statetest"
)

// outageLoad signs through s with a few clients until stop is closed:
// single and batch requests of a worker with KEYUSAGELIMIT (Limited),
// single requests of one without (Free) and of its key through the NetHSM
// API. Every answer is kept: its
// status, its body when it is not a signature, and the request IDs of the
// signatures Limited handed out.
type outageLoad struct {
	s    *tlsServer
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	codes   map[int]int
	refusal map[string]int // the bodies of the answers other than 200
	signed  []string       // request IDs of Limited's 200s
	items   int            // the signatures those answers hold
	wake    chan struct{}  // closed, and made anew, at each answer
	seq     atomic.Int64
}

func startOutageLoad(s *tlsServer) *outageLoad {
	l := &outageLoad{s: s, stop: make(chan struct{}), codes: map[int]int{}, refusal: map[string]int{}, wake: make(chan struct{})}
	digest := base64.StdEncoding.EncodeToString(make([]byte, 32))
	batch := `{"signatureRequests":[` + strings.TrimSuffix(strings.Repeat(`{"data":"`+digest+`","hashingAlgorithm":"SHA-256"},`, 4), ",") + `]}`
	kinds := []struct {
		name, path, ctype, body string
		items                   int
	}{
		{"Limited", "/signserver/worker/Limited?REQUEST_METADATA.USING_BATCHSIGNING=false", "application/octet-stream", "document", 1},
		{"Limited", "/signserver/worker/Limited?REQUEST_METADATA.USING_BATCHSIGNING=false", "application/octet-stream", "document", 1},
		{"Limited", "/signserver/worker/Limited?REQUEST_METADATA.USING_BATCHSIGNING=true&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true", "application/json", batch, 4},
		{"Free", "/signserver/worker/Free", "application/octet-stream", "document", 1},
		// Free's key, unlimited, through the NetHSM key API.
		{"NetHSM", "/api/v1/keys/tsa-p256/sign", "application/json", `{"mode":"ECDSA","message":"` + digest + `"}`, 1},
	}
	for _, k := range kinds {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("outage-%d", l.seq.Add(1))
				req, _ := http.NewRequest("POST", s.url+k.path, strings.NewReader(k.body))
				if k.name == "NetHSM" {
					req.SetBasicAuth("operator", "outage-pw")
				}
				req.Header.Set("Content-Type", k.ctype)
				req.Header.Set("X-Request-ID", id)
				code, body := 0, ""
				if resp, err := http.DefaultClient.Do(req); err != nil {
					body = err.Error()
				} else {
					b := new(strings.Builder)
					_, _ = fmt.Fprint(b, readAllString(resp))
					code, body = resp.StatusCode, b.String()
				}
				l.mu.Lock()
				l.codes[code]++
				switch {
				case code == 200 && k.name == "Limited":
					l.signed = append(l.signed, id)
					l.items += k.items
				case code != 200:
					l.refusal[fmt.Sprintf("%d %s: %s", code, k.name, strings.TrimSpace(body))]++
				}
				close(l.wake)
				l.wake = make(chan struct{})
				l.mu.Unlock()
			}
		})
	}
	return l
}

// waitFor waits, on the load's answers, until cond holds of them.
func (l *outageLoad) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for {
		l.mu.Lock()
		ok, wake := cond(), l.wake
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-t.Context().Done():
			t.Fatalf("%s: the test ended first", what)
		}
	}
}

func (l *outageLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestClusterDatabaseOutageUnderLoad: PostgreSQL stops under a load of
// single and batch requests, and starts again. Meanwhile every answer is
// a signature or a 503 of one sentence that names neither the database's
// address nor its user; the health check says the node is degraded;
// once the database is back the node signs again without a restart; and
// every signature a limited key handed out is in the signing log and
// counted.
func TestClusterDatabaseOutageUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg, dbURL := newClusterDB(t, "outage")
	p := newTLSPKI(t)
	p.write(t, map[string][]byte{"db.url": []byte(dbURL)})
	s := serveTLS(t, p, fmt.Sprintf("state:\n  postgres:\n    url: {file: %s/db.url}\n    node: n1\n", p.dir)+outageWorkers(t, p))
	load := startOutageLoad(s)
	defer load.end()
	load.waitFor(t, "signatures before the outage", func() bool { return len(load.signed) >= 20 })

	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s.events.wait(t, "state database unreachable: workers with a key usage limit are offline", 1)
	var before int
	load.waitFor(t, "refusals during the outage", func() bool {
		before = load.codes[503]
		return before >= 20
	})
	code, body := getHealth(t, s)
	if code != 500 || !strings.Contains(body, "Node: Degraded") {
		t.Errorf("health check during the outage: %d %q, want 500 naming the node degraded", code, body)
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.events.wait(t, "state database reachable again", 1)
	var signedAt int
	load.mu.Lock()
	signedAt = len(load.signed)
	load.mu.Unlock()
	load.waitFor(t, "signatures after the outage", func() bool { return len(load.signed) >= signedAt+20 })
	load.end()
	load.stop = make(chan struct{}) // ended once

	load.mu.Lock()
	defer load.mu.Unlock()
	u, _ := url.Parse(dbURL)
	load.checkRefusals(t, u.Host, ":"+u.Port(), "user=", "signet@", p.dir)
	for body := range load.refusal {
		if !strings.Contains(body, "database does not answer") {
			t.Errorf("a refusal while the database is down does not name the cause: %q", body)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT request_id FROM signlog WHERE surface = 'worker/Limited' AND result = 'ok'")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, id := range ids {
		recorded[id] = true
	}
	for _, id := range load.signed {
		if !recorded[id] {
			t.Errorf("request %s was answered with a signature of the limited key that the signing log does not hold", id)
		}
	}
	var count int64
	if err := conn.QueryRow(ctx, "SELECT u.count FROM key_usage u WHERE u.key = (SELECT key_id FROM signlog WHERE surface = 'worker/Limited' LIMIT 1)").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count < int64(load.items) {
		t.Errorf("the limited key counts %d signatures, it handed out %d", count, load.items)
	}
}

// outageWorkers returns the tokens and workers section of the outage
// tests, on demo keys made in p's folder: Limited, a CAdES signer with a
// KEYUSAGELIMIT that takes single and batch requests, and Free, a plain
// signer of another key without one.
func outageWorkers(t *testing.T, p *tlsPKI) string {
	t.Helper()
	files, _, err := demo.Bootstrap(context.Background(), filepath.Join(p.dir, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("outage-pw"), bcrypt.MinCost)
	return fmt.Sprintf(`users:
  - {name: operator, roles: [operator], passwordHash: '%s'}
tokens:
  - name: demo
    type: soft
    properties: {KEYSTOREPATH: %s, KEYSTORETYPE: PKCS12}
    pin: {file: %s}
workers:
  - name: Limited
    id: 1
    kind: CAdESSigner
    token: demo
    key: signer-p256
    properties: {AUTHTYPE: NOAUTH, DETACHEDSIGNATURE: true, KEYUSAGELIMIT: 1000000, ALLOW_BATCHSIGNING_OVERRIDE: true, ALLOW_CLIENTSIDEHASHING_OVERRIDE: true, ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256}
  - {name: Free, id: 2, kind: PlainSigner, token: demo, key: tsa-p256, properties: {AUTHTYPE: NOAUTH, SIGNATUREALGORITHM: SHA256withECDSA}}
`, hash, files.Keystore, files.PIN)
}

// checkRefusals requires every answer of the load but a signature to be
// a 503 of one line naming none of private: the database's address, a
// folder.
func (l *outageLoad) checkRefusals(t *testing.T, private ...string) {
	t.Helper()
	t.Logf("answers: %v", l.codes)
	for body, n := range l.refusal {
		t.Logf("%d× %s", n, body)
		if !strings.HasPrefix(body, "503 ") {
			t.Errorf("%d× answered %q during the outage, want 200 or 503", n, body)
		}
		for _, p := range private {
			if p != "" && strings.Contains(body, p) {
				t.Errorf("an answer names %q: %q", p, body)
			}
		}
		if strings.Count(strings.TrimSpace(body), "\n") > 0 {
			t.Errorf("an answer of more than one line: %q", body)
		}
	}
}

func getHealth(t *testing.T, s *tlsServer) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/signserver/healthcheck/signserverhealth", nil)
	return send(t, http.DefaultClient, req)
}

func readAllString(resp *http.Response) string {
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestStateDiskFullUnderLoad: the data folder's disk fills up under a load
// of single and batch requests, and has room again. Meanwhile every
// answer is a signature or a 503 of one line that names the full disk and
// no file (the limited worker's said only "the server log names the
// cause"); the health check says the server is degraded and why, and the
// limited worker offline (it said ALLOK while the limited worker refused
// every request); once the disk has room the server signs again without a
// restart and is healthy; every signature the limited key handed out is in
// the signing log and counted.
func TestStateDiskFullUnderLoad(t *testing.T) {
	t.Parallel()
	p := newTLSPKI(t)
	data := filepath.Join(p.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	statetest.MountTiny(t, data, 8<<20)
	s := serveTLS(t, p, outageWorkers(t, p))
	load := startOutageLoad(s)
	defer load.end()
	load.waitFor(t, "signatures before the disk is full", func() bool { return len(load.signed) >= 20 })

	filler := statetest.Fill(t, data)
	// The key without a limit signs on, unrecorded, from the count leased
	// before; once the lease runs out it is refused too.
	load.waitFor(t, "refusals of every client while the disk is full", func() bool {
		seen := map[string]bool{}
		for body := range load.refusal {
			name, _, _ := strings.Cut(strings.TrimPrefix(body[4:], " "), ":")
			seen[name] = true
		}
		return seen["Limited"] && seen["Free"] && seen["NetHSM"]
	})
	code, body := getHealth(t, s)
	if code != 500 || !strings.Contains(body, "Node: Degraded: the state database cannot be written: the disk of the data folder is full") ||
		!strings.Contains(body, "and the others stop once their key's use can no longer be counted (unless DISABLEKEYUSAGECOUNTER is true)") ||
		!strings.Contains(body, "Worker Limited (1): ") || strings.Contains(body, "Worker Free") {
		t.Errorf("health check while the disk is full: %d %q, want 500 naming the full disk, the limited worker offline and that the others stop too", code, body)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var signedAt int
	load.waitFor(t, "", func() bool { signedAt = len(load.signed); return true })
	load.waitFor(t, "signatures once the disk has room", func() bool { return len(load.signed) >= signedAt+20 })
	load.end()
	load.stop = make(chan struct{}) // ended once
	if code, body := getHealth(t, s); code != 200 {
		t.Errorf("health check once the disk has room and signatures are recorded: %d %q, want 200", code, body)
	}
	load.checkRefusals(t, p.dir, "/tmp")
	for body := range load.refusal {
		// The key APIs know no state: theirs says which part failed.
		if !strings.Contains(body, "the disk of the data folder is full: free space on it.") && !strings.HasPrefix(body, "503 NetHSM: ") ||
			strings.HasPrefix(body, "503 NetHSM: ") && !strings.Contains(body, "usage count could not be stored") {
			t.Errorf("a refusal while the disk is full does not name the cause: %q", body)
		}
	}

	ro, err := sqlite.OpenReadOnly(context.Background(), filepath.Join(data, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	recorded := map[string]bool{}
	var keyID string
	for after := int64(0); ; {
		rs, err := ro.Search(context.Background(), state.SignQuery{After: after, Limit: 1000, Surface: "Limited", Result: state.ResultOK})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			recorded[r.RequestID], keyID = true, r.KeyID
		}
		after = rs[len(rs)-1].ID
	}
	for _, id := range load.signed {
		if !recorded[id] {
			t.Errorf("request %s was answered with a signature of the limited key that the signing log does not hold", id)
		}
	}
	if count, err := ro.Count(context.Background(), keyID); err != nil || count < int64(load.items) {
		t.Errorf("the limited key counts %d signatures (%v), it handed out %d", count, err, load.items)
	}
}
