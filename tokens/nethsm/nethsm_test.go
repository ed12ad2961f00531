package nethsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/signet-project/signet/internal/apitest"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/internal/remote"
	"github.com/signet-project/signet/tokens/internal/remote/remotetest"
	"github.com/signet-project/signet/web/nethsm"
	"github.com/signet-project/signet/web/nethsm/nethsmtest"
)

const (
	opUser = "operator"
	opPass = "operator-passphrase"
)

// hsm is a NetHSM API server (Signet's web/nethsm over an in-memory token)
// that can be stopped and started again on the same address, and that
// counts the connections its clients open.
type hsm struct {
	t     *testing.T
	h     *nethsm.Handler
	e     *echo.Echo
	addr  string
	srv   *httptest.Server
	keys  map[string]crypto.Signer
	chain []*x509.Certificate
	state atomic.Value // nethsm.State
	// clock is the clock of the tokens newToken makes: their probes are
	// due when a test advances it.
	clock *remotetest.Clock

	// newConns counts the connections clients open; requests the
	// requests served; inFlight and maxInFlight the requests being served
	// at once.
	newConns, requests, inFlight, maxInFlight atomic.Int64
}

func newHSM(t *testing.T) *hsm {
	s := &hsm{t: t, keys: nethsmtest.TestKeys(t), clock: remotetest.NewClock()}
	s.state.Store(nethsm.Operational)
	s.chain = remotetest.Chain(t, "NetHSM Client Test CA", "NetHSM client RSA signer", s.keys["rsa2048"].Public())
	tok := nethsmtest.NewToken("backend", s.keys, map[string][]*x509.Certificate{"rsa2048": s.chain})
	s.h = nethsm.New(nethsm.Options{
		Keys: nethsm.KeySourceFunc(func(context.Context) []nethsm.Key {
			return []nethsm.Key{
				{Token: tok, Alias: "rsa2048"}, {Token: tok, Alias: "p256"},
				{Token: tok, Alias: "p384"}, {Token: tok, Alias: "ed25519"},
			}
		}),
		Authenticate: func(user, pass string) (nethsm.User, bool) {
			switch {
			case user == opUser && pass == opPass:
				return nethsm.User{Name: user, Role: nethsm.RoleOperator}, true
			case user == "admin" && pass == "admin-passphrase":
				return nethsm.User{Name: user, Role: nethsm.RoleAdministrator}, true
			}
			return nethsm.User{}, false
		},
		State: func(context.Context) nethsm.State { return s.state.Load().(nethsm.State) },
	})
	s.e = echo.New()
	s.e.HideBanner = true
	s.e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			s.requests.Add(1)
			n := s.inFlight.Add(1)
			defer s.inFlight.Add(-1)
			for m := s.maxInFlight.Load(); n > m && !s.maxInFlight.CompareAndSwap(m, n); m = s.maxInFlight.Load() {
			}
			return next(c)
		}
	})
	s.h.Register(s.e)
	s.start("127.0.0.1:0")
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *hsm) start(addr string) {
	s.t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.srv = httptest.NewUnstartedServer(s.e)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.srv.Start()
}

