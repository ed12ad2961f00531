package dsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/dsm"
	"github.com/signet-project/signet/tokens/internal/remote"
	"github.com/signet-project/signet/tokens/internal/remote/remotetest"
	webdsm "github.com/signet-project/signet/web/dsm"
	"github.com/signet-project/signet/web/dsm/dsmtest"
)

const apiKey = "app1:secret-one"

// server is a DSM API server (web/dsm over a soft token) that can be
// stopped and started again on the same address, with counters and an
// optional hook that answers a request in its place.
type server struct {
	t     *testing.T
	h     *webdsm.Handler
	e     *echo.Echo
	addr  string
	keys  map[string]crypto.Signer
	auths atomic.Int64 // POST /sys/v1/session/auth
	posts atomic.Int64 // POST /crypto/v1/keys/batch/sign, answered or not

	mu      sync.Mutex
	srv     *http.Server
	now     time.Time
	aliases []string
	names   map[string]string // DSM key name → the soft token's alias, where they differ
	hook    func(c echo.Context) (handled bool, err error)
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{t: t, keys: dsmtest.TestKeys(t), now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	tok := dsmtest.SoftToken(t, "soft", s.keys)
	s.aliases = []string{"rsa2048", "p256", "p384", "ed25519"}
	s.h = webdsm.New(webdsm.Options{
		Keys: webdsm.KeySourceFunc(func(context.Context) []webdsm.Key {
			s.mu.Lock()
			defer s.mu.Unlock()
			var ks []webdsm.Key
			for _, a := range s.aliases {
				k := webdsm.Key{Token: tok, Alias: a}
				if real, ok := s.names[a]; ok {
					k.Name, k.Alias = a, real
				}
				ks = append(ks, k)
			}
			return ks
		}),
		Authenticate: func(user, secret string) error {
			if user+":"+secret != apiKey {
				return errors.New("The API key was refused.")
			}
			return nil
		},
		TokenTTL: 10 * time.Minute,
		Now: func() time.Time {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.now
		},
	})
	s.e = echo.New()
	s.e.HideBanner = true
	s.e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Request().URL.Path {
			case "/sys/v1/session/auth":
				s.auths.Add(1)
			case "/crypto/v1/keys/batch/sign":
				s.posts.Add(1)
			}
			s.mu.Lock()
			hook := s.hook
			s.mu.Unlock()
			if hook != nil {
				if done, err := hook(c); done {
					return err
				}
			}
			return next(c)
		}
	})
	s.h.Register(s.e)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *server) url() string { return "http://" + s.addr }

func (s *server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s.e}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *server) stop() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	srv.Close()
}

// start serves again on the same address. stop closed the listener, and
// Go listens with SO_REUSEADDR, so the address is free at once.
func (s *server) start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

func (s *server) advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}

func (s *server) setHook(h func(c echo.Context) (bool, error)) {
	s.mu.Lock()
	s.hook = h
	s.mu.Unlock()
}

// probeEvery is the tokens' probe interval: a probe is due once the
// test's clock has moved on by it.
const probeEvery = 20 * time.Millisecond

// client makes a token for s whose every exchange is checked against the
// DSM API description; the test fails at its end for any that does not
// conform.
func client(t *testing.T, s *server, mod func(*dsm.Options)) (*dsm.Token, *apitest.Transport, *remotetest.Clock) {
	t.Helper()
	spec := dsmtest.LoadSpec(t)
	tr := apitest.NewTransport(spec, &http.Transport{})
	clk := remotetest.NewClock()
	opts := dsm.Options{
		Name:          "remote",
		URL:           s.url(),
		APIKey:        apiKey,
		Timeout:       5 * time.Second,
		ProbeInterval: probeEvery,
		HTTPClient:    &http.Client{Transport: tr},
		Now:           clk.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	tok, err := dsm.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.RequireValid(t) })
	return tok, tr, clk
}

// statusAfterProbe moves clk on by the probe interval and returns the
// status that the probe then due finds.
func statusAfterProbe(ctx context.Context, tok *dsm.Token, clk *remotetest.Clock) tokens.Status {
	clk.Advance(probeEvery)
	return tok.Status(ctx)
}

