package tokens_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/tokens"
)

// fakeToken hands out one signer for every alias.
type fakeToken struct {
	signer    crypto.Signer
	signerErr error
}

func (f *fakeToken) Name() string { return "fake" }
func (f *fakeToken) Status(context.Context) tokens.Status {
	return tokens.Status{State: tokens.Active}
}
func (f *fakeToken) Activate(context.Context, string) error { return nil }
func (f *fakeToken) Deactivate(context.Context) error       { return nil }
func (f *fakeToken) Keys(context.Context) ([]tokens.KeyInfo, error) {
	return nil, nil
}
func (f *fakeToken) Signer(context.Context, string) (crypto.Signer, error) {
	if f.signerErr != nil {
		return nil, f.signerErr
	}
	return f.signer, nil
}
func (f *fakeToken) Chain(context.Context, string) ([]*x509.Certificate, error) {
	return nil, nil
}

// poolToken is a fakeToken that says how many signatures it computes at once.
type poolToken struct {
	fakeToken
	n int
}

func (p *poolToken) Parallelism() int { return p.n }

// batchToken is a fakeToken with a batch API. Its Signer must not be used.
type batchToken struct {
	fakeToken
	calls   atomic.Int32
	results func(inputs [][]byte) ([]tokens.Result, error)
}

func (b *batchToken) Signer(context.Context, string) (crypto.Signer, error) {
	return nil, errors.New("SignAll used Signer although the token has a batch API")
}

func (b *batchToken) SignBatch(ctx context.Context, alias string, inputs [][]byte, opts crypto.SignerOpts) ([]tokens.Result, error) {
	b.calls.Add(1)
	return b.results(inputs)
}

var errItem = errors.New("this item fails")

// fakeSigner "signs" an input by prefixing it, fails on the inputs fail
// chooses, and records how many Sign calls run at once.
type fakeSigner struct {
	fail  func(input []byte) bool
	onSig func(input []byte) // called inside Sign, may block
	cur   atomic.Int32
	max   atomic.Int32
}

func (f *fakeSigner) Public() crypto.PublicKey { return nil }

func (f *fakeSigner) Sign(_ io.Reader, input []byte, _ crypto.SignerOpts) ([]byte, error) {
	n := f.cur.Add(1)
	defer f.cur.Add(-1)
	for m := f.max.Load(); n > m && !f.max.CompareAndSwap(m, n); m = f.max.Load() {
	}
	if f.onSig != nil {
		f.onSig(input)
	}
	if f.fail != nil && f.fail(input) {
		return nil, errItem
	}
	return append([]byte("sig:"), input...), nil
}

// inputs makes n distinct inputs that carry their index.
func inputs(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = binary.BigEndian.AppendUint32(nil, uint32(i))
	}
	return out
}

func index(input []byte) int { return int(binary.BigEndian.Uint32(input)) }

func TestSignAllKeepsOrder(t *testing.T) {
	in := inputs(5000)
	for _, p := range []int{1, 3, 64} {
		t.Run(fmt.Sprint("parallelism ", p), func(t *testing.T) {
			tok := &poolToken{fakeToken{signer: &fakeSigner{onSig: func([]byte) { runtime.Gosched() }}}, p}
			res, err := tokens.SignAll(context.Background(), tok, "k", in, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(in) {
				t.Fatalf("%d results for %d inputs", len(res), len(in))
			}
			for i, r := range res {
				if r.Err != nil || !bytes.Equal(r.Signature, append([]byte("sig:"), in[i]...)) {
					t.Fatalf("result %d = %q, %v; want the signature of input %d", i, r.Signature, r.Err, i)
				}
			}
		})
	}
}

func TestSignAllItemErrors(t *testing.T) {
	failing := func(input []byte) bool { i := index(input); return i%7 == 3 || i == 0 }
	tok := &fakeToken{signer: &fakeSigner{fail: failing}}
	in := inputs(500)
	res, err := tokens.SignAll(context.Background(), tok, "k", in, crypto.SHA256)
	if err != nil {
		t.Fatalf("item failures must not fail the call: %v", err)
	}
	for i, r := range res {
		if failing(in[i]) {
			if !errors.Is(r.Err, errItem) || r.Signature != nil {
				t.Errorf("item %d: %q, %v; want its own error", i, r.Signature, r.Err)
			}
		} else if r.Err != nil || !bytes.Equal(r.Signature, append([]byte("sig:"), in[i]...)) {
			t.Errorf("item %d: %q, %v; want its signature", i, r.Signature, r.Err)
		}
	}
}

// gate holds the first Sign calls until want of them run at once, so a test
// sees whether SignAll reaches the parallelism it should. It gives up after
// a long time, only so that a broken SignAll fails instead of hanging.
type gate struct {
	want    int32
	in      atomic.Int32
	reached chan struct{}
	once    sync.Once
}

func newGate(want int) *gate { return &gate{want: int32(want), reached: make(chan struct{})} }

func (g *gate) wait([]byte) {
	if g.in.Add(1) == g.want {
		g.once.Do(func() { close(g.reached) })
	}
	select {
	case <-g.reached:
	case <-time.After(10 * time.Second):
	}
	runtime.Gosched()
}

func TestSignAllBoundedParallelism(t *testing.T) {
	// More processors than the token's pool, so that only Parallelism()
	// can hold SignAll to 3.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	for _, tc := range []struct {
		name string
		tok  func(s crypto.Signer) tokens.Token
		want int
	}{
		{"Parallelism 3", func(s crypto.Signer) tokens.Token { return &poolToken{fakeToken{signer: s}, 3} }, 3},
		{"Parallelism 1", func(s crypto.Signer) tokens.Token { return &poolToken{fakeToken{signer: s}, 1} }, 1},
		{"GOMAXPROCS without Parallelism", func(s crypto.Signer) tokens.Token { return &fakeToken{signer: s} }, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(tc.want)
			s := &fakeSigner{onSig: g.wait}
			res, err := tokens.SignAll(context.Background(), tc.tok(s), "k", inputs(300), crypto.SHA256)
			if err != nil || len(res) != 300 {
				t.Fatalf("SignAll: %d results, %v", len(res), err)
			}
			if got := s.max.Load(); got != int32(tc.want) {
				t.Errorf("at most %d signatures ran at once, want %d", got, tc.want)
			}
		})
	}
}

