package workers_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/workers"
)

// TestLargeBatchEncoding signs batches large enough to be prepared and
// encoded in parallel chunks, with identifiers that JSON must escape and
// attached documents of different lengths, and checks that the hand-written
// response is valid JSON holding every item, in order, signed.
func TestLargeBatchEncoding(t *testing.T) {
	f := newFixture(t)
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