func TestSignAllBatches(t *testing.T) {
	s := newServer(t)
	tok, tr, _ := client(t, s, func(o *dsm.Options) { o.MaxBatchSize = 100 })
	remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 1000)
	if n := s.h.BatchCalls(); n != 10 {
		t.Errorf("the server served %d batch calls for 1000 digests in batches of 100, want 10", n)
	}
	if n := tr.RequireValid(t); n < 10 {
		t.Errorf("%d responses checked against the description, want at least 10", n)
	}
}

// TestSignAllBatchSizes: the batches a SignAll is cut into, for batch
// sizes up to the largest MAXBATCHSIZE config accepts: a size near the
// largest int overflowed the count of batches (a panic, makeslice: len
// out of range, for any two digests).
func TestSignAllBatchSizes(t *testing.T) {
	tests := []struct {
		name     string
		maxBatch int
		calls    int64
	}{
		{"one size fits all", 1000, 1},
		{"uneven", 300, 4},
		{"the largest int", math.MaxInt, 1},
		{"near it", math.MaxInt - 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			tok, _, _ := client(t, s, func(o *dsm.Options) { o.MaxBatchSize = tt.maxBatch })
			remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 1000)
			if n := s.h.BatchCalls(); n != tt.calls {
				t.Errorf("the server served %d batch calls for 1000 digests in batches of %d, want %d", n, tt.maxBatch, tt.calls)
			}
		})
	}
}

func TestSignModes(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, nil)
	ctx := context.Background()
	msg := []byte("the document")
	d256 := sha256.Sum256(msg)
	d384 := sha512.Sum384(msg)
	tests := []struct {
		name   string
		alias  string
		input  []byte
		opts   crypto.SignerOpts
		verify func(pub crypto.PublicKey, sig []byte) error
	}{
		{"RSA PKCS#1 v1.5", "rsa2048", d256[:], crypto.SHA256, func(pub crypto.PublicKey, sig []byte) error {
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d256[:], sig)
		}},
		{"RSA-PSS", "rsa2048", d384[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}, func(pub crypto.PublicKey, sig []byte) error {
			return rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA384, d384[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}},
		{"ECDSA P-384", "p384", d384[:], crypto.SHA384, func(pub crypto.PublicKey, sig []byte) error {
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d384[:], sig) {
				return errors.New("ECDSA signature does not verify")
			}
			return nil
		}},
		{"Ed25519", "ed25519", msg, crypto.Hash(0), func(pub crypto.PublicKey, sig []byte) error {
			if !ed25519.Verify(pub.(ed25519.PublicKey), msg, sig) {
				return errors.New("Ed25519 signature does not verify")
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sig := remotetest.Sign(t, tok, tc.alias, s.keys[tc.alias].Public(), tc.input, tc.opts)
			if err := tc.verify(s.keys[tc.alias].Public(), sig); err != nil {
				t.Error(err)
			}
		})
	}

	errTests := []struct {
		name  string
		alias string
		input []byte
		opts  crypto.SignerOpts
		want  error
	}{
		{"unknown key", "nope", d256[:], crypto.SHA256, tokens.ErrKeyNotFound},
		{"Ed25519 with a digest", "ed25519", d256[:], crypto.SHA256, tokens.ErrUnsupported},
		{"raw RSA", "rsa2048", d256[:], crypto.Hash(0), tokens.ErrUnsupported},
		{"PSS salt length", "rsa2048", d256[:], &rsa.PSSOptions{SaltLength: 5, Hash: crypto.SHA256}, tokens.ErrUnsupported},
		{"wrong digest length", "p256", d384[:], crypto.SHA256, tokens.ErrUnsupported},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tokens.SignAll(ctx, tok, tc.alias, [][]byte{tc.input}, tc.opts)
			if err == nil {
				err = res[0].Err
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestItemErrors(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, nil)
	ctx := context.Background()
	in := remotetest.Digests(3, "item")
	in[1] = in[1][:20]
	res, err := tokens.SignAll(ctx, tok, "rsa2048", in, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.keys["rsa2048"].Public().(*rsa.PublicKey)
	for _, i := range []int{0, 2} {
		if res[i].Err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, in[i], res[i].Signature) != nil {
			t.Errorf("item %d: %v", i, res[i].Err)
		}
	}
	if !errors.Is(res[1].Err, tokens.ErrUnsupported) {
		t.Errorf("short digest: %v, want ErrUnsupported", res[1].Err)
	}

	// The key goes away on the DSM (a reload) after the token looked it up:
	// the DSM's 404 items become ErrKeyNotFound, and the next call finds
	// no key at all.
	s.mu.Lock()
	s.aliases = []string{"p256"}
	s.mu.Unlock()
	res, err = tokens.SignAll(ctx, tok, "rsa2048", remotetest.Digests(2, "gone"), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, tokens.ErrKeyNotFound) {
			t.Errorf("item %d: %v, want ErrKeyNotFound", i, r.Err)
		}
	}
	if _, err := tokens.SignAll(ctx, tok, "rsa2048", remotetest.Digests(1, "gone"), crypto.SHA256); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("after the 404: %v, want ErrKeyNotFound", err)
	}
}

