package workers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/tokens/soft"
	"github.com/signet-project/signet/workers"
)

// fixture is a soft token with one P-256 key and its chain.
type fixture struct {
	ca  *demo.CA
	tok *countingToken
	// archive, now and guard, when set, are the workers' BuildOptions.
	archive state.Archive
	now     func() time.Time
	guard   tokens.KeyGuard
}

// countingToken counts signatures and batch calls made through it, so that
// tests can assert that nothing was signed.
type countingToken struct {
	tokens.Token
	signed     atomic.Int64
	batchCalls atomic.Int64
	batch      bool
}

type countingSigner struct {
	crypto.Signer
	n *atomic.Int64
}

func (s countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, d, o)
}

func (t *countingToken) Signer(ctx context.Context, alias string) (crypto.Signer, error) {
	s, err := t.Token.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	return countingSigner{s, &t.signed}, nil
}

// batchToken adds a BatchSigner to countingToken.
type batchToken struct{ *countingToken }

func (t batchToken) SignBatch(ctx context.Context, alias string, in [][]byte, o crypto.SignerOpts) ([]tokens.Result, error) {
	t.batchCalls.Add(1)
	s, err := t.Token.Signer(ctx, alias)
	if err != nil {
		return nil, err
	}
	res := make([]tokens.Result, len(in))
	for i, d := range in {
		t.signed.Add(1)
		res[i].Signature, res[i].Err = s.Sign(rand.Reader, d, o)
	}
	return res, nil
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ca, err := demo.NewCA("Test CA")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := soft.Create(soft.Options{Path: filepath.Join(t.TempDir(), "ks.p12"), Type: "PKCS12", Name: "t"}, "pin")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := st.GenerateKey(ctx, "k", tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("signer", pub, demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ImportChain(ctx, "k", []*x509.Certificate{cert, ca.Cert}); err != nil {
		t.Fatal(err)
	}
	return &fixture{ca: ca, tok: &countingToken{Token: st}}
}

// rekey replaces the fixture's key with a new one of spec and its
// certificate.
func (f *fixture) rekey(t *testing.T, spec tokens.KeySpec) {
	t.Helper()
	ctx := context.Background()
	st := f.tok.Token.(*soft.Token)
	if err := st.RemoveKey(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	pub, err := st.GenerateKey(ctx, "k", spec)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.ca.Issue("signer", pub, demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ImportChain(ctx, "k", []*x509.Certificate{cert, f.ca.Cert}); err != nil {
		t.Fatal(err)
	}
}

// worker builds one CAdESSigner with the given properties.
func (f *fixture) worker(t *testing.T, props string) workers.Worker {
	t.Helper()
	return f.workerOf(t, config.KindCAdESSigner, props)
}

// workerOf builds one worker of a kind with the given properties.
func (f *fixture) workerOf(t testing.TB, kind, props string) workers.Worker {
	t.Helper()
	y := "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\nworkers:\n  - name: W\n    id: 1\n    kind: " + kind + "\n    token: t\n    key: k\n    properties:\n"
	if !strings.Contains(props, "AUTHTYPE") {
		y += "      AUTHTYPE: NOAUTH\n"
	}
	for _, l := range strings.Split(strings.TrimSpace(props), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			y += "      " + l + "\n"
		}
	}
	w, err := f.build(t, y).Lookup("W")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// build builds the workers of the configuration y, every token the
// fixture's.
func (f *fixture) build(t testing.TB, y string) *workers.Set {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "w.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	var tok tokens.Token = f.tok
	if f.tok.batch {
		tok = batchToken{f.tok}
	}
	return workers.Build(context.Background(), cfg, workers.BuildOptions{
		Open:    func(context.Context, config.Token) (tokens.Token, error) { return tok, nil },
		Archive: f.archive,
		Now:     f.now,
		Guard:   f.guard,
	})
}

func process(w workers.Worker, data []byte, meta map[string]string) (*workers.Response, error) {
	return w.Process(context.Background(), &workers.Request{Data: bytes.NewReader(data), Size: int64(len(data)), Metadata: meta})
}

func batchJSON(items ...workers.BatchItem) []byte {
	b, _ := json.Marshal(workers.BatchRequest{SignatureRequests: items})
	return b
}

// refused checks that the batch of items is refused by w as an illegal
// request whose error holds want, and that nothing was signed.
func (f *fixture) refused(t *testing.T, w workers.Worker, items []workers.BatchItem, want string) {
	t.Helper()
	before := f.tok.signed.Load()
	_, err := process(w, batchJSON(items...), nil)
	wantErr(t, err, workers.ErrIllegalRequest, want)
	if n := f.tok.signed.Load() - before; n != 0 {
		t.Fatalf("%d items were signed; an invalid batch must sign nothing", n)
	}
}

// panicReader panics when read.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("a reader that fails hard") }

// digestItems returns n items, each the digest of its number with h,
// identified "d" and the number.
func digestItems(n int, alg string, h crypto.Hash) []workers.BatchItem {
	items := make([]workers.BatchItem, n)
	for i := range items {
		items[i] = digestItem(fmt.Sprint("d", i), alg, h, fmt.Sprint(i))
	}
	return items
}

func digestItem(id string, alg string, h crypto.Hash, doc string) workers.BatchItem {
	hh := h.New()
	hh.Write([]byte(doc))
	return workers.BatchItem{Data: base64.StdEncoding.EncodeToString(hh.Sum(nil)), HashingAlgorithm: alg, CustomIdentifier: id}
}

// verifyDetached checks a detached signature over digest with Signet's
// parser and the signer key; openssl checks run in the end-to-end tests.
func verifyDetached(t *testing.T, der []byte, h crypto.Hash, digest []byte) {
	t.Helper()
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	si := sd.Signers[0]
	if !bytes.Equal(si.MessageDigest, digest) {
		t.Fatalf("message digest %x, want %x", si.MessageDigest, digest)
	}
	if si.Algorithm.Hash != h {
		t.Fatalf("digest algorithm %v, want %v", si.Algorithm.Hash, h)
	}
	ah := h.New()
	ah.Write(si.RawSignedAttrs)
	if !ecdsa.VerifyASN1(sd.Certificates[0].PublicKey.(*ecdsa.PublicKey), ah.Sum(nil), si.Signature) {
		t.Fatal("signature does not verify")
	}
}

func wantErr(t *testing.T, err error, kind error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v containing %q", kind, substr)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}

func TestBatchFlagsNeedAcceptedDigests(t *testing.T) {
	f := newFixture(t)
	for _, props := range []string{"BATCHSIGNING: true", "ALLOW_BATCHSIGNING_OVERRIDE: true"} {
		t.Run(props, func(t *testing.T) {
			w := f.worker(t, props)
			st := w.Status(context.Background())
			if st.Active || !strings.Contains(strings.Join(st.Errors, " "), "ACCEPTED_HASH_DIGEST_ALGORITHMS") {
				t.Fatalf("status %+v, want OFFLINE naming ACCEPTED_HASH_DIGEST_ALGORITHMS", st)
			}
			_, err := process(w, batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "x")), map[string]string{"USING_BATCHSIGNING": "true"})
			wantErr(t, err, workers.ErrMisconfigured, "ACCEPTED_HASH_DIGEST_ALGORITHMS")
		})
	}
}

func TestBatchDecision(t *testing.T) {
	f := newFixture(t)
	const accepted = "ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-384\nDETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true"
	batch := batchJSON(digestItem("a", "SHA-256", crypto.SHA256, "x"))
	single := sha256.Sum256([]byte("x"))
	cases := []struct {
		name, props string
		meta        map[string]string
		data        []byte
		wantBatch   bool
		wantErr     string
	}{
		{"BATCHSIGNING alone", "BATCHSIGNING: true", map[string]string{}, batch, true, ""},
		{"override, client says batch", "ALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{"USING_BATCHSIGNING": "true"}, batch, true, ""},
		{"override, client says single", "ALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{"USING_BATCHSIGNING": "false"}, single[:], false, ""},
		{"override, metadata missing", "ALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{}, batch, false, "USING_BATCHSIGNING is mandatory"},
		{"both: BATCHSIGNING wins over false", "BATCHSIGNING: true\nALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{"USING_BATCHSIGNING": "false"}, batch, true, ""},
		{"both: no metadata needed", "BATCHSIGNING: true\nALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{}, batch, true, ""},
		{"no override allowed", "", map[string]string{"USING_BATCHSIGNING": "true"}, batch, false, "ALLOW_BATCHSIGNING_OVERRIDE"},
		{"not a boolean", "ALLOW_BATCHSIGNING_OVERRIDE: true", map[string]string{"USING_BATCHSIGNING": "yes"}, batch, false, "not a boolean"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := f.worker(t, accepted+"\n"+c.props)
			meta := map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}
			for k, v := range c.meta {
				meta[k] = v
			}
			resp, err := process(w, c.data, meta)
			if c.wantErr != "" {
				wantErr(t, err, workers.ErrIllegalRequest, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.ContentType == workers.ContentTypeJSON; got != c.wantBatch {
				t.Fatalf("batch response %v, want %v (content type %s)", got, c.wantBatch, resp.ContentType)
			}
		})
	}
}

func TestBatchHashSigning(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-384,SHA-512")
	items := []workers.BatchItem{
		digestItem("one", "SHA-256", crypto.SHA256, "doc1"),
		digestItem("two", "SHA256", crypto.SHA256, "doc2"),
		digestItem("three", "SHA-384", crypto.SHA384, "doc3"),
		digestItem("four", "", crypto.SHA512, "doc4"), // from CLIENTSIDE_HASHDIGESTALGORITHM
		digestItem("", "sha-512", crypto.SHA512, "doc5"),
	}
	resp, err := process(w, batchJSON(items...), map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-512"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Items != len(items) {
		t.Fatalf("Items %d, want %d", resp.Items, len(items))
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(resp.Data, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.Signatures) != len(items) {
		t.Fatalf("%d signatures for %d items", len(br.Signatures), len(items))
	}
	hashes := []crypto.Hash{crypto.SHA256, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA512}
	for i, s := range br.Signatures {
		want, _ := base64.StdEncoding.DecodeString(items[i].Data)
		if !bytes.Equal(s.Hash, want) {
			t.Errorf("item %d: hash %x, want the request data %x", i, s.Hash, want)
		}
		if s.CustomIdentifier != items[i].CustomIdentifier {
			t.Errorf("item %d: customIdentifier %q, want %q", i, s.CustomIdentifier, items[i].CustomIdentifier)
		}
		verifyDetached(t, s.Signature, hashes[i], want)
	}
	if !strings.Contains(string(resp.Data), `"signatures":[`) {
		t.Fatalf("response is not SignServer's format: %.80s", resp.Data)
	}
}

func TestBatchDocuments(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "BATCHSIGNING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-512")
	docs := []string{"first document", "second document"}
	var items []workers.BatchItem
	for i, d := range docs {
		items = append(items, workers.BatchItem{Data: base64.StdEncoding.EncodeToString([]byte(d)), HashingAlgorithm: "SHA-512", CustomIdentifier: fmt.Sprint(i)})
	}
	resp, err := process(w, batchJSON(items...), nil)
	if err != nil {
		t.Fatal(err)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(resp.Data, &br); err != nil {
		t.Fatal(err)
	}
	for i, s := range br.Signatures {
		sum := sha512.Sum512([]byte(docs[i]))
		if !bytes.Equal(s.Hash, sum[:]) {
			t.Errorf("item %d: hash is not the SHA-512 of the document", i)
		}
		verifyDetached(t, s.Signature, crypto.SHA512, sum[:])
	}
}

func TestBatchInvalidItemRejectsWholeBatch(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\nMAX_BATCH_SIZE: 5")
	good := digestItem("good", "SHA-256", crypto.SHA256, "x")
	cases := []struct {
		name string
		bad  workers.BatchItem
		want string
	}{
		{"bad base64", workers.BatchItem{Data: "!!notbase64", HashingAlgorithm: "SHA-256", CustomIdentifier: "b64"}, `Batch item 1 (customIdentifier "b64"): data is not valid base64`},
		{"wrong digest length", workers.BatchItem{Data: base64.StdEncoding.EncodeToString(make([]byte, 20)), HashingAlgorithm: "SHA-256", CustomIdentifier: "short"}, `Batch item 1 (customIdentifier "short"): data is 20 bytes but a SHA-256 digest is 32 bytes`},
		{"algorithm not accepted", digestItem("sha384", "SHA-384", crypto.SHA384, "x"), `Batch item 1 (customIdentifier "sha384"): Digest algorithm SHA-384 is not accepted`},
		{"unknown algorithm", workers.BatchItem{Data: good.Data, HashingAlgorithm: "MD4", CustomIdentifier: "md4"}, `Batch item 1 (customIdentifier "md4"): Unknown digest algorithm "MD4"`},
		{"no algorithm at all", workers.BatchItem{Data: good.Data, CustomIdentifier: "none"}, `Batch item 1 (customIdentifier "none"): no hashingAlgorithm`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.refused(t, w, []workers.BatchItem{good, c.bad, good}, c.want)
		})
	}
	// Batches of several blocks are checked while they are read, block by
	// block on other goroutines: the error is still the first invalid
	// item's, and one in a block handed over, left for after the read or
	// in the last partial block refuses the batch as well.
	t.Run("large batches", func(t *testing.T) {
		w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\nMAX_BATCH_SIZE: 1000")
		for _, c := range []struct {
			n    int
			bad  []int
			want string
		}{
			{700, []int{650}, "Batch item 650 "},
			{700, []int{699}, "Batch item 699 "},
			{700, []int{3, 500}, "Batch item 3 "},
			{700, []int{600, 64}, "Batch item 64 "},
			{1000, []int{999, 998, 128}, "Batch item 128 "},
		} {
			items := digestItems(c.n, "SHA-256", crypto.SHA256)
			for _, i := range c.bad {
				items[i].Data = "!!notbase64"
			}
			f.refused(t, w, items, c.want)
		}
		// An invalid item early in a body that ends in a syntax error: the
		// syntax error, found once the whole body is read, as before.
		items := digestItems(300, "SHA-256", crypto.SHA256)
		items[5].Data = "!!notbase64"
		body := batchJSON(items...)
		_, err := process(w, body[:len(body)-2], nil)
		wantErr(t, err, workers.ErrIllegalRequest, "not valid JSON")
	})
	// A body whose reader panics after some blocks were handed over: the
	// panic goes on up (the HTTP layer's recoverer answers it), and the
	// goroutines preparing blocks end.
	t.Run("reader panics mid-batch", func(t *testing.T) {
		w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\nMAX_BATCH_SIZE: 1000")
		body := batchJSON(digestItems(700, "SHA-256", crypto.SHA256)...)
		before := runtime.NumGoroutine()
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the reader's panic was swallowed")
				}
			}()
			r := io.MultiReader(bytes.NewReader(body[:len(body)/2]), panicReader{})
			w.Process(context.Background(), &workers.Request{Data: r, Size: -1})
		}()
		workers.WaitGoroutines(t, before) // the helpers preparing blocks end
	})
	// An item whose digest algorithm is accepted but cannot sign with the
	// worker's key (here SHA-256 with an Ed25519 key, which RFC 8419 binds
	// to SHA-512) is refused after every item has been decoded and
	// checked, as it was before the items were prepared while read: a
	// later item's malformed data is the error the client sees first,
	// wherever the two items fall among the blocks of batchBlock items.
	t.Run("digest algorithm unusable with the key", func(t *testing.T) {
		f := newFixture(t)
		f.rekey(t, tokens.KeySpec{Algorithm: "Ed25519"})
		w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nSIGNATUREALGORITHM: Ed25519\nDIGESTALGORITHM: SHA-512\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256,SHA-512\nMAX_BATCH_SIZE: 1000")
		const unusable = "Digest algorithm SHA-256 cannot be used with this worker's key"
		for _, c := range []struct {
			n           int
			sha256, bad []int // items with SHA-256 digests, items with malformed data
			want        string
		}{
			{3, []int{0}, []int{2}, "Batch item 2 "},
			{3, []int{1}, nil, unusable},
			{3, []int{2}, []int{0}, "Batch item 0 "},
			{200, []int{10}, []int{150}, "Batch item 150 "},
			{200, []int{70, 199}, []int{130}, "Batch item 130 "},
			{200, []int{130}, nil, unusable},
		} {
			items := digestItems(c.n, "SHA-512", crypto.SHA512)
			for _, i := range c.sha256 {
				items[i] = digestItem(fmt.Sprint("d", i), "SHA-256", crypto.SHA256, fmt.Sprint(i))
			}
			for _, i := range c.bad {
				items[i].Data = "!!notbase64"
			}
			f.refused(t, w, items, c.want)
		}
	})
	// So is a signing time the signed attributes cannot encode (a clock
	// past 9999), found once every item's request and signer are checked.
	t.Run("clock past what a signing time encodes", func(t *testing.T) {
		f := newFixture(t)
		f.now = func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }
		w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\nMAX_BATCH_SIZE: 1000")
		for _, c := range []struct {
			n    int
			bad  []int
			want string
		}{
			{3, []int{2}, "Batch item 2 (customIdentifier"},
			{200, []int{199}, "Batch item 199 (customIdentifier"},
			{200, nil, "Batch item 0: cms: signing time"},
		} {
			items := digestItems(c.n, "SHA-256", crypto.SHA256)
			for _, i := range c.bad {
				items[i].Data = "!!notbase64"
			}
			f.refused(t, w, items, c.want)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		_, err := process(w, []byte(`{"signatureRequests":[{"data":`), nil)
		wantErr(t, err, workers.ErrIllegalRequest, "not valid JSON")
	})
	t.Run("unknown field", func(t *testing.T) {
		_, err := process(w, []byte(`{"signatureRequests":[],"extra":1}`), nil)
		wantErr(t, err, workers.ErrIllegalRequest, "not valid JSON")
	})
	t.Run("long unknown item field", func(t *testing.T) {
		long := strings.Repeat("y", 5000)
		_, err := process(w, []byte(`{"signatureRequests":[{"data":"AA==","`+long+`":1}]}`), nil)
		wantErr(t, err, workers.ErrIllegalRequest, `unknown field "`+long[:128]+`"…`)
		if len(err.Error()) > 512 {
			t.Errorf("the error repeats the request whole: %.600q", err)
		}
	})
	t.Run("empty batch", func(t *testing.T) {
		_, err := process(w, batchJSON(), nil)
		wantErr(t, err, workers.ErrIllegalRequest, "no signatureRequests")
	})
	t.Run("too many items", func(t *testing.T) {
		before := f.tok.signed.Load()
		_, err := process(w, batchJSON(good, good, good, good, good, good), nil)
		wantErr(t, err, workers.ErrTooLarge, "at most 5")
		if f.tok.signed.Load() != before {
			t.Fatal("an oversize batch was signed")
		}
	})
}

func TestBatchDefaultLimit(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256")
	items := make([]workers.BatchItem, 1001)
	for i := range items {
		items[i] = digestItem(fmt.Sprint(i), "SHA-256", crypto.SHA256, "x")
	}
	_, err := process(w, batchJSON(items...), nil)
	wantErr(t, err, workers.ErrTooLarge, "at most 1000")
	resp, err := process(w, batchJSON(items[:1000]...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Items != 1000 {
		t.Fatalf("signed %d items, want 1000", resp.Items)
	}
}

func TestBatchUsesTokenBatchSigner(t *testing.T) {
	f := newFixture(t)
	f.tok.batch = true
	w := f.worker(t, "BATCHSIGNING: true\nCLIENTSIDEHASHING: true\nDETACHEDSIGNATURE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256")
	items := make([]workers.BatchItem, 50)
	for i := range items {
		items[i] = digestItem(fmt.Sprint(i), "SHA-256", crypto.SHA256, fmt.Sprint("doc", i))
	}
	if _, err := process(w, batchJSON(items...), nil); err != nil {
		t.Fatal(err)
	}
	if n := f.tok.batchCalls.Load(); n != 1 {
		t.Fatalf("%d batch calls to the token, want 1", n)
	}
	if n := f.tok.signed.Load(); n != 50 {
		t.Fatalf("%d signatures, want 50", n)
	}
}

func TestSingleOverrides(t *testing.T) {
	f := newFixture(t)
	doc := []byte("a document")
	sum := sha256.Sum256(doc)
	cases := []struct {
		name, props string
		meta        map[string]string
		data        []byte
		wantAttach  bool
		wantErr     string
	}{
		{"attached by default", "", nil, doc, true, ""},
		{"detached by property", "DETACHEDSIGNATURE: true", nil, doc, false, ""},
		{"detached override allowed", "ALLOW_DETACHEDSIGNATURE_OVERRIDE: true", map[string]string{"DETACHEDSIGNATURE": "true"}, doc, false, ""},
		{"detached override refused", "", map[string]string{"DETACHEDSIGNATURE": "true"}, doc, false, "ALLOW_DETACHEDSIGNATURE_OVERRIDE"},
		{"same value as configured is fine", "", map[string]string{"DETACHEDSIGNATURE": "false"}, doc, true, ""},
		{"client hash by property", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA256"}, sum[:], false, ""},
		{"client hash override", "DETACHEDSIGNATURE: true\nALLOW_CLIENTSIDEHASHING_OVERRIDE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", map[string]string{"USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}, sum[:], false, ""},
		{"client hash override refused", "DETACHEDSIGNATURE: true", map[string]string{"USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}, sum[:], false, "ALLOW_CLIENTSIDEHASHING_OVERRIDE"},
		{"client hash without algorithm", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", nil, sum[:], false, "CLIENTSIDE_HASHDIGESTALGORITHM"},
		{"client hash wrong length", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}, sum[:20], false, "20 bytes but a SHA-256 digest is 32 bytes"},
		{"client hash algorithm not accepted", "DETACHEDSIGNATURE: true\nCLIENTSIDEHASHING: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", map[string]string{"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-512"}, sum[:], false, "not accepted"},
		{"client hash needs detached", "ALLOW_CLIENTSIDEHASHING_OVERRIDE: true\nACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256", map[string]string{"USING_CLIENTSUPPLIED_HASH": "true", "CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}, sum[:], false, "detached"},
		{"content OID override refused", "", map[string]string{"CONTENTOID": "1.2.3.4"}, doc, false, "ALLOW_CONTENTOID_OVERRIDE"},
		{"content OID malformed", "ALLOW_CONTENTOID_OVERRIDE: true", map[string]string{"CONTENTOID": "abc"}, doc, false, "not an object identifier"},
		// Client text is quoted up to 128 bytes, not whole.
		{"content OID long", "", map[string]string{"CONTENTOID": strings.Repeat("k", 5000)}, doc, false, `Request metadata CONTENTOID "` + strings.Repeat("k", 128) + `"… is not an object identifier`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := f.worker(t, c.props)
			resp, err := process(w, c.data, c.meta)
			if c.wantErr != "" {
				wantErr(t, err, workers.ErrIllegalRequest, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sd, err := cms.Parse(resp.Data)
			if err != nil {
				t.Fatal(err)
			}
			if got := sd.Content != nil; got != c.wantAttach {
				t.Fatalf("attached %v, want %v", got, c.wantAttach)
			}
			if c.wantAttach && !bytes.Equal(sd.Content, doc) {
				t.Fatal("encapsulated content differs from the document")
			}
			if !bytes.Equal(sd.Signers[0].MessageDigest, sum[:]) {
				t.Fatal("message digest is not the SHA-256 of the document")
			}
			if err := sd.Verify(bytes.NewReader(doc)); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestContentOIDOverride(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "ALLOW_CONTENTOID_OVERRIDE: true")
	resp, err := process(w, []byte("doc"), map[string]string{"CONTENTOID": "1.2.840.113549.1.9.16.1.4"})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(resp.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := sd.ContentType.String(); got != "1.2.840.113549.1.9.16.1.4" {
		t.Fatalf("content type %s", got)
	}
}

func TestDisabledWorker(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "DISABLED: true")
	if st := w.Status(context.Background()); st.Active {
		t.Fatal("a disabled worker is active")
	}
	_, err := process(w, []byte("doc"), nil)
	wantErr(t, err, workers.ErrUnavailable, "disabled")
}

func TestTokenOfflineIsUnavailable(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "")
	if err := f.tok.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.Status(context.Background())
	if st.Active || !strings.Contains(strings.Join(st.Errors, " "), "offline") {
		t.Fatalf("status %+v, want offline", st)
	}
	_, err := process(w, []byte("doc"), nil)
	wantErr(t, err, workers.ErrUnavailable, "offline")
}

// TestKeyGoneNamesTheFix: a worker whose key was removed from its token is
// OFFLINE with one sentence that names the fix; "Key "k" in crypto token
// "t": token t has no key "k": key not found" said the same thing three
// times and not what to do.
func TestKeyGoneNamesTheFix(t *testing.T) {
	f := newFixture(t)
	w := f.worker(t, "")
	if err := f.tok.Token.(*soft.Token).RemoveKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	st := w.Status(context.Background())
	want := `Key "k" is not in crypto token "t": generate or import it there, or point worker W at another key.`
	if st.Active || len(st.Errors) != 1 || st.Errors[0] != want {
		t.Fatalf("status %+v, want OFFLINE with %q", st, want)
	}
}

func TestAuthWithoutWhatItNeedsKeepsWorkerOffline(t *testing.T) {
	f := newFixture(t)
	for _, props := range []string{"AUTHTYPE: CLIENTCERT", "AUTHTYPE: USERNAME_PASSWORD"} {
		w := f.worker(t, props)
		st := w.Status(context.Background())
		if st.Active || !strings.Contains(strings.Join(st.Errors, " "), "AUTHTYPE") {
			t.Fatalf("%s: status %+v, want OFFLINE saying what AUTHTYPE needs", props, st)
		}
		_, err := process(w, []byte("doc"), nil)
		wantErr(t, err, workers.ErrMisconfigured, "AUTHTYPE")
		if strings.Contains(err.Error(), ".yaml:") {
			t.Errorf("%s: the client is told the configuration file: %v", props, err)
		}
	}
}