func TestSignAllBatchSigner(t *testing.T) {
	in := inputs(10)
	tok := &batchToken{results: func(inputs [][]byte) ([]tokens.Result, error) {
		out := make([]tokens.Result, len(inputs))
		for i, x := range inputs {
			if i == 4 {
				out[i].Err = errItem
				continue
			}
			out[i].Signature = append([]byte("batch:"), x...)
		}
		return out, nil
	}}
	res, err := tokens.SignAll(context.Background(), tok, "k", in, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if n := tok.calls.Load(); n != 1 {
		t.Errorf("SignBatch called %d times, want once", n)
	}
	for i, r := range res {
		if i == 4 {
			if !errors.Is(r.Err, errItem) {
				t.Errorf("item 4: %v, want the batch's item error", r.Err)
			}
		} else if r.Err != nil || !bytes.Equal(r.Signature, append([]byte("batch:"), in[i]...)) {
			t.Errorf("item %d: %q, %v; want the batch's signature", i, r.Signature, r.Err)
		}
	}
}

func TestSignAllBatchErrors(t *testing.T) {
	errWhole := errors.New("HSM unreachable")
	for _, tc := range []struct {
		name    string
		results func([][]byte) ([]tokens.Result, error)
		text    string
	}{
		{"too few results", func(in [][]byte) ([]tokens.Result, error) { return make([]tokens.Result, len(in)-1), nil }, "9 results for 10 inputs"},
		{"too many results", func(in [][]byte) ([]tokens.Result, error) { return make([]tokens.Result, len(in)+1), nil }, "11 results for 10 inputs"},
		{"whole call fails", func([][]byte) ([]tokens.Result, error) { return nil, errWhole }, errWhole.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := tokens.SignAll(context.Background(), &batchToken{results: tc.results}, "k", inputs(10), crypto.SHA256)
			if err == nil || !strings.Contains(err.Error(), tc.text) || res != nil {
				t.Errorf("SignAll = %d results, %v; want an error with %q", len(res), err, tc.text)
			}
		})
	}
	res, err := tokens.SignAll(context.Background(), &batchToken{results: func([][]byte) ([]tokens.Result, error) { return nil, errWhole }}, "k", inputs(1), crypto.SHA256)
	if !errors.Is(err, errWhole) || res != nil {
		t.Errorf("SignAll = %d results, %v; want the batch error wrapped", len(res), err)
	}
}

func TestSignAllWholeCallErrors(t *testing.T) {
	offline := fmt.Errorf("token fake: %w", tokens.ErrOffline)
	res, err := tokens.SignAll(context.Background(), &fakeToken{signerErr: offline}, "k", inputs(3), crypto.SHA256)
	if !errors.Is(err, tokens.ErrOffline) || res != nil {
		t.Errorf("SignAll on an offline token = %d results, %v; want ErrOffline", len(res), err)
	}
	res, err = tokens.SignAll(context.Background(), &fakeToken{signerErr: offline}, "k", nil, crypto.SHA256)
	if err != nil || res != nil {
		t.Errorf("SignAll of no inputs = %d results, %v; want nothing", len(res), err)
	}
}