func TestBearerRenewal(t *testing.T) {
	s := newServer(t)
	tok, tr, clk := client(t, s, nil)
	ctx := context.Background()
	sign := func() {
		t.Helper()
		res, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(2, "renew"), crypto.SHA256)
		if err == nil {
			err = res[0].Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	unauthorized := func() int {
		n := 0
		for _, ex := range tr.Exchanges() {
			if ex.Status == http.StatusUnauthorized {
				n++
			}
			if ex.RequestErr != nil || ex.ResponseErr != nil {
				t.Errorf("%s %s: %v / %v", ex.Method, ex.Path, ex.RequestErr, ex.ResponseErr)
			}
		}
		return n
	}
	sign()
	if n := s.auths.Load(); n != 1 {
		t.Fatalf("%d session auths, want 1", n)
	}
	clk.Advance(5 * time.Minute)
	s.advance(5 * time.Minute)
	sign()
	if n := s.auths.Load(); n != 1 {
		t.Errorf("%d session auths half-way through the session, want 1", n)
	}
	// 30 s before the server would refuse the token, the client renews it.
	clk.Advance(4*time.Minute + 30*time.Second)
	s.advance(4*time.Minute + 30*time.Second)
	sign()
	if n := s.auths.Load(); n != 2 {
		t.Errorf("%d session auths near expiry, want 2 (renewed)", n)
	}
	if n := unauthorized(); n != 0 {
		t.Errorf("%d requests refused with 401 while renewing ahead, want 0", n)
	}
	// The DSM forgets the session early (its clock runs ahead): the batch
	// is refused with 401, the token gets a new session and sends again.
	s.advance(11 * time.Minute)
	sign()
	if n := s.auths.Load(); n != 3 {
		t.Errorf("%d session auths after a 401, want 3", n)
	}
	if n := unauthorized(); n != 1 {
		t.Errorf("%d requests refused with 401, want 1", n)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("status %v %s", st.State, st.Reason)
	}
}

func TestOfflineAndRecovery(t *testing.T) {
	s := newServer(t)
	tok, _, clk := client(t, s, nil)
	ctx := context.Background()
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Fatalf("status %v %s, want ACTIVE", st.State, st.Reason)
	}
	if _, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(3, "before"), crypto.SHA256); err != nil {
		t.Fatal(err)
	}

	s.stop()
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Fatalf("status %v %s before a probe is due, want ACTIVE (the last answer)", st.State, st.Reason)
	}
	if st := statusAfterProbe(ctx, tok, clk); st.State != tokens.Offline || !strings.Contains(st.Reason, "unreachable") || !strings.Contains(st.Reason, s.addr) {
		t.Errorf("status %v %q with the DSM down, want OFFLINE with the DSM address and why", st.State, st.Reason)
	}
	if _, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(3, "down"), crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("SignAll while down: %v, want ErrOffline", err)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Signer while down: %v, want ErrOffline", err)
	}
	posts := s.posts.Load()

	s.start()
	if st := statusAfterProbe(ctx, tok, clk); st.State != tokens.Active {
		t.Fatalf("status %v %s with the DSM back, want ACTIVE again", st.State, st.Reason)
	}
	res, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(3, "after"), crypto.SHA256)
	if err != nil || res[0].Err != nil {
		t.Fatalf("SignAll after recovery: %v %v", err, res)
	}
	if got := s.posts.Load() - posts; got != 1 {
		t.Errorf("%d batch requests reached the server after recovery, want 1", got)
	}
}

