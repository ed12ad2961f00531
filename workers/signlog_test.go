package workers_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// TestSigningLogFindsDocumentHash: a CMS or CAdES signature signs its
// signed attributes, not the document; the signing log records the
// document's digest (a client-side digest as sent), so that a search by
// the sha256sum of a document — the README's `admin audit list --signing
// --hash` — finds the request that signed it, single or batch.
func TestSigningLogFindsDocumentHash(t *testing.T) {
	sum := func(doc string) string { h := sha256.Sum256([]byte(doc)); return hex.EncodeToString(h[:]) }
	cases := []struct {
		name  string
		props string
		data  []byte
		meta  map[string]string
		want  []string
	}{
		{"attached document", "DETACHEDSIGNATURE: false", []byte("invoice 1"), nil, []string{sum("invoice 1")}},
		{"detached document", "DETACHEDSIGNATURE: true", []byte("invoice 2"), nil, []string{sum("invoice 2")}},
		{"client-side digest", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256",
			func() []byte { h := sha256.Sum256([]byte("invoice 3")); return h[:] }(),
			map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}, []string{sum("invoice 3")}},
		{"batch of digests", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nBATCHSIGNING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256",
			batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "doc a"), digestItem("b", "SHA-256", crypto.SHA256, "doc b")),
			nil, []string{sum("doc a"), sum("doc b")}},
		{"batch of documents", "BATCHSIGNING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256",
			batchJSON(workers.BatchItem{Data: base64.StdEncoding.EncodeToString([]byte("doc c")), HashingAlgorithm: "SHA-256"},
				workers.BatchItem{Data: base64.StdEncoding.EncodeToString([]byte("doc d")), HashingAlgorithm: "SHA-256"}),
			nil, []string{sum("doc c"), sum("doc d")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			log := &state.MemoryLog{}
			f.guard = &guard.Guard{Log: log}
			w := f.worker(t, tc.props)
			if _, err := process(w, tc.data, tc.meta); err != nil {
				t.Fatal(err)
			}
			recs, err := log.Search(context.Background(), state.SignQuery{})
			if err != nil || len(recs) != 1 {
				t.Fatalf("%d records (%v), want 1", len(recs), err)
			}
			if !slices.Equal(recs[0].Hashes, tc.want) {
				t.Fatalf("recorded hashes %v, want the documents' %v", recs[0].Hashes, tc.want)
			}
		})
	}
}

// TestSigningLogFindsDocumentHashEd25519: an Ed25519 key signs a CMS
// signature's signed attributes whole, with no digest of its own; the
// signing log still records the document's digest as it is, under the
// document's digest algorithm (it had hashed the digest again with SHA-256,
// so a search by the document's hash found nothing).
func TestSigningLogFindsDocumentHashEd25519(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.rekey(t, tokens.KeySpec{Algorithm: "Ed25519"})
	log := &state.MemoryLog{}
	f.guard = &guard.Guard{Log: log}
	w := f.worker(t, "DETACHEDSIGNATURE: true\nSIGNATUREALGORITHM: Ed25519\nDIGESTALGORITHM: SHA-512")
	if _, err := process(w, []byte("invoice 5"), nil); err != nil {
		t.Fatal(err)
	}
	recs, err := log.Search(ctx, state.SignQuery{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records (%v), want 1", len(recs), err)
	}
	want := sha512.Sum512([]byte("invoice 5"))
	if got := recs[0]; len(got.Hashes) != 1 || got.Hashes[0] != hex.EncodeToString(want[:]) || got.DigestAlg != crypto.SHA512.String() {
		t.Fatalf("recorded %v under %s, want the document's SHA-512 %x", got.Hashes, got.DigestAlg, want)
	}
}
