package workers_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/formats/pades"
	"github.com/signet-project/signet/formats/pades/padestest"
	"github.com/signet-project/signet/formats/validate"
	"github.com/signet-project/signet/tokens"
	"github.com/signet-project/signet/workers"
)

// pdf writes a PDF of the given object bodies (object n is bodies[n-1]),
// with a classic cross-reference table and trailer extra entries.
func pdf(bodies []string, trailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(bodies))
	for i, body := range bodies {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(bodies)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(bodies)+1, trailer, x)
	return b.Bytes()
}

func onePage() []byte {
	return pdf([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] >>",
	}, "")
}

// objStmBomb is a PDF whose object 4 lies in an object stream that
// decodes to n bytes and claims count objects, with a cross-reference
// stream that points there.
func objStmBomb(t *testing.T, n, count int) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("4 0 << /Producer (bomb) >> "))
	chunk := make([]byte, 1<<20)
	for i := 0; i < n; i += len(chunk) {
		w.Write(chunk)
	}
	w.Close()
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, body := range []string{"<< /Type /Catalog /Pages 2 0 R /Names 4 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] >>"} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	stm := b.Len()
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /ObjStm /N %d /First 4", count)
	fmt.Fprintf(&b, " /Filter /FlateDecode /Length %d >>\nstream\n", z.Len())
	b.Write(z.Bytes())
	b.WriteString("\nendstream\nendobj\n")
	x := b.Len()
	var rows []byte
	rows = append(rows, 0, 0, 0, 0, 0, 0xff, 0xff)
	for _, o := range offs {
		rows = append(rows, 1, byte(o>>24), byte(o>>16), byte(o>>8), byte(o), 0, 0)
	}
	rows = append(rows, 2, 0, 0, 0, 5, 0, 0)                                            // object 4: in stream 5, index 0
	rows = append(rows, 1, byte(stm>>24), byte(stm>>16), byte(stm>>8), byte(stm), 0, 0) // object 5
	rows = append(rows, 1, byte(x>>24), byte(x>>16), byte(x>>8), byte(x), 0, 0)         // object 6, this stream
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", len(rows))
	b.Write(rows)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// encrypted is onePage encrypted by qpdf with AES-256, the user password
