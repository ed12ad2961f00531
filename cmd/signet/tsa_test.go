package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/formats/cms"
	"github.com/signet-project/signet/workers"
)

// runOpenSSL runs openssl in dir and returns its combined output.
func runOpenSSL(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// postQuery posts a time-stamp query to a worker and returns the HTTP
// status, content type and body.
func postQuery(t *testing.T, s *server, worker string, query []byte) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(s.url+"/signserver/worker/"+worker, "application/timestamp-query", bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func TestTimeStampSignerWithOpenSSL(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	dir := t.TempDir()
	ca := filepath.Join(s.data, "demo-ca.pem")
	doc := filepath.Join(dir, "doc.txt")
	if err := os.WriteFile(doc, []byte("A document to time-stamp.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		flags []string
		certs bool
	}{
		{"nonce and certReq", []string{"-cert"}, true},
		{"no nonce, certReq", []string{"-no_nonce", "-cert"}, true},
		{"nonce, no certReq", nil, false},
		{"no nonce, no certReq", []string{"-no_nonce"}, false},
		{"SHA-512 and the accepted policy", []string{"-sha512", "-cert", "-tspolicy", "1.2.3.4.1"}, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := filepath.Join(dir, fmt.Sprintf("q%d.tsq", i))
			r := filepath.Join(dir, fmt.Sprintf("r%d.tsr", i))
			if out, err := runOpenSSL(t, dir, append([]string{"ts", "-query", "-data", doc, "-out", q}, c.flags...)...); err != nil {
				t.Fatalf("openssl ts -query: %v\n%s", err, out)
			}
			query, _ := os.ReadFile(q)
			code, ct, body := postQuery(t, s, "TimeStampSigner", query)
			if code != http.StatusOK || ct != workers.ContentTypeTimeStampReply {
				t.Fatalf("status %d, content type %q: %s", code, ct, body)
			}
			if err := os.WriteFile(r, body, 0o600); err != nil {
				t.Fatal(err)
			}
			text, err := runOpenSSL(t, dir, "ts", "-reply", "-in", r, "-text")
			if err != nil || !strings.Contains(text, "Status: Granted.") {
				t.Fatalf("openssl ts -reply: %v\n%s", err, text)
			}
			if strings.Contains(text, "Nonce: unspecified") == !hasFlag(c.flags, "-no_nonce") {
				t.Fatalf("nonce not as asked (%v):\n%s", c.flags, text)
			}
			args := []string{"ts", "-verify", "-data", doc, "-in", r, "-CAfile", ca}
			if !c.certs {
				// Without certReq the token carries no certificate: give it.
				tsaCert := filepath.Join(dir, "tsa.pem")
				if err := os.WriteFile(tsaCert, demoTSACert(t, s), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-untrusted", tsaCert)
				// And openssl must fail without it: no certificate inside.
				if out, err := runOpenSSL(t, dir, "ts", "-verify", "-data", doc, "-in", r, "-CAfile", ca); err == nil {
					t.Fatalf("openssl verified a token without certReq with no certificate given: it carries one\n%s", out)
				}
			}
			if out, err := runOpenSSL(t, dir, args...); err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("openssl ts -verify: %v\n%s", err, out)
			}
		})
	}

	// The REST API carries the query and the reply in base64.
	t.Run("REST", func(t *testing.T) {
		q := filepath.Join(dir, "rest.tsq")
		if out, err := runOpenSSL(t, dir, "ts", "-query", "-data", doc, "-cert", "-out", q); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		query, _ := os.ReadFile(q)
		code, reply, m := s.postREST(t, "TimeStampSigner", restRequest{Data: base64.StdEncoding.EncodeToString(query), Encoding: "BASE64"})
		if code != http.StatusOK {
			t.Fatalf("REST status %d: %v", code, m)
		}
		r := filepath.Join(dir, "rest.tsr")
		os.WriteFile(r, reply, 0o600)
		if out, err := runOpenSSL(t, dir, "ts", "-verify", "-data", doc, "-in", r, "-CAfile", ca); err != nil {
			t.Fatalf("openssl ts -verify of the REST reply: %v\n%s", err, out)
		}
	})

	// Serial numbers are unique across responses.
	t.Run("serials", func(t *testing.T) {
		seen := map[string]bool{}
		for i := range cases {
			text, err := runOpenSSL(t, dir, "ts", "-reply", "-in", filepath.Join(dir, fmt.Sprintf("r%d.tsr", i)), "-text")
			if err != nil {
				t.Fatal(err)
			}
			_, after, _ := strings.Cut(text, "Serial number: ")
			sn, _, _ := strings.Cut(after, "\n")
			if sn == "" || seen[sn] {
				t.Fatalf("serial %q repeated or missing", sn)
			}
			seen[sn] = true
		}
	})
}

func hasFlag(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// demoTSACert returns the TSA certificate (PEM) that the demo
// TimeStampSigner puts in a token when asked.
func demoTSACert(t *testing.T, s *server) []byte {
	t.Helper()
	dir := t.TempDir()
	q := filepath.Join(dir, "q.tsq")
	r := filepath.Join(dir, "r.tsr")
	tok := filepath.Join(dir, "tok.der")
	os.WriteFile(filepath.Join(dir, "d"), []byte("x"), 0o600)
	if out, err := runOpenSSL(t, dir, "ts", "-query", "-data", "d", "-cert", "-out", q); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	query, _ := os.ReadFile(q)
	_, _, body := postQuery(t, s, "TimeStampSigner", query)
	os.WriteFile(r, body, 0o600)
	if out, err := runOpenSSL(t, dir, "ts", "-reply", "-in", r, "-token_out", "-out", tok); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runOpenSSL(t, dir, "pkcs7", "-inform", "DER", "-in", tok, "-print_certs")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	first, _, _ := strings.Cut(out, "-----END CERTIFICATE-----")
	return []byte(first[strings.Index(first, "-----BEGIN"):] + "-----END CERTIFICATE-----\n")
}

// tsResp decodes the status of a TimeStampResp.
type tsResp struct {
	Status struct {
		Status       int
		StatusString []asn1.RawValue `asn1:"optional"`
		FailInfo     asn1.BitString  `asn1:"optional"`
	}
	Token asn1.RawValue `asn1:"optional"`
}

func TestTimeStampSignerRejects(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc")
	os.WriteFile(doc, []byte("doc"), 0o600)
	query := func(flags ...string) []byte {
		q := filepath.Join(dir, "q.tsq")
		if out, err := runOpenSSL(t, dir, append([]string{"ts", "-query", "-data", doc, "-out", q}, flags...)...); err != nil {
			t.Fatalf("openssl ts -query: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(q)
		return b
	}
	cases := []struct {
		name    string
		query   []byte
		failBit int
		failStr string
	}{
		{"garbage bytes", []byte("this is not a time-stamp query"), 5, "the data submitted has the wrong format"},
		{"unknown hash algorithm (MD5)", query("-md5"), 0, "unrecognized or unsupported algorithm"},
		{"hash not accepted (SHA-1)", query("-sha1"), 0, "unrecognized or unsupported algorithm"},
		{"unaccepted policy", query("-tspolicy", "1.2.3.4.5.6"), 15, "the requested TSA policy is not supported"},
		{"empty body", nil, 5, "the data submitted has the wrong format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ct, body := postQuery(t, s, "TimeStampSigner", c.query)
			if code != http.StatusOK || ct != workers.ContentTypeTimeStampReply {
				t.Fatalf("status %d, content type %q: %s", code, ct, body)
			}
			var r tsResp
			if _, err := asn1.Unmarshal(body, &r); err != nil {
				t.Fatalf("not a TimeStampResp: %v", err)
			}
			if r.Status.Status != 2 || r.Status.FailInfo.At(c.failBit) != 1 || len(r.Token.FullBytes) != 0 {
				t.Fatalf("status %d failInfo %v token %d bytes, want rejection with bit %d", r.Status.Status, r.Status.FailInfo, len(r.Token.FullBytes), c.failBit)
			}
			if len(r.Status.StatusString) == 0 {
				t.Fatal("no statusString although INCLUDESTATUSSTRING defaults to true")
			}
			f := filepath.Join(dir, "r.tsr")
			os.WriteFile(f, body, 0o600)
			text, err := runOpenSSL(t, dir, "ts", "-reply", "-in", f, "-text")
			if err != nil || !strings.Contains(text, "Status: Rejected.") || !strings.Contains(text, c.failStr) {
				t.Fatalf("openssl ts -reply: %v\n%s", err, text)
			}
		})
	}
}

// timeStampToken returns the signature-time-stamp token of a CAdES
// signature and the signature value it covers.
func timeStampToken(t *testing.T, der []byte) (token, signature []byte) {
	t.Helper()
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	si := sd.Signers[0]
	for _, a := range si.UnsignedAttributes {
		if a.Type.Equal(cms.OIDSignatureTimeStampToken) {
			if len(a.Values) != 1 {
				t.Fatalf("signature-time-stamp has %d values", len(a.Values))
			}
			return a.Values[0].FullBytes, si.Signature
		}
	}
	t.Fatal("the signature has no signature-time-stamp attribute: not CAdES-B-T")
	return nil, nil
}

// checkBT verifies a detached CAdES-B-T signature with openssl cms -verify
// -cades against sigCA, and its time-stamp token with openssl ts -verify
// against the SHA-256 of the signature value and tsaCA.
func checkBT(t *testing.T, sig, doc []byte, sigCA, tsaCA string) {
	t.Helper()
	if err := opensslVerify(t, sig, doc, sigCA, true); err != nil {
		t.Fatalf("openssl cms -verify -cades: %v", err)
	}
	token, value := timeStampToken(t, sig)
	dir := t.TempDir()
	f := filepath.Join(dir, "token.der")
	if err := os.WriteFile(f, token, 0o600); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(value)
	if out, err := runOpenSSL(t, dir, "ts", "-verify", "-digest", hex.EncodeToString(d[:]), "-token_in", "-in", f, "-CAfile", tsaCA); err != nil || !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify of the signature time-stamp: %v\n%s", err, out)
	}
	other := sha256.Sum256(append(bytes.Clone(value), 0))
	if _, err := runOpenSSL(t, dir, "ts", "-verify", "-digest", hex.EncodeToString(other[:]), "-token_in", "-in", f, "-CAfile", tsaCA); err == nil {
		t.Fatal("openssl ts -verify accepts the token for another signature value")
	}
}

// postHashBatch sends a batch of SHA-256 digests of docs and returns the
// signatures in order.
func postHashBatch(t *testing.T, s *server, worker string, docs [][]byte) (int, [][]byte, []byte) {
	t.Helper()
	code, out := s.postRaw(t, worker, bytes.NewReader(hashBatchBody(docs)), map[string]string{"USING_BATCHSIGNING": "true", "USING_CLIENTSUPPLIED_HASH": "true"})
	if code != http.StatusOK {
		return code, nil, out
	}
	var resp workers.BatchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("batch response: %v: %s", err, out)
	}
	sigs := make([][]byte, len(resp.Signatures))
	for i, sg := range resp.Signatures {
		sigs[i] = sg.Signature
	}
	return code, sigs, out
}

func TestCAdESBaselineTWorker(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ca := filepath.Join(s.data, "demo-ca.pem")
	doc := []byte("A contract, time-stamped.\n")
	code, sig := s.postRaw(t, "CAdESSignerT", bytes.NewReader(doc), map[string]string{"USING_BATCHSIGNING": "false"})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, sig)
	}
	checkBT(t, sig, doc, ca, ca)

	// The B-B signer next to it has no time-stamp.
	code, sig = s.postRaw(t, "CAdESSigner", bytes.NewReader(doc), map[string]string{"USING_BATCHSIGNING": "false"})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, sig)
	}
	if sd, err := cms.Parse(sig); err != nil || len(sd.Signers[0].UnsignedAttributes) != 0 {
		t.Fatalf("CAdESSigner (B-B) signature has unsigned attributes: %v", err)
	}

	// A batch large enough for the TSA to build, sign (one call to its
	// key's batch engine) and encode its tokens in parallel chunks: every
	// item has its own token over its own signature value, with its own
	// serial number and a genTime; openssl verifies a sample, the ends of
	// the batch and of its chunks among them.
	const n = 300
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = fmt.Appendf(nil, "document %d", i)
	}
	code, sigs, body := postHashBatch(t, s, "CAdESSignerT", docs)
	if code != http.StatusOK || len(sigs) != n {
		t.Fatalf("batch status %d, %d signatures: %.300s", code, len(sigs), body)
	}
	tokens, serials := map[string]bool{}, map[string]bool{}
	for i, sg := range sigs {
		tok, value := timeStampToken(t, sg)
		ts, err := timestamp.Parse(tok)
		if err != nil {
			t.Fatalf("item %d: token: %v", i, err)
		}
		if d := sha256.Sum256(value); !bytes.Equal(ts.HashedMessage, d[:]) {
			t.Fatalf("item %d: the time-stamp does not cover the item's signature value", i)
		}
		if tokens[string(tok)] || serials[ts.SerialNumber.String()] {
			t.Fatalf("batch item %d shares its time-stamp token or serial number %v with another item", i, ts.SerialNumber)
		}
		tokens[string(tok)], serials[ts.SerialNumber.String()] = true, true
		if ts.Time.IsZero() || time.Since(ts.Time) > time.Hour {
			t.Fatalf("item %d: genTime %v", i, ts.Time)
		}
		switch i {
		case 0, 1, n/2 - 1, n / 2, n - 1:
			checkBT(t, sg, docs[i], ca, ca)
		}
	}
}

