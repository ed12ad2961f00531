package workers_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// TestKeyUsageCounting: signatures are counted per key (the SHA-256 of its
// public key), a batch of N counts N, KEYUSAGELIMIT refuses with 503
// before signing, and every worker on the key shares its limit.
func TestKeyUsageCounting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	y := `tokens:
  - name: t
    type: soft
    properties: {KEYSTOREPATH: ks.p12}
workers:
  - {name: Limited, id: 1, kind: CAdESSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH, KEYUSAGELIMIT: 5, ALLOW_BATCHSIGNING_OVERRIDE: true, ACCEPTED_HASH_DIGEST_ALGORITHMS: "SHA-256,SHA-384"}}
  - {name: Other, id: 2, kind: CMSSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH}}
  - {name: Uncounted, id: 3, kind: CMSSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH, DISABLEKEYUSAGECOUNTER: true}}
`
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "w.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set := workers.Build(ctx, cfg, workers.BuildOptions{
		Open:  func(context.Context, config.Token) (tokens.Token, error) { return f.tok, nil },
		Guard: &guard.Guard{Counters: store},
	})
	lookup := func(name string) workers.Worker {
		w, err := set.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	signer, err := f.tok.Signer(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(signer.Public())
	sum := sha256.Sum256(der)
	key := "sha256:" + hex.EncodeToString(sum[:])
	count := func() int64 {
		n, err := store.Count(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	batch := batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "a"), digestItem("b", "SHA-256", crypto.SHA256, "b"), digestItem("c", "SHA-256", crypto.SHA256, "c"))
	mixed := batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "a"), digestItem("b", "SHA-384", crypto.SHA384, "b"))
	// One key, one policy: Limited's KEYUSAGELIMIT is the key's, so Other
	// and Uncounted (whose DISABLEKEYUSAGECOUNTER loses to the limit) count
	// and stop with it.
	steps := []struct {
		worker    string
		data      []byte
		meta      map[string]string
		wantCount int64
		wantErr   string
	}{
		{"Other", []byte("doc"), nil, 1, ""},
		{"Uncounted", []byte("doc"), nil, 2, ""},
		{"Limited", batch, map[string]string{"USING_BATCHSIGNING": "true"}, 5, ""},
		{"Limited", batch, map[string]string{"USING_BATCHSIGNING": "true"}, 5, "Key usage limit exceeded"}, // 5+3 > 5: refused whole
		{"Limited", mixed, map[string]string{"USING_BATCHSIGNING": "true"}, 5, "Key usage limit exceeded"},
		{"Limited", []byte("doc"), map[string]string{"USING_BATCHSIGNING": "false"}, 5, "Key usage limit exceeded"},
		{"Other", []byte("doc"), nil, 5, "Key usage limit exceeded"}, // the key's limit, whichever worker asks
		{"Uncounted", []byte("doc"), nil, 5, "Key usage limit exceeded"},
	}
	for i, st := range steps {
		signed := f.tok.signed.Load()
		_, err := process(lookup(st.worker), st.data, st.meta)
		if st.wantErr != "" {
			wantErr(t, err, workers.ErrUnavailable, st.wantErr)
			if f.tok.signed.Load() != signed {
				t.Fatalf("step %d: the token signed although the limit refused the request", i)
			}
		} else if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.worker, err)
		}
		if got := count(); got != st.wantCount {
			t.Fatalf("step %d (%s): count %d, want %d", i, st.worker, got, st.wantCount)
		}
	}
	if st := lookup("Limited").Status(ctx); st.Active || !strings.Contains(strings.Join(st.Errors, " "), "usage limit") {
		t.Fatalf("Limited at its limit: status %+v, want OFFLINE for the usage limit", st)
	}
	if st := lookup("Other").Status(ctx); st.Active {
		t.Fatalf("Other, on the same key: status %+v, want OFFLINE", st)
	}
}

// benchmarkSingle signs single documents from 16 goroutines per CPU through
// a CAdESSigner on a soft P-256 key, with the usage counter on or off.
func benchmarkSingle(b *testing.B, counted bool) {
	f := newFixture(b)
	ctx := context.Background()
	opts := workers.BuildOptions{Open: func(context.Context, config.Token) (tokens.Token, error) { return f.tok, nil }}
	if counted {
		store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		opts.Guard = &guard.Guard{Counters: store}
	}
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "w.yaml"), []byte("tokens:\n  - {name: t, type: soft, properties: {KEYSTOREPATH: ks.p12}}\nworkers:\n  - {name: W, id: 1, kind: CAdESSigner, token: t, key: k, properties: {AUTHTYPE: NOAUTH}}\n"))
	if err != nil {
		b.Fatal(err)
	}
	w, err := workers.Build(ctx, cfg, opts).Lookup("W")
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := process(w, []byte("doc"), nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

func BenchmarkSingleCounted(b *testing.B)   { benchmarkSingle(b, true) }
func BenchmarkSingleUncounted(b *testing.B) { benchmarkSingle(b, false) }