func (s *hsm) stop() {
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func (s *hsm) url() string { return "http://" + s.addr }

// probeEvery is the probe interval of the tokens newToken makes.
const probeEvery = 20 * time.Millisecond

// newToken makes a token for the server whose every exchange is checked
// against the NetHSM API description.
func newToken(t *testing.T, s *hsm, opts Options) (*Token, *apitest.Transport) {
	t.Helper()
	spec := nethsmtest.LoadSpec(t)
	if opts.Name == "" {
		opts.Name = "nethsm-test"
	}
	opts.URL = s.url()
	if opts.User == "" {
		opts.User, opts.Passphrase = opUser, opPass
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = probeEvery
	}
	opts.Now = s.clock.Now
	tok, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tr := apitest.NewTransport(spec, tok.api.HTTP.Transport)
	tok.api.HTTP.Transport = tr
	t.Cleanup(func() { tr.RequireValid(t) })
	return tok, tr
}

func TestCapabilities(t *testing.T) {
	tok, err := New(Options{Name: "n", URL: "https://nethsm.example", User: "op", PoolSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	var tk tokens.Token = tok
	if _, ok := tk.(tokens.BatchSigner); ok {
		t.Error("the NetHSM token must not be a BatchSigner: the NetHSM has no batch API")
	}
	if p, ok := tk.(tokens.Parallelizer); !ok || p.Parallelism() != 5 {
		t.Errorf("Parallelism = %v, want the pool size 5", p)
	}
	tr := tok.api.HTTP.Transport.(*http.Transport)
	if tr.MaxConnsPerHost != 5 || tr.MaxIdleConnsPerHost != 5 {
		t.Errorf("transport allows %d connections (%d idle), want 5", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost)
	}
	if tok.api.Base != "https://nethsm.example/api/v1" {
		t.Errorf("base URL %q", tok.api.Base)
	}
	if st := tok.Status(context.Background()); st.State != tokens.Offline || !strings.Contains(st.Reason, "not activated") {
		t.Errorf("token without passphrase: status %v %q", st.State, st.Reason)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no name", Options{URL: "https://h", User: "u"}, "set a name"},
		{"bad scheme", Options{Name: "n", URL: "ftp://h", User: "u"}, "must be https"},
		{"credentials in URL", Options{Name: "n", URL: "https://u:p@h", User: "u"}, "not in the URL"},
		{"no user", Options{Name: "n", URL: "https://h"}, "operator user"},
		{"bad key ID", Options{Name: "n", URL: "https://h", User: "u", KeyIDs: []string{"a b"}}, "not a NetHSM key ID"},
		{"missing CA bundle", Options{Name: "n", URL: "https://h", User: "u", CABundle: "/nonexistent/ca.pem"}, "CA bundle"},
		{"empty CA bundle", Options{Name: "n", URL: "https://h", User: "u", CABundle: "-----BEGIN nothing"}, "no PEM certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestSignAllThousand(t *testing.T) {
	s := newHSM(t)
	const pool = 4
	tok, tr := newToken(t, s, Options{PoolSize: pool})
	remotetest.SignAllVerified(t, tok, "p256", s.keys["p256"].Public().(*ecdsa.PublicKey), 1000)
	if n := s.h.SignCalls(); n != 1000 {
		t.Errorf("server counted %d sign calls, want 1000", n)
	}
	// The pool bounds the signatures in flight; its connections are kept
	// alive. Go's transport drops a connection whose request it could not
	// see written within 50 ms, which a starved machine (make test on two
	// cores) does now and then: a few more connections than the pool are
	// allowed, not one per signature.
	if n := s.maxInFlight.Load(); n > pool {
		t.Errorf("%d requests served at once, want at most the pool size %d", n, pool)
	}
	if n := s.newConns.Load(); n > 2*pool {
		t.Errorf("client opened %d connections for 1000 signatures, want them kept alive (at most %d)", n, 2*pool)
	}
	var signs int
	for _, ex := range tr.Exchanges() {
		if ex.RequestErr != nil || ex.ResponseErr != nil {
			t.Fatalf("%s %s: does not conform: %v / %v", ex.Method, ex.Path, ex.RequestErr, ex.ResponseErr)
		}
		if strings.HasSuffix(ex.Path, "/sign") {
			signs++
		}
	}
	if signs != 1000 {
		t.Errorf("%d sign requests checked, want 1000", signs)
	}
}

func TestSignModes(t *testing.T) {
	s := newHSM(t)
	tok, _ := newToken(t, s, Options{})
	ctx := context.Background()
	data := []byte("Signet NetHSM client test")
	sum := func(h crypto.Hash) []byte { w := h.New(); w.Write(data); return w.Sum(nil) }
	rsaPub := s.keys["rsa2048"].Public().(*rsa.PublicKey)
	tests := []struct {
		name, alias string
		opts        crypto.SignerOpts
		verify      func(sig []byte) bool
	}{
		{"PKCS1 SHA-256", "rsa2048", crypto.SHA256, func(sig []byte) bool {
			return rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, sum(crypto.SHA256), sig) == nil
		}},
		{"PKCS1 SHA-512", "rsa2048", crypto.SHA512, func(sig []byte) bool {
			return rsa.VerifyPKCS1v15(rsaPub, crypto.SHA512, sum(crypto.SHA512), sig) == nil
		}},
		{"PSS SHA-256", "rsa2048", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, func(sig []byte) bool {
			return rsa.VerifyPSS(rsaPub, crypto.SHA256, sum(crypto.SHA256), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}},
		{"PSS SHA-384 auto salt", "rsa2048", &rsa.PSSOptions{Hash: crypto.SHA384}, func(sig []byte) bool {
			return rsa.VerifyPSS(rsaPub, crypto.SHA384, sum(crypto.SHA384), sig, &rsa.PSSOptions{SaltLength: 48}) == nil
		}},
		{"PSS SHA-512", "rsa2048", &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: 64}, func(sig []byte) bool {
			return rsa.VerifyPSS(rsaPub, crypto.SHA512, sum(crypto.SHA512), sig, nil) == nil
		}},
		{"ECDSA P-256", "p256", crypto.SHA256, func(sig []byte) bool {
			return ecdsa.VerifyASN1(s.keys["p256"].Public().(*ecdsa.PublicKey), sum(crypto.SHA256), sig)
		}},
		{"ECDSA P-384", "p384", crypto.SHA384, func(sig []byte) bool {
			return ecdsa.VerifyASN1(s.keys["p384"].Public().(*ecdsa.PublicKey), sum(crypto.SHA384), sig)
		}},
		{"Ed25519", "ed25519", crypto.Hash(0), func(sig []byte) bool {
			return ed25519.Verify(s.keys["ed25519"].Public().(ed25519.PublicKey), data, sig)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := data
			if h := tc.opts.HashFunc(); h != 0 {
				in = sum(h)
			}
			sig := remotetest.Sign(t, tok, tc.alias, s.keys[tc.alias].Public(), in, tc.opts)
			if !tc.verify(sig) {
				t.Fatal("signature does not verify")
			}
			sig[len(sig)/2] ^= 1
			if tc.verify(sig) {
				t.Fatal("corrupted signature verifies")
			}
		})
	}

	unsupported := []struct {
		name, alias string
		digest      []byte
		opts        crypto.SignerOpts
	}{
		{"PSS with a long salt", "rsa2048", sum(crypto.SHA256), &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 100}},
		{"Ed25519ph", "ed25519", sum(crypto.SHA512), &ed25519.Options{Hash: crypto.SHA512}},
		{"digest of the wrong length", "p256", sum(crypto.SHA256), crypto.SHA384},
	}
	for _, tc := range unsupported {
		t.Run(tc.name, func(t *testing.T) {
			sg, err := tok.Signer(ctx, tc.alias)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sg.Sign(rand.Reader, tc.digest, tc.opts); err == nil {
				t.Fatal("Sign succeeded")
			}
		})
	}
	// The server refuses what the mode cannot do (400): ErrUnsupported.
	sg, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Sign(rand.Reader, make([]byte, 64), crypto.SHA512); !errors.Is(err, tokens.ErrUnsupported) {
		t.Errorf("ECDSA P-256 with a 64-byte digest: %v, want ErrUnsupported", err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Errorf("a refused item made the token %v: %s", st.State, st.Reason)
	}
}

func TestKeysAndChain(t *testing.T) {
	s := newHSM(t)
	tok, _ := newToken(t, s, Options{})
	ctx := context.Background()
	keys := remotetest.KeysMatch(t, tok, map[string]tokens.KeyInfo{
		"rsa2048": {Alias: "rsa2048", Algorithm: "RSA", Bits: 2048, HasChain: true, NotAfter: s.chain[0].NotAfter},
		"p256":    {Alias: "p256", Algorithm: "ECDSA", Bits: 256, Curve: "P-256"},
		"p384":    {Alias: "p384", Algorithm: "ECDSA", Bits: 384, Curve: "P-384"},
		"ed25519": {Alias: "ed25519", Algorithm: "Ed25519", Bits: 256},
	})
	if len(keys) != 4 {
		t.Errorf("Keys = %+v", keys)
	}
	chain, err := tok.Chain(ctx, "rsa2048")
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(s.chain[0]) || !chain[1].Equal(s.chain[1]) {
		t.Errorf("Chain returned %d certificates, want the 2-certificate chain", len(chain))
	}
	if chain, err := tok.Chain(ctx, "p256"); err != nil || len(chain) != 0 {
		t.Errorf("Chain of a key without certificate = %v, %v", chain, err)
	}
	for _, alias := range []string{"nokey", "bad alias"} {
		if _, err := tok.Signer(ctx, alias); !errors.Is(err, tokens.ErrKeyNotFound) {
			t.Errorf("Signer(%q): %v, want ErrKeyNotFound", alias, err)
		}
		if _, err := tok.Chain(ctx, alias); !errors.Is(err, tokens.ErrKeyNotFound) {
			t.Errorf("Chain(%q): %v, want ErrKeyNotFound", alias, err)
		}
	}

	// KeyIDs restricts the token to those keys.
	only, _ := newToken(t, s, Options{Name: "only", KeyIDs: []string{"p384"}})
	keys, err = only.Keys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Alias != "p384" {
		t.Errorf("Keys with KeyIDs = %+v, %v", keys, err)
	}
	if _, err := only.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrKeyNotFound) {
		t.Errorf("Signer outside KeyIDs: %v, want ErrKeyNotFound", err)
	}
}

// activeAfterProbe moves the test clock on by the probe interval and checks
// that the probe then due finds the token Active.
func activeAfterProbe(t *testing.T, s *hsm, tok *Token) {
	t.Helper()
	s.clock.Advance(probeEvery)
	if st := tok.Status(context.Background()); st.State != tokens.Active {
		t.Fatalf("token did not recover: %v %s", st.State, st.Reason)
	}
}

func TestOfflineAndRecovery(t *testing.T) {
	s := newHSM(t)
	tok, _ := newToken(t, s, Options{Timeout: 2 * time.Second})
	ctx := context.Background()
	activeAfterProbe(t, s, tok)
	sg, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))

	// Server stopped: Offline with the reason, ErrOffline.
	s.stop()
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Fatalf("Sign with the NetHSM down: %v, want ErrOffline", err)
	}
	st := tok.Status(ctx)
	if st.State != tokens.Offline || !strings.Contains(st.Reason, "unreachable") {
		t.Fatalf("status %v %q, want Offline because unreachable", st.State, st.Reason)
	}
	if _, err := tokens.SignAll(ctx, tok, "p256", [][]byte{d[:]}, crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("SignAll with the NetHSM down: %v, want ErrOffline", err)
	}
	if strings.Contains(st.Reason, opPass) {
		t.Error("the reason shows the passphrase")
	}

	// Back on the same address: Active on its own, and signing works.
	s.start(s.addr)
	activeAfterProbe(t, s, tok)
	res, err := tokens.SignAll(ctx, tok, "p256", [][]byte{d[:]}, crypto.SHA256)
	if err != nil || res[0].Err != nil {
		t.Fatalf("SignAll after recovery: %v %v", err, res)
	}

	// Not Operational (412): Offline with the reason, then back.
	s.state.Store(nethsm.Locked)
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Fatalf("Sign on a Locked NetHSM: %v, want ErrOffline", err)
	}
	st = tok.Status(ctx)
	if st.State != tokens.Offline || !strings.Contains(st.Reason, "Operational") {
		t.Fatalf("status %v %q, want Offline because not Operational", st.State, st.Reason)
	}
	s.state.Store(nethsm.Operational)
	activeAfterProbe(t, s, tok)
}

