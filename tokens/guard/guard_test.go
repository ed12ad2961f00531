package guard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
)

// testToken holds one ECDSA key and, optionally, its certificate.
type testToken struct {
	key   *ecdsa.PrivateKey
	chain []*x509.Certificate
	signs atomic.Int64
}

func (f *testToken) Name() string                                   { return "t" }
func (f *testToken) Status(context.Context) tokens.Status           { return tokens.Status{State: tokens.Active} }
func (f *testToken) Activate(context.Context, string) error         { return nil }
func (f *testToken) Deactivate(context.Context) error               { return nil }
func (f *testToken) Keys(context.Context) ([]tokens.KeyInfo, error) { return nil, nil }
func (f *testToken) Signer(context.Context, string) (crypto.Signer, error) {
	return countingSigner{f.key, &f.signs}, nil
}
func (f *testToken) Chain(context.Context, string) ([]*x509.Certificate, error) { return f.chain, nil }

type countingSigner struct {
	*ecdsa.PrivateKey
	n *atomic.Int64
}

func (s countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.PrivateKey.Sign(rand.Reader, d, o)
}

func newTestToken(t *testing.T, notBefore, notAfter time.Time, exts ...pkix.Extension) *testToken {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tt := &testToken{key: k}
	if notAfter.IsZero() {
		return tt
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: notBefore, NotAfter: notAfter, ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	tt.chain = []*x509.Certificate{c}
	return tt
}

var digest = func() []byte { s := sha256.Sum256([]byte("doc")); return s[:] }()

func TestUsageLimitAcrossSignersAndBatches(t *testing.T) {
	t.Parallel()
	const limit = 25
	path := filepath.Join(t.TempDir(), "state.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	inner := newTestToken(t, time.Time{}, time.Time{})
	g := &Guard{Counters: store, Log: store}
	pol := func(string) Policy { p := DefaultPolicy; p.UsageLimit = limit; return p }
	// Two wrappings of one token (two workers, a vendor API) share the count.
	a, b := g.Wrap(inner, pol), g.Wrap(inner, pol)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			ctx := tokens.WithCaller(t.Context(), tokens.Caller{Surface: "test", User: "u"})
			tok := a
			if i%2 == 1 {
				tok = b
			}
			var err error
			if i%3 == 0 {
				var res []tokens.Result
				res, err = tokens.SignAll(ctx, tok, "k", [][]byte{digest, digest}, crypto.SHA256)
				if err == nil {
					ok.Add(int64(len(res)))
					return
				}
			} else {
				var s crypto.Signer
				if s, err = tok.Signer(ctx, "k"); err == nil {
					if _, err = s.Sign(rand.Reader, digest, crypto.SHA256); err == nil {
						ok.Add(1)
						return
					}
				}
			}
			if !errors.Is(err, tokens.ErrUsageLimit) {
				t.Errorf("refusal %v does not wrap ErrUsageLimit", err)
			}
			refused.Add(1)
		})
	}
	wg.Wait()
	if ok.Load() > limit || inner.signs.Load() != ok.Load() {
		t.Fatalf("%d signatures handed out, %d made; limit %d", ok.Load(), inner.signs.Load(), limit)
	}
	if ok.Load() < limit-1 { // a refused batch of two may leave one
		t.Fatalf("only %d signatures of %d", ok.Load(), limit)
	}
	store.Close()
	// After a restart the count holds.
	store, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g = &Guard{Counters: store, Log: store}
	c := g.Wrap(inner, pol).(*Token)
	if n, _ := c.Count(t.Context(), "k"); n != ok.Load() {
		t.Fatalf("count after restart %d, want %d", n, ok.Load())
	}
	recs, _ := store.Search(t.Context(), state.SignQuery{Limit: 1000})
	var okRecs, refRecs int64
	for _, r := range recs {
		if r.Result == "ok" {
			okRecs += int64(len(r.Hashes))
		} else {
			refRecs++
		}
		if r.User != "u" || r.Surface != "test" || r.KeyID == "" || r.DigestAlg != "SHA-256" {
			t.Fatalf("record %+v", r)
		}
	}
	if okRecs != ok.Load() || refRecs != refused.Load() {
		t.Fatalf("signing log: %d signatures, %d refusals; want %d and %d", okRecs, refRecs, ok.Load(), refused.Load())
	}
	found, _ := store.Search(t.Context(), state.SignQuery{Hash: hex.EncodeToString(digest), Limit: 1000})
	if len(found) != len(recs) {
		t.Fatalf("search by hash found %d of %d", len(found), len(recs))
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	pkup := func(nb, na time.Time) pkix.Extension {
		v, _ := asn1.Marshal(privateKeyUsagePeriod{NotBefore: nb.UTC(), NotAfter: na.UTC()})
		return pkix.Extension{Id: oidPrivateKeyUsagePeriod, Value: v}
	}
	sha1sum := sha1.Sum([]byte("doc"))
	tests := []struct {
		name   string
		tok    *testToken
		pol    func(*Policy)
		caller tokens.Caller
		digest []byte
		opts   crypto.SignerOpts
		want   error
	}{
		{"valid", newTestToken(t, now.Add(-time.Hour), now.Add(time.Hour)), nil, tokens.Caller{}, digest, crypto.SHA256, nil},
		{"no certificate", newTestToken(t, time.Time{}, time.Time{}), nil, tokens.Caller{}, digest, crypto.SHA256, nil},
		{"expired", newTestToken(t, now.Add(-2*time.Hour), now.Add(-time.Hour)), nil, tokens.Caller{}, digest, crypto.SHA256, tokens.ErrCertificateValidity},
		{"expired, check off", newTestToken(t, now.Add(-2*time.Hour), now.Add(-time.Hour)), func(p *Policy) { p.CheckCertValidity = false }, tokens.Caller{}, digest, crypto.SHA256, nil},
		{"not yet valid", newTestToken(t, now.Add(time.Hour), now.Add(2*time.Hour)), nil, tokens.Caller{}, digest, crypto.SHA256, tokens.ErrCertificateValidity},
		{"private key period over", newTestToken(t, now.Add(-2*time.Hour), now.Add(time.Hour), pkup(now.Add(-2*time.Hour), now.Add(-time.Hour))), nil, tokens.Caller{}, digest, crypto.SHA256, tokens.ErrCertificateValidity},
		{"private key period over, check off", newTestToken(t, now.Add(-2*time.Hour), now.Add(time.Hour), pkup(now.Add(-2*time.Hour), now.Add(-time.Hour))), func(p *Policy) { p.CheckPrivateKeyValidity = false }, tokens.Caller{}, digest, crypto.SHA256, nil},
		{"too little validity left", newTestToken(t, now.Add(-time.Hour), now.Add(24*time.Hour)), func(p *Policy) { p.MinRemaining = 2 * 24 * time.Hour }, tokens.Caller{}, digest, crypto.SHA256, tokens.ErrCertificateValidity},
		{"SHA-1", newTestToken(t, time.Time{}, time.Time{}), nil, tokens.Caller{}, sha1sum[:], crypto.SHA1, tokens.ErrWeakHash},
		{"SHA-1 allowed", newTestToken(t, time.Time{}, time.Time{}), nil, tokens.Caller{AllowSHA1: true}, sha1sum[:], crypto.SHA1, nil},
		{"MD5 even when SHA-1 is allowed", newTestToken(t, time.Time{}, time.Time{}), nil, tokens.Caller{AllowSHA1: true}, make([]byte, 16), crypto.MD5, tokens.ErrWeakHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &state.MemoryLog{}
			g := &Guard{Counters: state.NewMemoryCounters(), Log: log}
			p := DefaultPolicy
			if tt.pol != nil {
				tt.pol(&p)
			}
			tok := g.Wrap(tt.tok, func(string) Policy { return p })
			ctx := tokens.WithCaller(t.Context(), tt.caller)
			s, err := tok.Signer(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Sign(rand.Reader, tt.digest, tt.opts)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
			if tt.want != nil && tt.tok.signs.Load() != 0 {
				t.Fatal("a refused signature was made")
			}
			recs, _ := log.Search(t.Context(), state.SignQuery{})
			if len(recs) != 1 || (recs[0].Result == "ok") != (tt.want == nil) {
				t.Fatalf("signing log %+v", recs)
			}
			if ck := tok.(tokens.KeyChecker).CheckKey(t.Context(), "k"); tt.want == tokens.ErrCertificateValidity && !errors.Is(ck, tt.want) {
				t.Fatalf("CheckKey = %v, want %v", ck, tt.want)
			}
		})
	}
}