// user ("": the document opens without one).
func encrypted(t *testing.T, user string) []byte {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, onePage(), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := padestest.Run(t, "qpdf", "--encrypt", user, "owner", "256", "--", in, out); err != nil {
		t.Fatalf("qpdf --encrypt: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPDFSignerHostile: documents that are not sound PDFs are refused with
// 400 and a sentence, quickly, and nothing is signed.
func TestPDFSignerHostile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.workerOf(t, config.KindPDFSigner, "")
	good := onePage()
	brokenXref := bytes.Replace(good, []byte("startxref\n"), []byte("startxref\n1"), 1)
	cases := []struct {
		name, want string
		doc        []byte
	}{
		{"not a PDF", "does not start with %PDF-", []byte("hello")},
		{"truncated", "truncated", good[:len(good)/2]},
		{"broken xref", "", brokenXref},
		{"encrypted", "encrypted", encrypted(t, "")},
		{"encrypted with a user password", "encrypted", encrypted(t, "user")},
		{"no page tree", "damaged", pdf([]string{"<< /Type /Catalog >>"}, "")},
		{"annotations not an array", "", pdf([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] /Annots 4 0 R >>", "<< /Foo 1 >>"}, "")},
		{"page tree loop", "", pdf([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"}, "")},
		{"field loop", "", pdf([]string{"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 9 9] >>", "<< /FT /Sig /Kids [5 0 R] >>", "<< /Kids [4 0 R] /Parent 4 0 R >>"}, "")},
		{"object stream of 100 million objects", "", objStmBomb(t, 1<<10, 100_000_000)},
		{"huge xref stream", "", []byte("%PDF-1.7\n1 0 obj\n<< /Type /XRef /Size 2000000000 /W [1 4 2] /Index [0 2000000000] /Root 1 0 R /Length 0 >>\nstream\n\nendstream\nendobj\nstartxref\n9\n%%EOF\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := process(w, c.doc, map[string]string{})
			wantErr(t, err, workers.ErrIllegalRequest, c.want)
			if !strings.HasPrefix(err.Error(), "The document cannot be signed: ") || strings.Contains(err.Error(), "/tmp") {
				t.Errorf("error %q is not the worker's sentence", err)
			}
			// The sentence names what to do: not a password the
			// client has no way to give, nor Go's words for a panic
			// or a type.
			for _, leak := range []string{"password", "runtime error", "types."} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q says %q", err, leak)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refusing took %v", d)
			}
		})
	}
	if n := f.tok.signed.Load(); n != 0 {
		t.Errorf("%d signatures made for hostile documents", n)
	}

	// A flate bomb in an object stream: pdfcpu decodes only the bytes the
	// objects need, so it is signed like any PDF, without 128 MiB in memory.
	bomb := objStmBomb(t, 128<<20, 1)
	start := time.Now()
	if _, err := process(w, bomb, map[string]string{}); err != nil && !errors.Is(err, workers.ErrIllegalRequest) {
		t.Errorf("decompression bomb: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the decompression bomb took %v", d)
	}
}

func TestPDFSignerRefusesClientSideHashing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.workerOf(t, config.KindPDFSigner, "")
	for _, meta := range []map[string]string{{"USING_CLIENTSUPPLIED_HASH": "true"}, {"CLIENTSIDE_HASHDIGESTALGORITHM": "SHA-256"}} {
		_, err := process(w, onePage(), meta)
		wantErr(t, err, workers.ErrIllegalRequest, "Client-side hashing does not apply to PDF signing")
	}
}

// TestPDFSignerCertified: a PDF certified with no changes allowed (DocMDP
// P=1) is refused with the client's error and the reason, since another
// signature would break its certification; one certified for form filling
// (P=2) takes an approval signature that pdfsig, qpdf and the validator
// accept, the certification intact.
func TestPDFSignerCertified(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	approve := f.workerOf(t, config.KindPDFSigner, "")
	for _, c := range []struct {
		level, refusal string
	}{
		{config.NoChangesAllowed, "The document cannot be signed: the PDF is certified with no changes allowed (DocMDP P=1); it cannot be signed again."},
		{config.FormFilling, ""},
		{config.FormFillingAndAnnotations, ""},
	} {
		t.Run(c.level, func(t *testing.T) {
			certified, err := process(f.workerOf(t, config.KindPDFSigner, "CERTIFICATION_LEVEL: "+c.level), onePage(), nil)
			if err != nil {
				t.Fatal(err)
			}
			out, err := process(approve, certified.Data, nil)
			if c.refusal != "" {
				wantErr(t, err, workers.ErrIllegalRequest, c.refusal)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			padestest.QPDFCheck(t, out.Data)
			padestest.CheckPDFSig(t, out.Data, 2, true)
			rep, err := validate.PDF(context.Background(), out.Data, validate.Options{Roots: []*x509.Certificate{f.ca.Cert}}, pades.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Indication != validate.TotalPassed || len(rep.Signatures) != 2 || rep.Signatures[0].CertificationLevel == 0 {
				t.Fatalf("validation: %s, signatures %+v", rep.Indication, rep.Signatures)
			}
		})
	}
}

// TestPDFSignerBatchAndOverrides signs a batch of two PDFs, one of them
// signed already, with a reason from the request.
func TestPDFSignerBatchAndOverrides(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.workerOf(t, config.KindPDFSigner, "ALLOW_BATCHSIGNING_OVERRIDE: true\nREASON: configured\nALLOW_PROPERTY_OVERRIDE: REASON\nCERTIFICATION_LEVEL: FORM_FILLING")
	single := map[string]string{"USING_BATCHSIGNING": "false"}
	first, err := process(w, onePage(), single)
	if err != nil {
		t.Fatal(err)
	}
	if first.ContentType != "application/pdf" {
		t.Errorf("content type %s", first.ContentType)
	}
	body, _ := json.Marshal(workers.BatchRequest{SignatureRequests: []workers.BatchItem{
		{Data: base64.StdEncoding.EncodeToString(onePage()), CustomIdentifier: "a"},
		{Data: base64.StdEncoding.EncodeToString(first.Data), CustomIdentifier: "b"},
	}})
	_, err = process(w, body, map[string]string{"USING_BATCHSIGNING": "true", "REASON": "from request"})
	wantErr(t, err, workers.ErrIllegalRequest, "Batch item 1 (customIdentifier \"b\"): The document cannot be signed: the PDF is signed already; a certification signature must be the first one")

	w = f.workerOf(t, config.KindPDFSigner, "ALLOW_BATCHSIGNING_OVERRIDE: true\nREASON: configured\nALLOW_PROPERTY_OVERRIDE: REASON")
	resp, err := process(w, body, map[string]string{"USING_BATCHSIGNING": "true", "REASON": "from request"})
	if err != nil {
		t.Fatal(err)
	}
	var br workers.BatchResponse
	if err := json.Unmarshal(resp.Data, &br); err != nil || len(br.Signatures) != 2 {
		t.Fatalf("batch response: %v %s", err, resp.Data)
	}
	for i, s := range br.Signatures {
		rep, err := validate.PDF(context.Background(), s.Signature, validate.Options{Roots: []*x509.Certificate{f.ca.Cert}}, pades.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Indication != validate.TotalPassed || len(rep.Signatures) != i+1 {
			t.Fatalf("item %d: %s with %d signatures", i, rep.Indication, len(rep.Signatures))
		}
		last := rep.Signatures[i]
		if last.Reason != "from request" || last.Level != "PAdES-BASELINE-B" {
			t.Errorf("item %d: reason %q level %q", i, last.Reason, last.Level)
		}
		if i == 1 && rep.Signatures[0].CertificationLevel != 2 {
			t.Errorf("the first signature's certification level is %d", rep.Signatures[0].CertificationLevel)
		}
	}
	_, err = process(f.workerOf(t, config.KindPDFSigner, ""), onePage(), map[string]string{"REASON": "x"})
	wantErr(t, err, workers.ErrIllegalRequest, "does not let requests override it")
}

// benchDocument signs a 1 MiB PDF per request with the worker made of kind
// and props, reporting documents per second as items/s.
func benchDocument(b *testing.B, kind, props string) {
	f := newFixture(b)
	w := f.workerOf(b, kind, props)
	doc := padestest.GoPDF(strings.Repeat("Signet ", 1<<20/7))
	if len(doc) < 1<<20 {
		b.Fatalf("the document is %d bytes", len(doc))
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := process(w, doc, map[string]string{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkSuite_padesBB_1mib is PAdES-BASELINE-B of a 1 MiB PDF: parse,
// incremental update, ByteRange digest, ECDSA P-256 signature, /Contents.
func BenchmarkSuite_padesBB_1mib(b *testing.B) { benchDocument(b, config.KindPDFSigner, "") }

// BenchmarkSuite_padesBB_1mib_baseline is a detached CAdES-BASELINE-B
// signature of the same bytes.
func BenchmarkSuite_padesBB_1mib_baseline(b *testing.B) {
	benchDocument(b, config.KindCAdESSigner, "DETACHEDSIGNATURE: true")
}

// TestPDFWorkersMemoryBound: a PDF, or a batch of PDFs, over the request
// memory bound is refused with 413 and a fix that applies to PDFs: the
// generic sentence offered a detached signature or client-side hashing,
// which PDFSigner refuses and PDFValidator has no use for. CMSValidator's
// names the digest its JSON request takes instead of the content.
func TestPDFWorkersMemoryBound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	signer := f.workerOf(t, config.KindPDFSigner, "ALLOW_BATCHSIGNING_OVERRIDE: true")
	doc := onePage()
	batch, _ := json.Marshal(workers.BatchRequest{SignatureRequests: []workers.BatchItem{
		{Data: base64.StdEncoding.EncodeToString(doc), CustomIdentifier: "a"},
		{Data: base64.StdEncoding.EncodeToString(doc), CustomIdentifier: "b"},
	}})
	for _, c := range []struct {
		name string
		w    workers.Worker
		body []byte
		meta map[string]string
		want string
	}{
		{"PDFSigner", signer, doc, map[string]string{"USING_BATCHSIGNING": "false"}, "send a smaller PDF"},
		{"PDFSigner batch", signer, batch, map[string]string{"USING_BATCHSIGNING": "true"}, "send fewer or smaller PDFs per batch"},
		{"PDFValidator", f.validator(t, config.KindPDFValidator), doc, map[string]string{}, "send a smaller PDF"},
		// CMSValidator takes a detached signature's content or its digest.
		{"CMSValidator", f.validator(t, config.KindCMSValidator), doc, map[string]string{}, "send the content's digest instead of the content"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int64{int64(len(c.body)), -1} { // the size told, and not
				_, err := c.w.Process(context.Background(), &workers.Request{Data: bytes.NewReader(c.body), Size: size, Metadata: c.meta, MemoryLimit: 100})
				wantErr(t, err, workers.ErrTooLarge, c.want)
				if strings.Contains(err.Error(), "client-side") || strings.Contains(err.Error(), "sign it detached") {
					t.Errorf("size %d: %q offers a fix that does not apply", size, err)
				}
			}
		})
	}
	if n := f.tok.signed.Load(); n != 0 {
		t.Errorf("%d signatures made", n)
	}
}

// TestPDFSignerLTReadDeadline: the deadline of reading a PDF bounds the
// reading, not the signing, the time-stamp and the CRLs around it. At
// BASELINE-LT the document is read again to add its DSS after the
// time-stamp; that read shared the deadline set before the first one, so a
// TSA slow within TSA_TIMEOUT (or a slow HSM, or a large batch) made the
// request fail: 503 blaming the CRL server, or 400 saying the client's PDF
// took too long to read. Here the read deadline passes while the TSA
// answers.
func TestPDFSignerLTReadDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	crl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		der, err := f.ca.CRL(nil, time.Hour)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(der)
	}))
	defer crl.Close()
	f.ca.CRLURL = crl.URL + "/ca.crl" // the signer's and the TSA's certificates name it
	f.rekey(t, tokens.KeySpec{Algorithm: "ECDSA", Curve: "P-256"})
	f.addTSAKey(t, "tsa", nil)
	tsa := lookup(t, f.set(t, tsaYAML), "TSA")

	var mu sync.Mutex
	var reads []context.CancelFunc
	stamps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for _, end := range reads { // the reads so far are past their deadline
			end()
		}
		mu.Unlock()
		resp, err := tsa.Process(r.Context(), &workers.Request{Data: r.Body, Size: -1})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", resp.ContentType)
		w.Write(resp.Data)
	}))
	defer stamps.Close()
	w := f.workerOf(t, config.KindPDFSigner, "SIGNATURE_LEVEL: BASELINE-LT\nTSA_URL: "+stamps.URL)
	workers.SetPDFReadContext(w, func(ctx context.Context) (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		reads = append(reads, cancel)
		mu.Unlock()
		return ctx, cancel
	})
	resp, err := process(w, onePage(), map[string]string{"USING_BATCHSIGNING": "false"})
	if err != nil {
		t.Fatal(err)
	}
	padestest.QPDFCheck(t, resp.Data)
	rep, err := validate.PDF(context.Background(), resp.Data, validate.Options{Roots: []*x509.Certificate{f.ca.Cert}}, pades.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if s := rep.Signatures; len(s) != 1 || s[0].Indication != validate.TotalPassed || s[0].Level != "PAdES-BASELINE-LT" {
		t.Fatalf("report: %+v", rep.Signatures)
	}
}