func TestActivate(t *testing.T) {
	s := newHSM(t)
	tok, _ := newToken(t, s, Options{User: opUser})
	ctx := context.Background()
	if st := tok.Status(ctx); st.State != tokens.Offline {
		t.Fatalf("token without passphrase is %v", st.State)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Signer before activation: %v, want ErrOffline", err)
	}
	if err := tok.Activate(ctx, "wrong-passphrase"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Errorf("Activate with a wrong passphrase: %v, want ErrBadPIN", err)
	} else if strings.Contains(err.Error(), "wrong-passphrase") {
		t.Error("the error shows the passphrase")
	}
	// Its status says the NetHSM refused the passphrase, not that none
	// was given, and never shows it.
	if st := tok.Status(ctx); st.State != tokens.Offline || !strings.HasPrefix(st.Reason, "the NetHSM refused the passphrase of user "+opUser+": ") || strings.Contains(st.Reason, "wrong-passphrase") {
		t.Errorf("status after a refused passphrase: %v %q", st.State, st.Reason)
	}
	if err := tok.Activate(ctx, opPass); err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Fatalf("after Activate: %v %s", st.State, st.Reason)
	}
	if err := tok.Deactivate(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tok.Status(ctx); st.State != tokens.Offline {
		t.Errorf("after Deactivate: %v", st.State)
	}

	// An Administrator passes the probe but may not sign: 403 makes the
	// token Offline with a reason naming the role.
	// No probe may run between the refused Sign and the Status below (a
	// probe passes, and would make the token Active again): the test clock
	// does not move between them (with a wall clock and a 20 ms interval
	// that depended on the machine's load).
	admin, _ := newToken(t, s, Options{Name: "admin", User: "admin", Passphrase: "admin-passphrase"})
	activeAfterProbe(t, s, admin)
	sg, err := admin.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(nil)
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Sign as Administrator: %v, want ErrOffline", err)
	}
	if st := admin.Status(ctx); !strings.Contains(st.Reason, "Operator") {
		t.Errorf("status reason %q does not name the Operator role", st.Reason)
	}
}

