package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// The make bench pair pipelineBatchPKCS11P256: a 1000-item CAdES batch
// through a worker on a SoftHSM2 ECDSA P-256 key (batch JSON in, CMS
// encoding, key usage counted in a SQLite state database, batch JSON out),
// against the same 1000 digests signed with the crypto11 signer directly
// from as many goroutines as the token's pool size.
const (
	suiteBatch = 1000
	suiteAlias = "suite-p256"
)

// suiteKey makes the key suiteAlias with a certificate in the main test
// token, removed when the benchmark ends.
func suiteKey(b *testing.B, tok *Token) {
	b.Helper()
	ctx := context.Background()
	pub, err := tok.GenerateKey(ctx, suiteAlias, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tok.RemoveKey(context.Background(), suiteAlias) })
	ca, err := demo.NewCA("Bench CA")
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.Issue("bench signer", pub, demo.DocumentSigning, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	if err := tok.ImportChain(ctx, suiteAlias, []*x509.Certificate{cert, ca.Cert}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSuite_pipelineBatchPKCS11P256(b *testing.B) {
	tok := newToken(b, labelMain, Options{Name: "bench"})
	suiteKey(b, tok)
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	y := fmt.Sprintf(`tokens:
  - name: bench
    type: pkcs11
    properties: {SHAREDLIBRARYNAME: %s, SLOTLABELTYPE: SLOT_LABEL, SLOTLABELVALUE: %s}
workers:
  - {name: W, id: 1, kind: CAdESSigner, token: bench, key: %s, properties: {AUTHTYPE: NOAUTH, BATCHSIGNING: true, CLIENTSIDEHASHING: true, DETACHEDSIGNATURE: true, ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256, MAX_BATCH_SIZE: %d}}
`, hsm.module, labelMain, suiteAlias, suiteBatch)
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "bench.yaml"), []byte(y))
	if err != nil {
		b.Fatal(err)
	}
	set := workers.Build(b.Context(), cfg, workers.BuildOptions{
		Open:  func(context.Context, config.Token) (tokens.Token, error) { return tok, nil },
		Guard: &guard.Guard{Counters: store},
	})
	w, err := set.Lookup("W")
	if err != nil {
		b.Fatal(err)
	}
	var req workers.BatchRequest
	for i, d := range digests(suiteBatch, crypto.SHA256) {
		req.SignatureRequests = append(req.SignatureRequests, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(d), HashingAlgorithm: "SHA-256", CustomIdentifier: fmt.Sprint(i)})
	}
	body, _ := json.Marshal(req)
	// Warm up outside the timing: the first request reads the key's chain
	// from the token, which SoftHSM2 makes slow.
	if _, err := w.Process(b.Context(), &workers.Request{Data: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := w.Process(b.Context(), &workers.Request{Data: bytes.NewReader(body), Size: int64(len(body))})
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Data) < suiteBatch*500 {
			b.Fatalf("a batch answer of %d bytes for %d signatures", len(resp.Data), suiteBatch)
		}
	}
	b.ReportMetric(float64(b.N*suiteBatch)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkSuite_pipelineBatchPKCS11P256_baseline(b *testing.B) {
	tok := newToken(b, labelMain, Options{Name: "bench"})
	suiteKey(b, tok)
	p := tok.Parallelism()
	c, err := crypto11.Configure(&crypto11.Config{Path: hsm.module, TokenLabel: labelMain, Pin: testPIN, MaxSessions: p + 1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	k, err := c.FindKeyPair(nil, []byte(suiteAlias))
	if err != nil || k == nil {
		b.Fatalf("key %s: %v", suiteAlias, err)
	}
	in := digests(suiteBatch, crypto.SHA256)
	if _, err := k.Sign(rand.Reader, in[0], crypto.SHA256); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	signRaw(b, k, in, p)
	b.ReportMetric(float64(b.N*suiteBatch)/b.Elapsed().Seconds(), "items/s")
}