func TestRetrySafety(t *testing.T) {
	s := newServer(t)
	tok, tr, clk := client(t, s, nil)
	ctx := context.Background()
	if _, err := tok.Signer(ctx, "p256"); err != nil {
		t.Fatal(err)
	}

	// A batch sign whose connection drops after the request arrived is not
	// sent again: the DSM may have signed it.
	s.setHook(func(c echo.Context) (bool, error) {
		if c.Request().URL.Path != "/crypto/v1/keys/batch/sign" {
			return false, nil
		}
		conn, _, err := http.NewResponseController(c.Response().Writer).Hijack()
		if err == nil {
			conn.Close()
		}
		return true, nil
	})
	before := s.posts.Load()
	_, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(2, "drop"), crypto.SHA256)
	if err == nil {
		t.Fatal("SignAll succeeded over a dropped connection")
	}
	if got := s.posts.Load() - before; got != 1 {
		t.Errorf("the batch reached the server %d times, want 1 (no retry after sending)", got)
	}

	// A listing answered 503 twice is retried and succeeds.
	var fails atomic.Int64
	s.setHook(func(c echo.Context) (bool, error) {
		if c.Request().URL.Path == "/crypto/v1/keys" && fails.Add(1) <= 2 {
			return true, c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "busy"})
		}
		return false, nil
	})
	if st := statusAfterProbe(ctx, tok, clk); st.State != tokens.Active {
		t.Fatalf("status %v %s after the dropped connection, want ACTIVE again", st.State, st.Reason)
	}
	keys, err := tok.Keys(ctx)
	if err != nil || len(keys) != 4 {
		t.Fatalf("Keys after two 503: %v %v", keys, err)
	}
	if n := fails.Load(); n != 3 {
		t.Errorf("%d listing requests, want 3", n)
	}
	s.setHook(nil)
	tr.Exchanges() // the dropped connection has no response to check
}

func TestActivate(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, func(o *dsm.Options) { o.APIKey = "" })
	ctx := context.Background()
	if st := tok.Status(ctx); st.State != tokens.Offline || !strings.Contains(st.Reason, "activate") {
		t.Errorf("status %v %q, want OFFLINE until activated", st.State, st.Reason)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Signer before Activate: %v, want ErrOffline", err)
	}
	if err := tok.Activate(ctx, "app1:wrong"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Errorf("Activate with a wrong secret: %v, want ErrBadPIN", err)
	}
	if err := tok.Activate(ctx, "garbage"); !errors.Is(err, tokens.ErrBadPIN) || errors.Is(err, tokens.ErrNoPIN) {
		t.Errorf("Activate with a malformed key: %v, want ErrBadPIN, not ErrNoPIN", err)
	}
	if err := tok.Activate(ctx, ""); !errors.Is(err, tokens.ErrNoPIN) {
		t.Errorf("Activate with no key and none configured: %v, want ErrNoPIN", err)
	}
	// Given none, a token tries its configured key: its refusal is a
	// wrong key, not a missing one (the admin API told the client it sent
	// no PIN).
	refused, _, _ := client(t, s, func(o *dsm.Options) { o.APIKey = "app1:wrong" })
	if err := refused.Activate(ctx, ""); !errors.Is(err, tokens.ErrBadPIN) || errors.Is(err, tokens.ErrNoPIN) {
		t.Errorf("Activate with none, the configured key refused: %v, want ErrBadPIN, not ErrNoPIN", err)
	}
	// Its status says the DSM refused the key, not that none was given.
	if st := refused.Status(ctx); st.State != tokens.Offline || st.Reason != "the DSM refused the API key of app app1: activate the token with a valid DSM API key" {
		t.Errorf("status after its configured key was refused: %v %q", st.State, st.Reason)
	}
	if st := tok.Status(ctx); st.State != tokens.Offline {
		t.Errorf("status after refused keys: %v", st.State)
	}
	// The DSM console shows API keys in base64.
	if err := tok.Activate(ctx, base64.StdEncoding.EncodeToString([]byte(apiKey))); err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("status %v %s after Activate", st.State, st.Reason)
	}
	if err := tok.Deactivate(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Offline || st.Reason != "deactivated" {
		t.Errorf("status after Deactivate: %v %q", st.State, st.Reason)
	}
}