// TestRetries checks that GETs are retried after a broken connection, and a
// sign request that reached the server is not.
func TestRetries(t *testing.T) {
	var signHits, keyHits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/sign"):
			signHits.Add(1)
		case strings.HasSuffix(r.URL.Path, "/cert"):
			keyHits.Add(1)
		}
		// Break the connection without an answer.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	tok, err := New(Options{Name: "r", URL: srv.URL, User: opUser, Passphrase: opPass, ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k := s256Key(t)
	tok.health.SetStatus(tokens.Status{State: tokens.Active}, time.Now())
	sg := &signer{t: tok, ctx: context.Background(), id: "p256", pub: k}
	d := sha256.Sum256(nil)
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Sign over a broken connection: %v, want ErrOffline", err)
	}
	if n := signHits.Load(); n != 1 {
		t.Errorf("the sign request reached the server %d times, want once", n)
	}
	tok.health.SetStatus(tokens.Status{State: tokens.Active}, time.Now())
	if _, err := tok.Chain(context.Background(), "p256"); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("Chain over a broken connection: %v, want ErrOffline", err)
	}
	if n := keyHits.Load(); n != 3 {
		t.Errorf("the GET reached the server %d times, want 3 attempts", n)
	}
}

func s256Key(t *testing.T) *ecdsa.PublicKey {
	return nethsmtest.TestKeys(t)["p256"].Public().(*ecdsa.PublicKey)
}