func TestSignAllCancelled(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		batch := &batchToken{results: func([][]byte) ([]tokens.Result, error) { return nil, nil }}
		for _, tok := range []tokens.Token{&fakeToken{signer: &fakeSigner{}}, batch} {
			res, err := tokens.SignAll(ctx, tok, "k", inputs(5), crypto.SHA256)
			if !errors.Is(err, context.Canceled) || res != nil {
				t.Errorf("%T: SignAll with a cancelled context = %d results, %v", tok, len(res), err)
			}
		}
		if batch.calls.Load() != 0 {
			t.Error("SignBatch called with a cancelled context")
		}
	})
	t.Run("during", func(t *testing.T) {
		// One at a time, cancelled while item 5 is signed: items up to 5 are
		// signed, the others carry the context's error.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := &fakeSigner{onSig: func(input []byte) {
			if index(input) == 5 {
				cancel()
			}
		}}
		res, err := tokens.SignAll(ctx, &poolToken{fakeToken{signer: s}, 1}, "k", inputs(20), crypto.SHA256)
		if err != nil {
			t.Fatalf("SignAll: %v; item results carry the cancellation", err)
		}
		for i, r := range res {
			if i <= 5 && r.Err != nil {
				t.Errorf("item %d signed before the cancel: %v", i, r.Err)
			}
			if i > 5 && (!errors.Is(r.Err, context.Canceled) || r.Signature != nil) {
				t.Errorf("item %d after the cancel: %q, %v; want context.Canceled", i, r.Signature, r.Err)
			}
		}
	})
}

// TestSignAllECDSA signs real digests and verifies them.
func TestSignAllECDSA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digests := benchDigests(100)
	res, err := tokens.SignAll(context.Background(), &fakeToken{signer: key}, "k", digests, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || !ecdsa.VerifyASN1(&key.PublicKey, digests[i], r.Signature) {
			t.Errorf("item %d: %v, or the signature does not verify", i, r.Err)
		}
	}
}

func benchDigests(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		d := sha256.Sum256(fmt.Appendf(nil, "document %d", i))
		out[i] = d[:]
	}
	return out
}

// BenchmarkSignAll measures SignAll's overhead over BenchmarkRawECDSA, which
// signs the same digests on the same number of goroutines directly.
func BenchmarkSignAll(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tok := &fakeToken{signer: key}
	digests := benchDigests(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.SignAll(ctx, tok, "k", digests, crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawECDSA is the baseline for BenchmarkSignAll: GOMAXPROCS
// goroutines sign 1000 digests with ecdsa.SignASN1.
func BenchmarkRawECDSA(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digests := benchDigests(1000)
	p := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	for b.Loop() {
		sigs := make([][]byte, len(digests))
		var wg sync.WaitGroup
		for g := range p {
			wg.Go(func() {
				for i := g; i < len(digests); i += p {
					sig, err := ecdsa.SignASN1(rand.Reader, key, digests[i])
					if err != nil {
						b.Error(err)
						return
					}
					sigs[i] = sig
				}
			})
		}
		wg.Wait()
	}
}

// SignTrace's SignerDone is called once by each goroutine that signs, as
// it runs out of items, while the others may still be signing; a token
// that signs the batch itself calls none.
func TestSignTraceSignerDone(t *testing.T) {
	batch := &batchToken{results: func(inputs [][]byte) ([]tokens.Result, error) {
		return make([]tokens.Result, len(inputs)), nil
	}}
	for _, tc := range []struct {
		name string
		tok  tokens.Token
		want int32
	}{
		{"parallelism 1", &poolToken{fakeToken{signer: &fakeSigner{}}, 1}, 1},
		{"parallelism 3", &poolToken{fakeToken{signer: &fakeSigner{}}, 3}, 3},
		{"batch signer", batch, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			ctx := tokens.WithSignTrace(context.Background(), &tokens.SignTrace{SignerDone: func() { calls.Add(1) }})
			res, err := tokens.SignAll(ctx, tc.tok, "k", inputs(100), crypto.SHA256)
			if err != nil || len(res) != 100 {
				t.Fatalf("SignAll: %d results, %v", len(res), err)
			}
			if got := calls.Load(); got != tc.want {
				t.Errorf("SignerDone called %d times, want %d", got, tc.want)
			}
		})
	}
	t.Run("before the last item is signed", func(t *testing.T) {
		// The second item's signature waits for a SignerDone: the
		// goroutine that did not take it must call it without waiting.
		first := make(chan struct{})
		var once sync.Once
		s := &fakeSigner{onSig: func(input []byte) {
			if index(input) == 1 {
				select {
				case <-first:
				case <-time.After(10 * time.Second):
					t.Error("no SignerDone while an item was signing")
				}
			}
		}}
		ctx := tokens.WithSignTrace(context.Background(), &tokens.SignTrace{SignerDone: func() { once.Do(func() { close(first) }) }})
		if res, err := tokens.SignAll(ctx, &poolToken{fakeToken{signer: s}, 2}, "k", inputs(2), crypto.SHA256); err != nil || len(res) != 2 {
			t.Fatalf("SignAll: %d results, %v", len(res), err)
		}
	})
}

// A nil SignTrace in the context is no trace.
func TestSignTraceNil(t *testing.T) {
	ctx := tokens.WithSignTrace(context.Background(), nil)
	if res, err := tokens.SignAll(ctx, &poolToken{fakeToken{signer: &fakeSigner{}}, 2}, "k", inputs(4), crypto.SHA256); err != nil || len(res) != 4 {
		t.Fatalf("SignAll with a nil trace: %d results, %v", len(res), err)
	}
	tokens.TraceSigned(ctx, nil)
}