func TestChain(t *testing.T) {
	s := newServer(t)
	chain := remotetest.Chain(t, "DSM Test CA", "DSM RSA signer", s.keys["rsa2048"].Public())
	leaf, ca := chain[0], chain[1]
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	write("rsa2048.pem", demo.PEM(leaf, ca))
	wrong := write("wrong.pem", demo.PEM(leaf))
	write("p384.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}))
	tok, _, _ := client(t, s, func(o *dsm.Options) {
		o.ChainDir = dir
		o.Chains = map[string]string{"p256": wrong, "ed25519": filepath.Join(dir, "missing.pem")}
	})
	ctx := context.Background()

	chain, err := tok.Chain(ctx, "rsa2048")
	if err != nil || len(chain) != 2 || !chain[0].Equal(leaf) || !chain[1].Equal(ca) {
		t.Errorf("chain of rsa2048: %v %v", chain, err)
	}
	tests := []struct {
		alias string
		want  string // part of the error, "" for an empty chain
	}{
		{"p256", "not for key"},
		{"ed25519", "missing.pem"},
		{"p384", "no PEM certificate"},
	}
	for _, tc := range tests {
		chain, err := tok.Chain(ctx, tc.alias)
		if tc.want == "" && (err != nil || len(chain) != 0) || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Chain(%s) = %v, %v; want error with %q", tc.alias, chain, err, tc.want)
		}
	}
	if _, err := tok.Chain(ctx, "nope"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("Chain of an unknown key: %v", err)
	}
	remotetest.KeysMatch(t, tok, map[string]tokens.KeyInfo{
		"rsa2048": {Alias: "rsa2048", Algorithm: "RSA", Bits: 2048, HasChain: true, NotAfter: leaf.NotAfter},
		"p256":    {Alias: "p256", Algorithm: "ECDSA", Bits: 256, Curve: "P-256", HasChain: true, NotAfter: leaf.NotAfter},
		"p384":    {Alias: "p384", Algorithm: "ECDSA", Bits: 384, Curve: "P-384"},
		"ed25519": {Alias: "ed25519", Algorithm: "Ed25519", Bits: 256},
	})
}

