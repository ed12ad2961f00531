package workers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/guard"
	"github.com/signet-project/signet/workers"
)

// keyStore is what the soft token of the fixture can do besides signing.
type keyStore interface {
	GenerateKey(ctx context.Context, alias string, spec tokens.KeySpec) (crypto.PublicKey, error)
	ImportChain(ctx context.Context, alias string, chain []*x509.Certificate) error
}

// addTSAKey adds a P-256 key alias to the fixture's token with a
// certificate from issue (nil: the demo TimeStamping purpose).
func (f *fixture) addTSAKey(t testing.TB, alias string, issue func(pub crypto.PublicKey) (*x509.Certificate, error)) {
	t.Helper()
	ks := f.tok.Token.(keyStore)
	pub, err := ks.GenerateKey(context.Background(), alias, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	if issue == nil {
		issue = func(pub crypto.PublicKey) (*x509.Certificate, error) {
			return f.ca.Issue("Test TSA", pub, demo.TimeStamping, time.Hour)
		}
	}
	cert, err := issue(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.ImportChain(context.Background(), alias, []*x509.Certificate{cert, f.ca.Cert}); err != nil {
		t.Fatal(err)
	}
}

// set builds the workers given as YAML list items over the fixture's token.
func (f *fixture) set(t testing.TB, workersYAML string) *workers.Set {
	t.Helper()
	return f.build(t, "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n"+workersYAML)
}

const tsaYAML = `  - name: TSA
    id: 9
    kind: TimeStampSigner
    token: t
    key: tsa
    properties:
      AUTHTYPE: NOAUTH
      DEFAULTTSAPOLICYOID: 1.2.3.4.1
`

func lookup(t testing.TB, s *workers.Set, name string) workers.Worker {
	t.Helper()
	w, err := s.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestTimeStampSignerNeedsCriticalTimeStampingEKU(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	f.addTSAKey(t, "noncritical", func(pub crypto.PublicKey) (*x509.Certificate, error) {
		return issueWith(f.ca, pub, &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	})
	f.addTSAKey(t, "doc", func(pub crypto.PublicKey) (*x509.Certificate, error) {
		return f.ca.Issue("Doc signer", pub, demo.DocumentSigning, time.Hour)
	})
	s := f.set(t, tsaYAML+
		strings.NewReplacer("name: TSA", "name: NonCritical", "key: tsa", "key: noncritical", "id: 9", "id: 10").Replace(tsaYAML)+
		strings.NewReplacer("name: TSA", "name: Doc", "key: tsa", "key: doc", "id: 9", "id: 11").Replace(tsaYAML))
	ctx := context.Background()
	if st := lookup(t, s, "TSA").Status(ctx); !st.Active {
		t.Fatalf("TSA with a critical timeStamping EKU is offline: %v", st.Errors)
	}
	for name, want := range map[string]string{"NonCritical": "non-critical", "Doc": "no extended key usage"} {
		w := lookup(t, s, name)
		st := w.Status(ctx)
		if st.Active || !strings.Contains(strings.Join(st.Errors, " "), want) {
			t.Fatalf("%s: status %+v, want OFFLINE saying %q", name, st, want)
		}
		_, err := process(w, []byte("query"), nil)
		wantErr(t, err, workers.ErrMisconfigured, want)
	}
}

// issueWith issues a certificate from a template (subject and validity
// filled in).
func issueWith(ca *demo.CA, pub crypto.PublicKey, tmpl *x509.Certificate) (*x509.Certificate, error) {
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.Subject = pkix.Name{CommonName: "Non-critical TSA"}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func TestTimeStampSignerProperties(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	s := f.set(t, tsaYAML+`      ACCEPTEDPOLICIES: 1.2.3.4.1;1.2.3.4.2
      ACCEPTEDALGORITHMS: SHA256;SHA512
      ACCURACYSECONDS: 1
      ACCURACYMILLIS: 250
      ORDERING: true
      INCLUDESTATUSSTRING: false
      TSA: CN=Test TSA Name,O=Signet Tests,C=SE
      INCLUDE_CERTIFICATE_LEVELS: 1
`)
	w := lookup(t, s, "TSA")
	digest := sha256.Sum256([]byte("doc"))
	nonce := big.NewInt(424242)
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:], Nonce: nonce, Certificates: true, TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3, 4, 2}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := process(w, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentType != workers.ContentTypeTimeStampReply || resp.Items != 1 {
		t.Fatalf("content type %q, %d items, want a reply and 1", resp.ContentType, resp.Items)
	}
	ts, err := timestamp.ParseResponse(resp.Data)
	if err != nil {
		t.Fatalf("parse response: %v", err)
	}
	switch {
	case ts.Accuracy != 1250*time.Millisecond:
		t.Errorf("accuracy %s, want 1.25s", ts.Accuracy)
	case !ts.Ordering:
		t.Error("ordering not set")
	case ts.Nonce.Cmp(nonce) != 0:
		t.Errorf("nonce %v, want %v", ts.Nonce, nonce)
	case !ts.Policy.Equal(asn1.ObjectIdentifier{1, 2, 3, 4, 2}):
		t.Errorf("policy %v, want the requested 1.2.3.4.2", ts.Policy)
	case len(ts.Certificates) != 1:
		t.Errorf("%d certificates, want 1 (INCLUDE_CERTIFICATE_LEVELS 1)", len(ts.Certificates))
	case !bytes.Contains(ts.RawToken, []byte("Test TSA Name")):
		t.Error("the token does not carry the TSA name")
	}

	// SHA-384 is not in ACCEPTEDALGORITHMS: badAlg, and no status string.
	d384 := crypto.SHA384.New().Sum(nil)
	q, _ = (&timestamp.Request{HashAlgorithm: crypto.SHA384, HashedMessage: d384}).Marshal()
	resp, err = process(w, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status struct {
			Status       int
			StatusString []asn1.RawValue `asn1:"optional"`
			FailInfo     asn1.BitString  `asn1:"optional"`
		}
	}
	if _, err := asn1.Unmarshal(resp.Data, &r); err != nil {
		t.Fatal(err)
	}
	if resp.Items != 0 {
		t.Errorf("a rejection counts %d items, want 0", resp.Items)
	}
	if r.Status.Status != 2 || r.Status.FailInfo.At(0) != 1 || len(r.Status.StatusString) != 0 {
		t.Fatalf("status %+v, want rejection badAlg without status string", r.Status)
	}
}

func TestTimeStampSignerBadProperties(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	for props, want := range map[string]string{
		"      ACCEPTEDALGORITHMS: SHA3-256\n":             "not supported for time-stamps",
		"      TSA: NOTANATTR=x\n":                         "not a distinguished name",
		"      SIGNATUREALGORITHM: SHA256withRSAandMGF1\n": "not supported by TimeStampSigner",
	} {
		w := lookup(t, f.set(t, tsaYAML+props), "TSA")
		st := w.Status(context.Background())
		if st.Active || !strings.Contains(strings.Join(st.Errors, " "), want) {
			t.Errorf("%s: status %+v, want OFFLINE saying %q", strings.TrimSpace(props), st, want)
		}
	}
}

const btYAML = `  - name: BT
    id: 1
    kind: CAdESSigner
    token: t
    key: k
    properties:
      AUTHTYPE: NOAUTH
      DETACHEDSIGNATURE: true
      CLIENTSIDEHASHING: true
      ALLOW_BATCHSIGNING_OVERRIDE: true
      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256
      SIGNATURE_LEVEL: BASELINE-T
      TSA_WORKER: TSA
`

// checkToken checks that der carries a signature time-stamp over the
// SHA-256 of its signature value, and returns the token.
func checkToken(t *testing.T, der []byte) []byte {
	t.Helper()
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	si := sd.Signers[0]
	if len(si.UnsignedAttributes) != 1 || !si.UnsignedAttributes[0].Type.Equal(cms.OIDSignatureTimeStampToken) {
		t.Fatalf("unsigned attributes %+v, want one signature-time-stamp", si.UnsignedAttributes)
	}
	token := si.UnsignedAttributes[0].Values[0].FullBytes
	ts, err := timestamp.Parse(token)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	want := sha256.Sum256(si.Signature)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) {
		t.Fatal("the time-stamp does not cover the SHA-256 of the signature value")
	}
	return token
}

func TestBaselineTWorkerSingleAndBatch(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	s := f.set(t, tsaYAML+btYAML)
	w := lookup(t, s, "BT")
	if st := w.Status(context.Background()); !st.Active {
		t.Fatalf("BT offline: %v", st.Errors)
	}
	digest := sha256.Sum256([]byte("doc"))
	resp, err := process(w, digest[:], map[string]string{"USING_BATCHSIGNING": "false", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"})
	if err != nil {
		t.Fatal(err)
	}
	verifyDetached(t, resp.Data, crypto.SHA256, digest[:])
	checkToken(t, resp.Data)

	var items []workers.BatchItem
	for i := range 40 {
		items = append(items, digestItem(string(rune('a'+i%26)), "SHA-256", crypto.SHA256, strings.Repeat("x", i)))
	}
	resp, err = process(w, batchJSON(items...), map[string]string{"USING_BATCHSIGNING": "true"})
	if err != nil {
		t.Fatal(err)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(resp.Data, &br); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, sg := range br.Signatures {
		d, _ := base64.StdEncoding.DecodeString(items[i].Data)
		verifyDetached(t, sg.Signature, crypto.SHA256, d)
		tok := string(checkToken(t, sg.Signature))
		if seen[tok] {
			t.Fatalf("item %d shares its time-stamp", i)
		}
		seen[tok] = true
	}
}

func TestBaselineTWorkerRefusesPolicyOID(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	w := lookup(t, f.set(t, tsaYAML+btYAML+"      TSA_POLICYOID: 1.2.3.4.1\n"), "BT")
	if st := w.Status(context.Background()); st.Active || !strings.Contains(strings.Join(st.Errors, " "), "TSA_POLICYOID is not used with TSA_WORKER") {
		t.Fatalf("status %+v, want OFFLINE about TSA_POLICYOID", st)
	}
}

func TestBaselineTFailsWhenTSAWorkerCannotServe(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	s := f.set(t, tsaYAML+"      DISABLED: true\n"+btYAML)
	w := lookup(t, s, "BT")
	digest := sha256.Sum256([]byte("doc"))
	_, err := process(w, digest[:], map[string]string{"USING_BATCHSIGNING": "false", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"})
	wantErr(t, err, workers.ErrUnavailable, "time-stamp worker TSA")
	_, err = process(w, batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "a")), map[string]string{"USING_BATCHSIGNING": "true"})
	wantErr(t, err, workers.ErrUnavailable, "time-stamp worker TSA")
	if st := w.Status(context.Background()); st.Active || !strings.Contains(strings.Join(st.Errors, " "), "Time-stamp worker TSA is offline: Worker is disabled") {
		t.Errorf("status %+v, want OFFLINE naming the disabled TSA worker", st)
	}
	// With the TSA worker serving, the B-T signer is ACTIVE.
	if st := lookup(t, f.set(t, tsaYAML+btYAML), "BT").Status(context.Background()); !st.Active {
		t.Errorf("status %+v with the TSA worker active, want ACTIVE", st)
	}
}

// TestBaselineTSignsNothingWhenTSAWorkerCannotServe: a B-T signer (CAdES,
// single and batch, and PAdES) whose
// TSA_WORKER cannot time-stamp (disabled, or its certificate no
// time-stamping certificate) refuses before its key signs: it signed each
// request, counted against its KEYUSAGELIMIT and logged as made, and only
// then learnt that the TSA would not stamp it.
func TestBaselineTSignsNothingWhenTSAWorkerCannotServe(t *testing.T) {
	tests := []struct {
		name, tsa, says string
	}{
		{"disabled", tsaYAML + "      DISABLED: true\n", "Worker TSA is disabled"},
		{"no time-stamping certificate", strings.Replace(tsaYAML, "key: tsa", "key: k", 1), "has no extended key usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addTSAKey(t, "tsa", nil)
			const ptYAML = "  - name: PT\n    id: 2\n    kind: PDFSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      SIGNATURE_LEVEL: BASELINE-T\n      TSA_WORKER: TSA\n"
			s := f.set(t, tt.tsa+btYAML+ptYAML)
			_, err := process(lookup(t, s, "PT"), onePage(), nil)
			wantErr(t, err, workers.ErrUnavailable, "time-stamp worker TSA")
			w := lookup(t, s, "BT")
			digest := sha256.Sum256([]byte("doc"))
			_, err = process(w, digest[:], map[string]string{"USING_BATCHSIGNING": "false", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"})
			wantErr(t, err, workers.ErrUnavailable, "time-stamp worker TSA")
			wantErr(t, err, workers.ErrUnavailable, tt.says)
			_, err = process(w, batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "a")), map[string]string{"USING_BATCHSIGNING": "true"})
			wantErr(t, err, workers.ErrUnavailable, "time-stamp worker TSA")
			if n := f.tok.signed.Load(); n != 0 {
				t.Fatalf("the token made %d signatures for requests refused for their time-stamp, want none", n)
			}
		})
	}
}

// benchBatch signs a batch of 1000 SHA-256 digests with a CAdES signer at
// the given level (BASELINE-T through an in-process TSA_WORKER).
func benchBatch(b *testing.B, level string) {
	f := newFixture(b)
	f.addTSAKey(b, "tsa", nil)
	y := btYAML
	if level == "BASELINE-B" {
		y = strings.Replace(strings.Replace(y, "BASELINE-T", "BASELINE-B", 1), "      TSA_WORKER: TSA\n", "", 1)
	}
	w := lookup(b, f.set(b, tsaYAML+y), "BT")
	const n = 1000
	items := make([]workers.BatchItem, n)
	for i := range items {
		items[i] = digestItem("", "SHA-256", crypto.SHA256, strings.Repeat("d", i))
	}
	body := batchJSON(items...)
	meta := map[string]string{"USING_BATCHSIGNING": "true"}
	if _, err := process(w, body, meta); err != nil { // warm: the signer caches
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if _, err := process(w, body, meta); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
	// The CPU time of the process per item depends far less than items/s
	// on what else the machine runs; make bench reports their ratio too.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(n*b.N), "cpu-µs/item")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSuite_pipelineBatchBT_P256 is a batch of 1000 CAdES-BASELINE-T
// signatures (ECDSA P-256), each time-stamped by an in-process
// TimeStampSigner (TSA_WORKER).
func BenchmarkSuite_pipelineBatchBT_P256(b *testing.B) { benchBatch(b, "BASELINE-T") }

// BenchmarkSuite_pipelineBatchBT_P256_baseline is the same batch at
// BASELINE-B, without time-stamps.
func BenchmarkSuite_pipelineBatchBT_P256_baseline(b *testing.B) { benchBatch(b, "BASELINE-B") }

func TestBaselineTURLWithBasicAuth(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	tsaSet := f.set(t, tsaYAML)
	var authed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		authed.Add(1)
		resp, err := lookup(t, tsaSet, "TSA").Process(r.Context(), &workers.Request{Data: r.Body, Size: -1})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", resp.ContentType)
		w.Write(resp.Data)
	}))
	defer srv.Close()
	t.Setenv("TEST_TSA_PASSWORD", "s3cret")
	bt := strings.Replace(btYAML, "      TSA_WORKER: TSA\n", "      TSA_URL: "+srv.URL+"\n      TSA_USERNAME: alice\n      TSA_PASSWORD: {env: TEST_TSA_PASSWORD}\n", 1)
	w := lookup(t, f.set(t, bt), "BT")
	digest := sha256.Sum256([]byte("doc"))
	meta := map[string]string{"USING_BATCHSIGNING": "false", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}
	resp, err := process(w, digest[:], meta)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, resp.Data)
	if authed.Load() != 1 {
		t.Fatalf("%d authenticated time-stamp requests, want 1", authed.Load())
	}

	// A wrong password: 503 naming the TSA and what to check.
	t.Setenv("TEST_TSA_PASSWORD", "wrong")
	w = lookup(t, f.set(t, bt), "BT")
	_, err = process(w, digest[:], meta)
	wantErr(t, err, workers.ErrUnavailable, srv.URL)
	wantErr(t, err, workers.ErrUnavailable, "TSA_PASSWORD")
}

// TestBaselineTBatchTSAKeyPolicy: the TSA's signatures for a B-T batch are
// made in one call through its key's policy (one key, one policy): each
// counts against the TSA key's KEYUSAGELIMIT, the signing log has one
// record for the batch with every token's hash, under the TSA worker; a
// batch whose tokens would pass the limit is refused whole, the TSA key
// signing none of them.
func TestBaselineTBatchTSAKeyPolicy(t *testing.T) {
	f := newFixture(t)
	f.addTSAKey(t, "tsa", nil)
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f.guard = &guard.Guard{Counters: store, Log: store}
	w := lookup(t, f.set(t, tsaYAML+"      KEYUSAGELIMIT: 12\n"+btYAML), "BT")
	tsaSigner, err := f.tok.Signer(ctx, "tsa")
	if err != nil {
		t.Fatal(err)
	}
	tsaKey, err := guard.KeyID(tsaSigner.Public())
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []byte {
		items := make([]workers.BatchItem, n)
		for i := range items {
			items[i] = digestItem(strconv.Itoa(i), "SHA-256", crypto.SHA256, strings.Repeat("p", i))
		}
		return batchJSON(items...)
	}
	meta := map[string]string{"USING_BATCHSIGNING": "true"}

	resp, err := process(w, batch(8), meta)
	if err != nil {
		t.Fatal(err)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(resp.Data, &br); err != nil || len(br.Signatures) != 8 {
		t.Fatalf("%d signatures, %v", len(br.Signatures), err)
	}
	if n, err := store.Count(ctx, tsaKey); err != nil || n != 8 {
		t.Fatalf("the TSA key counted %d signatures (%v), want 8: one per token", n, err)
	}
	recs, err := store.Search(ctx, state.SignQuery{Key: "tsa"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Result != "ok" || len(recs[0].Hashes) != 8 || recs[0].Surface != "worker/TSA" {
		t.Fatalf("TSA signing log %+v, want one record of the batch's 8 tokens by worker/TSA", recs)
	}

	// 8 + 5 > 12: refused whole before the TSA key signs.
	_, err = process(w, batch(5), meta)
	wantErr(t, err, workers.ErrUnavailable, "usage limit")
	if n, err := store.Count(ctx, tsaKey); err != nil || n != 8 {
		t.Fatalf("the TSA key counted %d signatures (%v) after a refused batch, want 8", n, err)
	}
	recs, err = store.Search(ctx, state.SignQuery{Key: "tsa"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !strings.Contains(recs[0].Result+recs[1].Result, "usage limit") {
		t.Fatalf("TSA signing log %+v, want the batch and the refusal", recs)
	}
	// 8 + 4 = 12: within the limit.
	if _, err := process(w, batch(4), meta); err != nil {
		t.Fatal(err)
	}
	if n, err := store.Count(ctx, tsaKey); err != nil || n != 12 {
		t.Fatalf("the TSA key counted %d signatures (%v), want 12", n, err)
	}
}
