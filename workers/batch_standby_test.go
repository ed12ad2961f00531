package workers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// TestLargeBatchFailsWithoutLeftovers: a batch large enough for standby
// helpers (started as its signing goroutines run out of items, given the
// answer while the guard records) that fails however it fails answers the
// failure's sentence, not an answer begun meanwhile, and leaves none of
// them behind, whatever signs it.
func TestLargeBatchFailsWithoutLeftovers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // three helpers at most
	const n = 300
	limited := "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\nKEYUSAGELIMIT: "
	const itemFailed = `failed: Signing with key "k" of worker W failed: the HSM refused`
	for _, tc := range []struct {
		name   string
		par    int              // the token's Parallelism; 0: GOMAXPROCS
		batch  bool             // the token is a BatchSigner
		limit  int              // KEYUSAGELIMIT
		log    state.SigningLog // nil: one that stores every record
		onSign func(k int64, cancel func()) error
		want   string // in the error, or "panic: " and the token's panic
	}{
		{name: "an item fails", limit: n, onSign: failAt(150), want: itemFailed},
		{name: "an item fails, one at a time", par: 1, limit: n, onSign: failAt(150), want: itemFailed},
		{name: "an item fails in a batch signer", batch: true, limit: n, onSign: failAt(150), want: itemFailed},
		{name: "cancelled mid-batch", par: 16, limit: n, onSign: func(k int64, cancel func()) error {
			if k == 100 {
				cancel()
			}
			return nil
		}, want: "The request was cancelled before it was signed."},
		{name: "the token panics", par: 1, limit: n, onSign: func(k int64, _ func()) error {
			if k == 150 {
				panic("token panics")
			}
			return nil
		}, want: "panic: token panics"},
		{name: "the key's limit refuses", limit: n - 1, want: `Key usage limit exceeded for key "k" of worker W`},
		// The answer was begun while the signatures were being recorded.
		{name: "the signing log refuses", limit: n, log: &refusingLog{}, want: "Worker W cannot sign now: the signing log could not record the signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ht := &hookToken{Token: f.tok.Token, par: tc.par}
			if tc.onSign != nil {
				ht.onSign = func(k int64) error { return tc.onSign(k, cancel) }
			}
			var tok tokens.Token = ht
			if tc.batch {
				tok = hookBatchToken{ht}
			}
			log := tc.log
			if log == nil {
				log = &state.MemoryLog{}
			}
			w := hookWorker(t, tok, &guard.Guard{Counters: state.NewMemoryCounters(), Log: log}, limited+fmt.Sprint(tc.limit))
			body := batchJSON(reviewItems(n)...)
			before := runtime.NumGoroutine()
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				resp, err := w.Process(ctx, &workers.Request{Data: bytes.NewReader(body), Size: int64(len(body))})
				if err == nil {
					t.Errorf("answered %d bytes", len(resp.Data))
				}
				return err
			}()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("a failing batch: %v, want %q", err, tc.want)
			}
			workers.WaitGoroutines(t, before)
		})
	}
}

// refusingLog is a signing log that stores nothing.
type refusingLog struct{ state.MemoryLog }

func (*refusingLog) Record(context.Context, state.SignRecord) (state.SignRecord, error) {
	return state.SignRecord{}, errors.New("disk full")
}

// failAt returns an onSign whose k-th signature fails.
func failAt(k int64) func(int64, func()) error {
	return func(i int64, _ func()) error {
		if i == k {
			return errors.New("the HSM refused")
		}
		return nil
	}
}

func reviewItems(n int) []workers.BatchItem {
	items := make([]workers.BatchItem, n)
	for i := range items {
		items[i] = digestItem(fmt.Sprint("d", i), "SHA-256", crypto.SHA256, fmt.Sprint(i))
	}
	return items
}

// hookToken calls onSign before each signature (the k-th of the token,
// from 1), and says its Parallelism.
type hookToken struct {
	tokens.Token
	par    int
	onSign func(k int64) error
	n      atomic.Int64
}

func (t *hookToken) Parallelism() int { return t.par }

func (t *hookToken) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	s, err := t.Token.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return hookSigner{s, t}, nil
}

type hookSigner struct {
	crypto.Signer
	t *hookToken
}

func (s hookSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if k := s.t.n.Add(1); s.t.onSign != nil {
		if err := s.t.onSign(k); err != nil {
			return nil, err
		}
	}
	return s.Signer.Sign(r, d, o)
}

// hookBatchToken is a hookToken that signs a batch itself, on one
// goroutine.
type hookBatchToken struct{ *hookToken }

func (t hookBatchToken) SignBatch(ctx context.Context, alias string, in [][]byte, o crypto.SignerOpts) ([]tokens.Result, error) {
	s, err := t.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	res := make([]tokens.Result, len(in))
	for i, d := range in {
		res[i].Signature, res[i].Err = s.Sign(rand.Reader, d, o)
	}
	return res, nil
}

// hookWorker builds one CAdESSigner with props over tok, guarded by g.
func hookWorker(t *testing.T, tok tokens.Token, g tokens.KeyGuard, props string) workers.Worker {
	t.Helper()
	y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n  - name: W\n    id: 1\n    kind: CAdESSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n"
	for _, l := range strings.Split(props, "\n") {
		y += "      " + l + "\n"
	}
	cfg, err := config.Parse(t.TempDir()+"/w.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	w, err := workers.Build(context.Background(), cfg, workers.BuildOptions{
		Open:  func(context.Context, config.Token) (tokens.Token, error) { return tok, nil },
		Guard: g,
	}).Lookup("W")
	if err != nil {
		t.Fatal(err)
	}
	return w
}
