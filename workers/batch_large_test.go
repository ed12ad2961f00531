package workers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// TestLargeBatchEncoding signs batches large enough to be prepared and
// encoded in parallel chunks, with identifiers that JSON must escape and
// attached documents of different lengths, and checks that the hand-written
// response is valid JSON holding every item, in order, signed: with no
// key guard (the answer is written once SignAll returns) and with one that
// records the signatures (the answer is begun while they are recorded).
func TestLargeBatchEncoding(t *testing.T) {
	t.Run("unguarded", func(t *testing.T) { testLargeBatchEncoding(t, newFixture(t)) })
	t.Run("recorded", func(t *testing.T) {
		f := newFixture(t)
		f.guard = &guard.Guard{Log: &state.MemoryLog{}}
		testLargeBatchEncoding(t, f)
	})
}

func testLargeBatchEncoding(t *testing.T, f *fixture) {
	ids := []string{"plain", "", `quote " and \ backslash`, "ünïcödé", "<html>&", "tab\there", "x"}
	cases := []struct {
		name     string
		props    string
		n        int
		detached bool
	}{
		{"digests", "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", 333, true},
		{"attached documents", "BATCHSIGNING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", 130, false},
		{"one item", "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := f.worker(t, c.props)
			var items []workers.BatchItem
			var docs [][]byte
			for i := range c.n {
				doc := bytes.Repeat([]byte{byte(i)}, i%50)
				docs = append(docs, doc)
				data := doc
				if c.detached {
					sum := sha256.Sum256(doc)
					data = sum[:]
				}
				items = append(items, workers.BatchItem{Data: base64.StdEncoding.EncodeToString(data), HashingAlgorithm: "SHA-256",
					CustomIdentifier: fmt.Sprintf("%s%d", ids[i%len(ids)], i)})
				if ids[i%len(ids)] == "" && i%2 == 0 {
					items[i].CustomIdentifier = ""
				}
			}
			resp, err := process(w, batchJSON(items...), nil)
			if err != nil {
				t.Fatal(err)
			}
			var br workers.BatchResponse
			if err := json.Unmarshal(resp.Data, &br); err != nil {
				t.Fatalf("the response is not JSON: %v", err)
			}
			if len(br.Signatures) != c.n {
				t.Fatalf("%d signatures for %d items", len(br.Signatures), c.n)
			}
			for i, s := range br.Signatures {
				if s.CustomIdentifier != items[i].CustomIdentifier {
					t.Fatalf("item %d: customIdentifier %q, want %q", i, s.CustomIdentifier, items[i].CustomIdentifier)
				}
				sum := sha256.Sum256(docs[i])
				if !bytes.Equal(s.Hash, sum[:]) {
					t.Fatalf("item %d: hash is not the SHA-256 of its document", i)
				}
				verifyDetached(t, s.Signature, crypto.SHA256, sum[:])
				if i == 0 || i == c.n/2 || i == c.n-1 { // a sample for a verifier Signet did not write
					opensslVerify(t, s.Signature, docs[i], c.detached)
				}
				if !c.detached {
					sd, err := cms.Parse(s.Signature)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(sd.Content, docs[i]) {
						t.Fatalf("item %d: the encapsulated content is not the document", i)
					}
				}
			}
		})
	}
}

// fixedToken signs with a fixed 72-byte value, so that a benchmark measures
// the batch engine (JSON, signed attributes, DER, base64) without the
// signature arithmetic.
type fixedToken struct{ tokens.Token }

func (t fixedToken) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	s, err := t.Token.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return fixedSigner{s}, nil
}

type fixedSigner struct{ crypto.Signer }

func (fixedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return bytes.Repeat([]byte{0x5a}, 72), nil
}

// BenchmarkBatchEngine is a CAdESSigner batch of 1000 client-side SHA-256
// digests through Process with signing itself taken out: what the engine
// costs per item besides the token.
func BenchmarkBatchEngine(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n  - name: W\n    id: 1\n    kind: CAdESSigner\n    token: t\n    key: k\n    properties:\n" +
		"      AUTHTYPE: NOAUTH\n      BATCHSIGNING: true\n      CLIENTSIDEHASHING: true\n      DETACHEDSIGNATURE: true\n      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\n"
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "w.yaml"), []byte(y))
	if err != nil {
		b.Fatal(err)
	}
	set := workers.Build(ctx, cfg, workers.BuildOptions{
		Open: func(context.Context, config.Token) (tokens.Token, error) { return fixedToken{f.tok.Token}, nil },
	})
	w, err := set.Lookup("W")
	if err != nil {
		b.Fatal(err)
	}
	const n = 1000
	var items []workers.BatchItem
	for i := range n {
		items = append(items, digestItem(fmt.Sprint("doc-", i), "SHA-256", crypto.SHA256, fmt.Sprint(i)))
	}
	body := batchJSON(items...)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := process(w, body, nil)
		if err != nil {
			b.Fatal(err)
		}
		if resp.Items != n {
			b.Fatalf("%d items", resp.Items)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "items/s")
}

// opensslVerify checks a signature with openssl cms -verify (the
// certificate chain is not checked: the test PKI is the fixture's).
func opensslVerify(t *testing.T, sig, doc []byte, detached bool) {
	t.Helper()
	dir := t.TempDir()
	sigFile, docFile := filepath.Join(dir, "sig.der"), filepath.Join(dir, "doc")
	if err := os.WriteFile(sigFile, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile, "-noverify", "-out", os.DevNull}
	if detached {
		args = append(args, "-content", docFile)
	}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}