// tsaURLConfig bootstraps a demo data folder and writes a configuration
// beside it whose CAdES-B-T workers use the given TSA URLs.
func tsaURLConfig(t *testing.T, workersYAML string) (cfgFile, caFile string) {
	t.Helper()
	files := bootstrapDemo(t, func(y string) string {
		return strings.Replace(y, "\nworkers:\n", "\nworkers:\n"+workersYAML, 1)
	}, "")
	return files.Config, files.CA
}

func btWorker(name string, id int, props ...string) string {
	y := fmt.Sprintf("  - name: %s\n    id: %d\n    kind: CAdESSigner\n    token: demo\n    key: signer-p256\n    properties:\n      AUTHTYPE: NOAUTH\n      DETACHEDSIGNATURE: true\n      ALLOW_CLIENTSIDEHASHING_OVERRIDE: true\n      ALLOW_BATCHSIGNING_OVERRIDE: true\n      ACCEPTED_HASH_DIGEST_ALGORITHMS: SHA-256\n      SIGNATURE_LEVEL: BASELINE-T\n", name, id)
	for _, p := range props {
		y += "      " + p + "\n"
	}
	return y
}

// plainDemo starts a Signet on the demo configuration over plain HTTP (an
// external TSA whose URL needs no CA bundle).
func plainDemo(t *testing.T) *server {
	t.Helper()
	files := bootstrapDemo(t, func(y string) string {
		i, j := strings.Index(y, "\nserver:\n"), strings.Index(y, "\ntokens:\n")
		if i < 0 || j < i {
			t.Fatal("the demo configuration has no server section before its tokens")
		}
		return y[:i] + y[j:]
	}, "")
	return launch(t, files.Dir, "127.0.0.1:0", "--config", files.Config)
}