// failingToken signs as testToken but fails every input that begins with
// 0xff, as an HSM fails one item of a batch.
type failingToken struct{ *testToken }

func (f failingToken) Signer(context.Context, string) (crypto.Signer, error) {
	return failingSigner{countingSigner{f.key, &f.signs}}, nil
}

type failingSigner struct{ countingSigner }

func (s failingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if len(d) > 0 && d[0] == 0xff {
		return nil, errors.New("the HSM failed this item")
	}
	return s.countingSigner.Sign(r, d, o)
}

// TestBatchPartlyFailed: a batch of which some items fail hands out the
// others' signatures (the DSM batch API answers per item), so the signing
// log records those as signed and only the failed ones as refused: one
// record of the whole batch, "refused", left the signatures that left
// unrecorded, and a search by a signed document's hash found a refusal.
func TestBatchPartlyFailed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		docs bool // the caller names the documents behind the inputs
	}{{"digests", false}, {"documents", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &state.MemoryLog{}
			g := &Guard{Counters: state.NewMemoryCounters(), Log: log}
			tok := g.Wrap(failingToken{newTestToken(t, time.Time{}, time.Time{})}, nil)
			good1, good2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("three"))
			bad := make([]byte, 32)
			bad[0] = 0xff
			in := [][]byte{good1[:], bad, good2[:]}
			c := tokens.Caller{Surface: "dsm", User: "u"}
			hashOf := func(i int) string { return hex.EncodeToString(in[i]) }
			if tt.docs {
				docs := [][]byte{{1, 1}, {2, 2}, {3, 3}}
				c.Documents, c.DocumentHash = docs, crypto.SHA256
				hashOf = func(i int) string { return hex.EncodeToString(docs[i]) }
			}
			res, err := tokens.SignAll(tokens.WithCaller(t.Context(), c), tok, "k", in, crypto.SHA256)
			if err != nil || res[0].Err != nil || res[1].Err == nil || res[2].Err != nil {
				t.Fatalf("SignAll = %+v, %v", res, err)
			}
			for i, want := range []string{"ok", "refused", "ok"} {
				recs, err := log.Search(t.Context(), state.SignQuery{Hash: hashOf(i)})
				if err != nil || len(recs) != 1 || !strings.HasPrefix(recs[0].Result, want) {
					t.Errorf("item %d: records %+v (%v), want one %q", i, recs, err, want)
				}
			}
		})
	}
}

