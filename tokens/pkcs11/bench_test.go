package pkcs11

import (
	"crypto"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/signet-project/signet/tokens"
)

// The two benchmarks sign the same batch of 200 SHA-256 digests with the
// SoftHSM2 key p256 from the same number of goroutines (the token's pool
// size): once through the token and tokens.SignAll, once with the crypto11
// signer called directly. Their ratio is the token's overhead.
const benchBatch = 200

func BenchmarkSignAllP256(b *testing.B) {
	tok := newToken(b, labelMain, Options{})
	in := digests(benchBatch, crypto.SHA256)
	for b.Loop() {
		res, err := tokens.SignAll(b.Context(), tok, "p256", in, crypto.SHA256)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/sig")
}

func BenchmarkRawCrypto11P256(b *testing.B) {
	p := New(Options{}).Parallelism()
	c, err := crypto11.Configure(&crypto11.Config{Path: hsm.module, TokenLabel: labelMain, Pin: testPIN, MaxSessions: p + 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	k, err := c.FindKeyPair(nil, []byte("p256"))
	if err != nil {
		b.Fatal(err)
	}
	in := digests(benchBatch, crypto.SHA256)
	signRaw(b, k, in, p)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/sig")
}

// signRaw signs every digest of in with k from p goroutines, once per
// benchmark iteration: the raw crypto11 baseline, with no Signet code.
func signRaw(b *testing.B, k crypto.Signer, in [][]byte, p int) {
	b.Helper()
	var failed atomic.Value
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range p {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(in) {
						return
					}
					if _, err := k.Sign(rand.Reader, in[i], crypto.SHA256); err != nil {
						failed.Store(err)
					}
				}
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
	}
}