func TestTLS(t *testing.T) {
	s := newServer(t)
	ts := httptest.NewTLSServer(s.e)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, demo.PEM(ts.Certificate()), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := dsm.New(dsm.Options{Name: "tls", URL: ts.URL, APIKey: apiKey, CABundle: bundle})
	if err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("with the CA bundle: %v %s", st.State, st.Reason)
	}
	if _, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(2, "tls"), crypto.SHA256); err != nil {
		t.Error(err)
	}
	untrusting, err := dsm.New(dsm.Options{Name: "untrusting", URL: ts.URL, APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	if st := untrusting.Status(ctx); st.State != tokens.Offline || !strings.Contains(st.Reason, "certificate") {
		t.Errorf("without the CA bundle: %v %q, want OFFLINE for the certificate", st.State, st.Reason)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts dsm.Options
		want string
	}{
		{"no name", dsm.Options{URL: "https://dsm.example"}, "name"},
		{"bad URL", dsm.Options{Name: "x", URL: "dsm.example"}, "https://host"},
		{"credentials in URL", dsm.Options{Name: "x", URL: "https://a:b@dsm.example"}, "API key"},
		{"bad API key", dsm.Options{Name: "x", URL: "https://dsm.example", APIKey: "nocolon"}, "app-id:secret"},
		{"bad CA bundle", dsm.Options{Name: "x", URL: "https://dsm.example", CABundle: "/nonexistent/ca.pem"}, "CA bundle"},
	}
	for _, tc := range tests {
		if _, err := dsm.New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}

// TestRefusedBatchRetried checks the one retry a batch sign gets: the
// connection was refused, so no byte of the request left.
func TestRefusedBatchRetried(t *testing.T) {
	s := newServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := closed.Addr().String()
	closed.Close()
	var refuse atomic.Bool
	var d net.Dialer
	base := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.CompareAndSwap(true, false) {
			return d.DialContext(ctx, network, refusing)
		}
		return d.DialContext(ctx, network, addr)
	}}
	tok, _, _ := client(t, s, func(o *dsm.Options) {
		o.HTTPClient = &http.Client{Transport: apitest.NewTransport(dsmtest.LoadSpec(t), base)}
	})
	ctx := context.Background()
	if _, err := tok.Signer(ctx, "p256"); err != nil {
		t.Fatal(err)
	}
	base.CloseIdleConnections()
	refuse.Store(true)
	before := s.posts.Load()
	res, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(2, "refused"), crypto.SHA256)
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("SignAll after a refused connection: %v %+v", err, res)
	}
	if refuse.Load() {
		t.Fatal("no connection was refused")
	}
	if got := s.posts.Load() - before; got != 1 {
		t.Errorf("the batch reached the server %d times, want 1", got)
	}
}

// TestCloseEndsSession: Close (tokens.Closer, what a reload that drops the
// token and shutdown call) ends the DSM session and leaves the token
// Offline.
func TestCloseEndsSession(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, nil)
	ctx := context.Background()
	if _, err := tokens.SignAll(ctx, tok, "p256", [][]byte{make([]byte, 32)}, crypto.SHA256); err != nil {
		t.Fatal(err) // a session is open
	}
	terminated := make(chan struct{}, 1)
	s.setHook(func(c echo.Context) (bool, error) {
		if c.Request().URL.Path == "/sys/v1/session/terminate" {
			terminated <- struct{}{}
		}
		return false, nil
	})
	var closer tokens.Closer = tok
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-terminated:
	default:
		t.Error("Close did not end the DSM session")
	}
	if st := tok.Status(ctx); st.State != tokens.Offline {
		t.Errorf("status after Close: %v", st.State)
	}
}

// TestWrongSignatureRefused: a DSM that answers a signature that does not
// verify (another key's, over another digest: a misrouted key, a broken
// HSM) fails the item with remote.ErrBadSignature; no signature is handed
// out, and the other items of the batch keep theirs.
func TestWrongSignatureRefused(t *testing.T) {
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sign func(s *server, digest []byte) []byte
	}{
		{"another key's signature", func(_ *server, d []byte) []byte {
			sig, _ := ecdsa.SignASN1(rand.Reader, other, d)
			return sig
		}},
		{"a signature over another digest", func(s *server, _ []byte) []byte {
			d := sha256.Sum256([]byte("something else"))
			sig, _ := s.keys["p256"].Sign(rand.Reader, d[:], crypto.SHA256)
			return sig
		}},
		{"a well-formed r||s of zeros", func(*server, []byte) []byte { return make([]byte, 64) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			tok, tr, _ := client(t, s, nil)
			in := remotetest.Digests(2, "wrong")
			s.setHook(func(c echo.Context) (bool, error) {
				if c.Request().URL.Path != "/crypto/v1/keys/batch/sign" {
					return false, nil
				}
				var items []struct {
					Hash string `json:"hash"`
				}
				if err := c.Bind(&items); err != nil {
					return true, err
				}
				out := make([]map[string]any, len(items))
				for i, it := range items {
					d, _ := base64.StdEncoding.DecodeString(it.Hash)
					sig, _ := s.keys["p256"].Sign(rand.Reader, d, crypto.SHA256)
					if i == 1 {
						sig = tc.sign(s, d)
					}
					out[i] = map[string]any{"status": 200, "body": map[string]string{"kid": "k", "signature": base64.StdEncoding.EncodeToString(sig)}}
				}
				return true, c.JSON(http.StatusOK, out)
			})
			res, err := tokens.SignAll(context.Background(), tok, "p256", in, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(s.keys["p256"].Public().(*ecdsa.PublicKey), in[0], res[0].Signature) {
				t.Errorf("the good item: %v", res[0].Err)
			}
			if res[1].Err == nil || res[1].Signature != nil {
				t.Errorf("the wrong signature was handed out: %x, %v", res[1].Signature, res[1].Err)
			}
			if !errors.Is(res[1].Err, remote.ErrBadSignature) {
				t.Errorf("error %v, want ErrBadSignature", res[1].Err)
			}
			tr.Exchanges()
		})
	}
}