// TestRenewalSkipsCertificateChecks: the key's certificate signing request
// (Caller.Renewal, the admin API's CSR) is signed although the key's
// certificate expired or is within MINREMAININGCERTVALIDITY of its end:
// that is when the key needs a new one, and the checks refused the CSR
// that would fix them ("renew it"). It is counted and recorded, and the
// usage limit still applies.
func TestRenewalSkipsCertificateChecks(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name string
		tok  *testToken
		pol  func(*Policy)
		want error
	}{
		{"expired", newTestToken(t, now.Add(-2*time.Hour), now.Add(-time.Hour)), nil, nil},
		{"too little validity left", newTestToken(t, now.Add(-time.Hour), now.Add(24*time.Hour)), func(p *Policy) { p.MinRemaining = 2 * 24 * time.Hour }, nil},
		{"usage limit reached", newTestToken(t, now.Add(-time.Hour), now.Add(time.Hour)), func(p *Policy) { p.UsageLimit = 0 }, tokens.ErrUsageLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &state.MemoryLog{}
			counters := state.NewMemoryCounters()
			g := &Guard{Counters: counters, Log: log}
			p := DefaultPolicy
			if tt.pol != nil {
				tt.pol(&p)
			}
			tok := g.Wrap(tt.tok, func(string) Policy { return p })
			ctx := tokens.WithCaller(t.Context(), tokens.Caller{Surface: "admin/csr", User: "admin", Renewal: true})
			s, err := tok.Signer(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Sign(rand.Reader, digest, crypto.SHA256)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
			recs, _ := log.Search(t.Context(), state.SignQuery{})
			if len(recs) != 1 || (recs[0].Result == "ok") != (tt.want == nil) || recs[0].Surface != "admin/csr" {
				t.Fatalf("signing log %+v", recs)
			}
			if n, _ := tok.(*Token).Count(t.Context(), "k"); tt.want == nil && n != 1 {
				t.Fatalf("counted %d, want 1", n)
			}
		})
	}
}