func TestCAdESBaselineTURL(t *testing.T) {
	t.Parallel()
	tsa := plainDemo(t) // a second Signet, the TSA
	tsaCA := filepath.Join(tsa.data, "demo-ca.pem")

	// A TSA that was stopped: its port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := "http://" + ln.Addr().String() + "/tsa"
	ln.Close()

	// A TSA that never answers.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)

	// A TSA that answers garbage.
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write([]byte("not a TimeStampResp"))
	}))
	defer garbage.Close()

	const timeout = 1500 * time.Millisecond
	cfg, ca := tsaURLConfig(t,
		btWorker("BTRemote", 110, "TSA_URL: "+tsa.url+"/signserver/worker/TimeStampSigner")+
			btWorker("BTProcess", 111, "TSA_URL: "+tsa.url+"/signserver/process?workerName=TimeStampSigner")+
			btWorker("BTStopped", 112, "TSA_URL: "+stopped, "TSA_TIMEOUT: 1500ms")+
			btWorker("BTHanging", 113, "TSA_URL: "+hang.URL, "TSA_TIMEOUT: 1500ms")+
			btWorker("BTGarbage", 114, "TSA_URL: "+garbage.URL, "TSA_TIMEOUT: 1500ms"))
	s := startServer(t, "--config", cfg)

	doc := []byte("Signed here, time-stamped there.\n")
	for _, w := range []string{"BTRemote", "BTProcess"} {
		code, sig := s.postRaw(t, w, bytes.NewReader(doc), map[string]string{"USING_BATCHSIGNING": "false"})
		if code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", w, code, sig)
		}
		checkBT(t, sig, doc, ca, tsaCA)
	}
	docs := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	code, sigs, body := postHashBatch(t, s, "BTRemote", docs)
	if code != http.StatusOK {
		t.Fatalf("batch status %d: %s", code, body)
	}
	for i, sg := range sigs {
		checkBT(t, sg, docs[i], ca, tsaCA)
	}

	faults := []struct{ worker, url, says string }{
		{"BTStopped", stopped, "could not be reached"},
		{"BTHanging", hang.URL, "1.5s"},
		{"BTGarbage", garbage.URL, "not a TimeStampResp"},
	}
	for _, f := range faults {
		t.Run(f.worker, func(t *testing.T) {
			for _, batch := range []bool{false, true} {
				start := time.Now()
				var code int
				var body []byte
				if batch {
					code, _, body = postHashBatch(t, s, f.worker, docs)
				} else {
					code, body = s.postRaw(t, f.worker, bytes.NewReader(doc), map[string]string{"USING_BATCHSIGNING": "false"})
				}
				elapsed := time.Since(start)
				if code != http.StatusServiceUnavailable {
					t.Fatalf("batch=%v: status %d, want 503: %s", batch, code, body)
				}
				if !strings.Contains(string(body), f.url) || !strings.Contains(string(body), f.says) {
					t.Fatalf("batch=%v: %q does not name the TSA %s and say %q", batch, body, f.url, f.says)
				}
				t.Logf("batch=%v: %d after %s: %s", batch, code, elapsed.Round(time.Millisecond), body)
				// Within the configured timeout, with slack for a loaded machine.
				if elapsed > timeout+5*time.Second {
					t.Fatalf("batch=%v: answered after %s, TSA_TIMEOUT is %s", batch, elapsed, timeout)
				}
			}
		})
	}
}