// TestClose: Close (tokens.Closer: what a reload that drops the token and
// shutdown call) is Deactivate: the passphrase is forgotten (Offline, and
// no probe brings the token back), the public keys and chains it cached
// are dropped, a signer got before sends nothing, and its idle
// connections are closed (the next exchange opens a new one). The token
// is made without the validating transport, which does not pass
// CloseIdleConnections on.
func TestClose(t *testing.T) {
	s := newHSM(t)
	tok, err := New(Options{Name: "close", URL: s.url(), User: opUser, Passphrase: opPass, ProbeInterval: probeEvery, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	activeAfterProbe(t, s, tok)
	sg, err := tok.Signer(ctx, "p256")
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("close"))
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Chain(ctx, "rsa2048"); err != nil {
		t.Fatal(err)
	}
	conns := s.newConns.Load()

	var closer tokens.Closer = tok
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(probeEvery) // a probe is due: without a passphrase none is made
	if st := tok.Status(ctx); st.State != tokens.Offline || st.Reason != "deactivated" {
		t.Errorf("status after Close: %v %q, want Offline, deactivated", st.State, st.Reason)
	}
	if _, err := tok.Signer(ctx, "p256"); !errors.Is(err, tokens.ErrOffline) || !strings.Contains(err.Error(), notActivated) {
		t.Errorf("Signer after Close: %v, want ErrOffline saying %q", err, notActivated)
	}
	// A signer got before Close (a request in flight across a reload)
	// sends nothing: an empty passphrase would be a failed login of the
	// user on the NetHSM.
	reqs := s.requests.Load()
	if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); !errors.Is(err, tokens.ErrOffline) {
		t.Errorf("a signer of before Close signs: %v, want ErrOffline", err)
	}
	if n := s.requests.Load() - reqs; n != 0 {
		t.Errorf("a signer of before Close sent %d requests to the NetHSM, want none", n)
	}
	tok.mu.Lock()
	cached := len(tok.publicKey)
	tok.mu.Unlock()
	if _, chained := tok.chains.Get("rsa2048", s.clock.Now()); cached != 0 || chained {
		t.Errorf("after Close the token still holds %d public keys, a chain: %v", cached, chained)
	}
	if n := s.newConns.Load(); n != conns {
		t.Fatalf("%d connections opened after Close, want none", n-conns)
	}
	if err := tok.Activate(ctx, opPass); err != nil {
		t.Fatal(err)
	}
	if s.newConns.Load() == conns {
		t.Error("the token's idle connection served it after Close: want it closed")
	}
}