// gateLog is a signing log whose Record first calls before.
type gateLog struct {
	state.MemoryLog
	before func()
}

func (l *gateLog) Record(ctx context.Context, r state.SignRecord) (state.SignRecord, error) {
	l.before()
	return l.MemoryLog.Record(ctx, r)
}

// TestSignedBeforeRecord: a batch's signatures reach the caller's
// SignTrace.Signed before they are recorded, so that its work on them (the
// answer) runs while the record is committed; what SignAll returns is what
// Signed saw, and a batch the log refuses still fails.
func TestSignedBeforeRecord(t *testing.T) {
	t.Parallel()
	var seen []tokens.Result
	log := &gateLog{}
	log.before = func() {
		if seen == nil {
			t.Error("the signatures were recorded before Signed saw them")
		}
	}
	g := &Guard{Counters: state.NewMemoryCounters(), Log: log}
	tok := g.Wrap(newTestToken(t, time.Time{}, time.Time{}), func(string) Policy { return Policy{UsageLimit: 100} })
	ctx := tokens.WithSignTrace(t.Context(), &tokens.SignTrace{Signed: func(res []tokens.Result) { seen = res }})
	in := [][]byte{digest, digest, digest}
	res, err := tokens.SignAll(ctx, tok, "k", in, crypto.SHA256)
	if err != nil || len(res) != 3 {
		t.Fatalf("SignAll: %d results, %v", len(res), err)
	}
	if len(seen) != 3 || &seen[0] != &res[0] {
		t.Errorf("Signed saw %d results, not those SignAll returned", len(seen))
	}

	seen = nil
	failing := &failLog{}
	g = &Guard{Counters: state.NewMemoryCounters(), Log: failing}
	tok = g.Wrap(newTestToken(t, time.Time{}, time.Time{}), func(string) Policy { return Policy{UsageLimit: 100} })
	if res, err := tokens.SignAll(ctx, tok, "k", in, crypto.SHA256); err == nil {
		t.Errorf("SignAll with a log that fails = %d results, no error", len(res))
	}
	if len(seen) != 3 {
		t.Errorf("Signed saw %d results, want them before the record failed", len(seen))
	}
}

// failLog refuses every record.
type failLog struct{ state.MemoryLog }

func (*failLog) Record(context.Context, state.SignRecord) (state.SignRecord, error) {
	return state.SignRecord{}, errors.New("disk full")
}

// failCounters fails every Reserve with err, as a store that cannot write
// or reach its database does.
type failCounters struct{ err error }

func (c failCounters) Reserve(context.Context, string, int64, int64) (int64, error) { return 0, c.err }
func (failCounters) Count(context.Context, string) (int64, error)                   { return 0, nil }

// unhealthyLog is a signing log whose store reports health, and whose
// Record fails with its health's error while it has one.
type unhealthyLog struct {
	state.MemoryLog
	err error
}

func (l *unhealthyLog) Health() error { return l.err }