// TestWrongKeyKeepsActiveToken: Activate with an API key the DSM refuses,
// or a malformed one, on an Active token is ErrBadPIN and changes nothing:
// the token stays Active with the key it had and signs. It used to forget
// the working key first, so a typo took the token Offline.
func TestWrongKeyKeepsActiveToken(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, nil)
	ctx := context.Background()
	for _, key := range []string{"app1:wrong", "garbage"} {
		if err := tok.Activate(ctx, apiKey); err != nil {
			t.Fatal(err)
		}
		if err := tok.Activate(ctx, key); !errors.Is(err, tokens.ErrBadPIN) {
			t.Fatalf("Activate(%q) = %v, want ErrBadPIN", key, err)
		}
		if st := tok.Status(ctx); st.State != tokens.Active {
			t.Fatalf("after Activate(%q): status %v %s, want ACTIVE", key, st.State, st.Reason)
		}
		remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 2)
	}
}

// TestHungSessionAuthLeavesOthers: while one request waits on a DSM that
// does not answer its session auth, another request whose context ends
// returns with the context's error at once: it waited on the first one's
// session request however long that took (up to three attempts of the
// token's timeout), past its own deadline and its client's disconnect.
func TestHungSessionAuthLeavesOthers(t *testing.T) {
	s := newServer(t)
	tok, tr, clk := client(t, s, nil)
	remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 1)
	clk.Advance(time.Hour) // the session is due for renewal
	inAuth, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.setHook(func(c echo.Context) (bool, error) {
		if c.Request().URL.Path != "/sys/v1/session/auth" {
			return false, nil
		}
		once.Do(func() { close(inAuth) })
		select {
		case <-release:
		case <-c.Request().Context().Done():
		}
		return true, c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "hung"})
	})
	first := make(chan error, 1)
	go func() {
		_, err := tokens.SignAll(context.Background(), tok, "p256", remotetest.Digests(1, "first"), crypto.SHA256)
		first <- err
	}()
	<-inAuth
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := tokens.SignAll(ctx, tok, "p256", remotetest.Digests(1, "second"), crypto.SHA256)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the request past its deadline: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(4 * time.Second): // less than the token's timeout of 5 s
		t.Error("the cancelled request waited for the other one's session auth")
	}
	close(release)
	<-first
	s.setHook(nil)
	tr.Exchanges()
}

// TestKeyReplaced: a key deleted and made again on the DSM under the same
// name (a rotation) signs with its new key; the token, which cached the old
// public key, refuses the first signature that does not verify with it
// and reads the key again, so the next request signs and verifies with
// the new key, instead of failing until the token is activated again.
func TestKeyReplaced(t *testing.T) {
	s := newServer(t)
	tok, _, _ := client(t, s, nil)
	remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 1)
	s.mu.Lock()
	s.names = map[string]string{"p256": "p384"}
	s.mu.Unlock()
	res, err := tokens.SignAll(context.Background(), tok, "p256", remotetest.Digests(1, "rotated"), crypto.SHA256)
	if err == nil && res[0].Err == nil {
		t.Fatal("a signature by the new key verified with the old public key")
	}
	remotetest.SignAllVerified(t, tok, "p256", s.keys["p384"].Public().(*ecdsa.PublicKey), 2)
}