// TestWrongSignatureRefused: a NetHSM that answers a signature that does
// not verify (another key's, over another digest, zeros) gets an error
// wrapping remote.ErrBadSignature, and no signature leaves.
func TestWrongSignatureRefused(t *testing.T) {
	keys := nethsmtest.TestKeys(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("document"))
	elsewhere := sha256.Sum256([]byte("another document"))
	cases := []struct {
		name, alias string
		sig         func() []byte
	}{
		{"another key's ECDSA signature", "p256", func() []byte { s, _ := ecdsa.SignASN1(rand.Reader, other, d[:]); return s }},
		{"an ECDSA signature over another digest", "p256", func() []byte {
			s, _ := keys["p256"].Sign(rand.Reader, elsewhere[:], crypto.SHA256)
			return s
		}},
		{"an r||s of zeros", "p256", func() []byte { return make([]byte, 64) }},
		{"an RSA signature over another digest", "rsa2048", func() []byte {
			s, _ := keys["rsa2048"].Sign(rand.Reader, elsewhere[:], crypto.SHA256)
			return s
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"signature":"` + base64.StdEncoding.EncodeToString(tc.sig()) + `"}`))
			}))
			defer srv.Close()
			tok, err := New(Options{Name: "w", URL: srv.URL, User: opUser, Passphrase: opPass, ProbeInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			tok.health.SetStatus(tokens.Status{State: tokens.Active}, time.Now())
			sg := &signer{t: tok, ctx: context.Background(), id: tc.alias, pub: keys[tc.alias].Public()}
			sig, err := sg.Sign(rand.Reader, d[:], crypto.SHA256)
			if sig != nil || !errors.Is(err, remote.ErrBadSignature) {
				t.Errorf("Sign = %x, %v; want no signature and ErrBadSignature", sig, err)
			}
		})
	}
}

// TestWrongPassphraseKeepsActiveToken: Activate with a passphrase the
// NetHSM refuses on an Active token is ErrBadPIN and changes nothing: the
// token stays Active with the passphrase it had and signs. It used to
// forget the working passphrase first, so a typo took the token Offline.
func TestWrongPassphraseKeepsActiveToken(t *testing.T) {
	s := newHSM(t)
	tok, _ := newToken(t, s, Options{})
	ctx := context.Background()
	if err := tok.Activate(ctx, opPass); err != nil {
		t.Fatal(err)
	}
	if err := tok.Activate(ctx, "wrong-passphrase"); !errors.Is(err, tokens.ErrBadPIN) {
		t.Fatalf("Activate with a wrong passphrase = %v, want ErrBadPIN", err)
	}
	if st := tok.Status(ctx); st.State != tokens.Active {
		t.Fatalf("after a wrong passphrase: status %v %s, want ACTIVE", st.State, st.Reason)
	}
	remotetest.SignAllVerified(t, tok, "p256", s256Key(t), 2)
}

// TestKeyReplaced: a key made again on the NetHSM under its ID (a
// rotation) signs with its new key; the token, which cached the old public
// key, refuses the first signature that does not verify with it and reads
// the public key again, so the next signer signs and verifies with the new
// key, instead of failing until the token is activated again.
func TestKeyReplaced(t *testing.T) {
	old := nethsmtest.TestKeys(t)["p256"]
	rotated, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rotated.PublicKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/public.pem"):
			w.Header().Set("Content-Type", "application/x-pem-file")
			pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
		case strings.HasSuffix(r.URL.Path, "/sign"):
			var req struct{ Message []byte }
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			sig, _ := ecdsa.SignASN1(rand.Reader, rotated, req.Message)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string][]byte{"signature": sig})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tok, err := New(Options{Name: "k", URL: srv.URL, User: opUser, Passphrase: opPass, ProbeInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok.health.SetStatus(tokens.Status{State: tokens.Active}, time.Now())
	tok.mu.Lock()
	tok.publicKey["p256"] = old.Public() // what the token read before the rotation
	tok.mu.Unlock()
	d := sha256.Sum256([]byte("document"))
	sign := func() ([]byte, error) {
		sg, err := tok.Signer(t.Context(), "p256")
		if err != nil {
			return nil, err
		}
		return sg.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	if _, err := sign(); !errors.Is(err, remote.ErrBadSignature) {
		t.Fatalf("first signature after the rotation: %v, want ErrBadSignature", err)
	}
	sig, err := sign()
	if err != nil || !ecdsa.VerifyASN1(&rotated.PublicKey, d[:], sig) {
		t.Fatalf("second signature after the rotation: %v", err)
	}
}