func (l *unhealthyLog) Record(ctx context.Context, r state.SignRecord) (state.SignRecord, error) {
	if l.err != nil {
		return r, l.err
	}
	return l.MemoryLog.Record(ctx, r)
}

// TestStateFails: a key whose usage cannot be counted, or whose signature
// cannot be recorded, signs nothing, and says so with an error every
// surface knows (tokens.ErrNotCounted, tokens.ErrNotRecorded: a 503),
// keeping the state's own error (a state.WriteError names the cause for
// the client). A usage counter's failure of its own (SQLite's "database
// or disk is full") came back as it was: no token error at all, which the
// key APIs answered 500. A key with a limit is refused before it signs
// while the signing log's store is unhealthy (it was signed, counted,
// then refused), and CheckKey, which the workers' status asks, says why.
func TestStateFails(t *testing.T) {
	t.Parallel()
	full := &state.WriteError{Msg: "the state database cannot be written: the disk of the data folder is full: free space on it", Err: errors.New("database or disk is full (13)")}
	tests := []struct {
		name      string
		counters  state.Counters
		log       state.SigningLog
		limit     int64
		want      []error // what the error is; nil: it signs
		cause     bool    // the error holds full
		checkFail bool    // CheckKey fails
	}{
		{"count not stored", failCounters{fmt.Errorf("store the usage count of key k: %w", errors.New("database or disk is full (13)"))}, &state.MemoryLog{}, -1,
			[]error{tokens.ErrNotCounted, tokens.ErrOffline}, false, false},
		{"count not stored, disk full", failCounters{fmt.Errorf("store the usage count of key k: %w", full)}, &state.MemoryLog{}, 100,
			[]error{tokens.ErrNotCounted, tokens.ErrOffline, state.ErrUnavailable}, true, false},
		{"cluster database down", failCounters{fmt.Errorf("key k: %w", state.ErrUnavailable)}, &state.MemoryLog{}, 100,
			[]error{tokens.ErrNotCounted, tokens.ErrOffline, state.ErrUnavailable}, false, false},
		{"log unwritable, limited key", state.NewMemoryCounters(), &unhealthyLog{err: full}, 100,
			[]error{tokens.ErrNotRecorded, tokens.ErrOffline, state.ErrUnavailable}, true, true},
		{"log unwritable, unlimited key", state.NewMemoryCounters(), &unhealthyLog{err: full}, -1, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &Guard{Counters: tt.counters, Log: tt.log}
			inner := newTestToken(t, time.Time{}, time.Time{})
			tok := g.Wrap(inner, func(string) Policy { return Policy{UsageLimit: tt.limit} })
			for _, sign := range []func() error{
				func() error {
					s, err := tok.Signer(t.Context(), "k")
					if err == nil {
						_, err = s.Sign(rand.Reader, digest, crypto.SHA256)
					}
					return err
				},
				func() error {
					_, err := tokens.SignAll(t.Context(), tok, "k", [][]byte{digest, digest}, crypto.SHA256)
					return err
				},
			} {
				err := sign()
				if tt.want == nil {
					if err != nil {
						t.Errorf("signing: %v, want a signature", err)
					}
					continue
				}
				for _, w := range tt.want {
					if !errors.Is(err, w) {
						t.Errorf("signing: %v, want it to be %v", err, w)
					}
				}
				var we *state.WriteError
				if tt.cause != (errors.As(err, &we) && we == full) {
					t.Errorf("signing: %v; the state's WriteError in it: %v, want %v", err, !tt.cause, tt.cause)
				}
			}
			if tt.want != nil && inner.signs.Load() != 0 {
				t.Errorf("the key made %d signatures that could not be counted or recorded", inner.signs.Load())
			}
			if err := tok.(*Token).CheckKey(t.Context(), "k"); (err != nil) != tt.checkFail || tt.checkFail && !errors.Is(err, full) {
				t.Errorf("CheckKey: %v, want an error %v", err, tt.checkFail)
			}
		})
	}
}
