package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/pades/padestest"
)

// TestBadInput sends malformed requests to the servlets and REST of a demo
// server: each gets the right 4xx and a sentence that says what to fix, and
// none a 500.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--max-upload", "4096")
	sum := sha256.Sum256([]byte("doc"))
	b64 := base64.StdEncoding.EncodeToString
	big := strings.Repeat("x", 5000)
	multipartBody := func(fields map[string]string) (string, io.Reader) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		return mw.FormDataContentType(), &buf
	}
	type req struct {
		method, path, ctype string
		body                io.Reader
	}
	form := func(v url.Values) req {
		return req{"POST", "/signserver/process", "application/x-www-form-urlencoded", strings.NewReader(v.Encode())}
	}
	rest := func(worker, body string) req {
		return req{"POST", "/signserver/rest/v1/workers/" + worker + "/process", "application/json", strings.NewReader(body)}
	}
	raw := func(worker, query string, body string) req {
		return req{"POST", "/signserver/worker/" + worker + "?" + query, "application/octet-stream", strings.NewReader(body)}
	}
	const single = "REQUEST_METADATA.USING_BATCHSIGNING=false"
	// A PDF whose trailer declares one object more than MAX_PDF_OBJECTS's
	// default: refused before it is read.
	overObjects := strings.Replace(string(padestest.GoPDF("many")), "/Size 7 ", "/Size 40002 ", 1)
	ct, mp := multipartBody(map[string]string{"data": "doc"})
	cases := []struct {
		name string
		r    req
		code int
		msg  string
	}{
		{"servlet: unknown worker", form(url.Values{"workerName": {"Nope"}, "data": {"doc"}}), 404, "No worker named"},
		{"servlet: unknown worker id", form(url.Values{"workerId": {"999"}, "data": {"doc"}}), 404, "No worker named or numbered \"999\""},
		{"servlet: no worker", form(url.Values{"data": {"doc"}}), 400, "workerName or workerId"},
		{"servlet: no data", form(url.Values{"workerName": {"CMSSigner"}}), 400, "data field"},
		{"servlet: bad base64", form(url.Values{"workerName": {"CMSSigner"}, "data": {"@@@"}, "encoding": {"base64"}}), 400, "not valid base64"},
		{"servlet: unknown encoding", form(url.Values{"workerName": {"CMSSigner"}, "data": {"doc"}, "encoding": {"hex"}}), 400, "encoding \"hex\" is not supported"},
		{"servlet: processType", form(url.Values{"workerName": {"CMSSigner"}, "data": {"doc"}, "processType": {"validateDocument"}}), 400, "use signDocument"},
		{"servlet: wrong content type", req{"POST", "/signserver/process", "text/plain", strings.NewReader("doc")}, 415, "multipart/form-data"},
		{"servlet: oversize", form(url.Values{"workerName": {"CMSSigner"}, "data": {big}}), 413, "upload limit of 4096 bytes"},
		{"servlet: multipart without worker", req{"POST", "/signserver/process", ct, mp}, 400, "workerName or workerId"},
		{"servlet: metadata not boolean", form(url.Values{"workerName": {"CAdESSigner"}, "data": {"doc"}, "REQUEST_METADATA.USING_BATCHSIGNING": {"maybe"}}), 400, "not a boolean"},
		{"servlet: batch metadata missing", form(url.Values{"workerName": {"CAdESSigner"}, "data": {"doc"}}), 400, "USING_BATCHSIGNING is mandatory"},
		{"servlet: batch not allowed", form(url.Values{"workerName": {"CMSSigner"}, "data": {"doc"}, "REQUEST_METADATA.USING_BATCHSIGNING": {"true"}}), 400, "ALLOW_BATCHSIGNING_OVERRIDE"},
		{"servlet: malformed batch JSON", form(url.Values{"workerName": {"CAdESSigner"}, "data": {"{\"signatureRequests\":["}, "REQUEST_METADATA.USING_BATCHSIGNING": {"true"}}), 400, "not valid JSON"},
		{"worker: wrong digest length", raw("CAdESSigner", single+"&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256", "short"), 400, "5 bytes but a SHA-256 digest is 32 bytes"},
		{"worker: disallowed digest", raw("CAdESSigner", single+"&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA3-256", string(sum[:])), 400, "SHA3-256 is not accepted"},
		{"worker: unknown digest", raw("CAdESSigner", single+"&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=MD5", string(sum[:])), 400, "Unknown digest algorithm"},
		{"worker: client hash not allowed", raw("CMSSigner", "REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true", string(sum[:])), 400, "ALLOW_CLIENTSIDEHASHING_OVERRIDE"},
		{"worker: unknown worker", raw("Nope", "", "doc"), 404, "No worker named"},
		{"worker: oversize", raw("CAdESSigner", single, big), 413, "upload limit"},
		{"worker: bad content OID", raw("CMSSigner", "REQUEST_METADATA.CONTENTOID=1.2.3", "doc"), 400, "ALLOW_CONTENTOID_OVERRIDE"},
		{"worker: PDF over MAX_PDF_OBJECTS", raw("PDFSigner", single, overObjects), 400, "The document cannot be signed: the PDF has 40001 objects, more than this worker's limit of 40000 (MAX_PDF_OBJECTS): send a PDF with fewer objects, or ask the operator to raise MAX_PDF_OBJECTS."},
		{"worker: PDF over MAX_PDF_OBJECTS to validate", raw("PDFValidator", "", overObjects), 400, "The document cannot be validated: the PDF has 40001 objects, more than this worker's limit of 40000 (MAX_PDF_OBJECTS)"},
		{"REST: malformed JSON", rest("CMSSigner", `{"data":`), 400, "not valid JSON"},
		{"REST: unknown field", rest("CMSSigner", `{"data":"x","extra":1}`), 400, "unknown field"},
		{"REST: wrong type", rest("CMSSigner", `{"data":42}`), 400, "wrong type"},
		{"REST: metadata not strings", rest("CMSSigner", `{"data":"x","metaData":{"A":1}}`), 400, "send every metadata value as a JSON string"},
		{"REST: no data", rest("CMSSigner", `{"encoding":"NONE"}`), 400, "no data field"},
		{"REST: bad base64", rest("CMSSigner", `{"data":"%%%","encoding":"BASE64"}`), 400, "not valid base64"},
		{"REST: bad encoding", rest("CMSSigner", `{"data":"x","encoding":"HEX"}`), 400, "use NONE or BASE64"},
		{"REST: unknown worker", rest("Nope", `{"data":"x"}`), 404, "No worker named"},
		{"REST: unknown worker id", rest("4711", `{"data":"x"}`), 404, "No worker named or numbered"},
		{"REST: wrong content type", req{"POST", "/signserver/rest/v1/workers/CMSSigner/process", "text/plain", strings.NewReader(`{"data":"x"}`)}, 415, "application/json"},
		{"REST: oversize", rest("CMSSigner", `{"data":"`+big+`"}`), 413, "upload limit"},
		{"REST: batch item invalid", rest("CAdESSigner", `{"data":"`+b64([]byte(`{"signatureRequests":[{"data":"!!","customIdentifier":"x1"}]}`))+`","encoding":"BASE64","metaData":{"USING_BATCHSIGNING":"true"}}`), 400, `data is not valid base64`},
		{"REST: batch too large", rest("CAdESSigner", `{"data":"`+b64([]byte(`{"signatureRequests":[`+strings.Repeat(`{"data":"AA=="},`, 200)+`{"data":"AA=="}]}`))+`","encoding":"BASE64","metaData":{"USING_BATCHSIGNING":"true"}}`), 413, "upload limit"},
		{"no such route", req{"POST", "/signserver/nothing", "text/plain", strings.NewReader("")}, 404, "No such endpoint"},
		{"wrong method", req{"PUT", "/signserver/process", "", nil}, 405, "POST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := http.NewRequest(c.r.method, s.url+c.r.path, c.r.body)
			if err != nil {
				t.Fatal(err)
			}
			if c.r.ctype != "" {
				r.Header.Set("Content-Type", c.r.ctype)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, body)
			}
			if !strings.Contains(string(body), c.msg) {
				t.Fatalf("body %q does not contain %q", body, c.msg)
			}
			if strings.HasPrefix(c.r.path, "/signserver/rest/") && !strings.HasPrefix(string(body), `{"error":`) {
				t.Fatalf("REST error is not {\"error\": ...}: %s", body)
			}
		})
	}
	// Nothing above changed state: the server still signs.
	code, sig := s.postRaw(t, "CAdESSigner", strings.NewReader("doc"), map[string]string{"USING_BATCHSIGNING": "false"})
	if code != 200 || len(sig) == 0 {
		t.Fatalf("after bad input the server answers %d", code)
	}
	// Metrics counted the requests by status.
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`signet_requests_total{endpoint="rest",status="400",worker="CAdESSigner"}`, `signet_items_signed_total{worker="CAdESSigner"} 1`, "signet_request_duration_seconds_bucket"} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestConfigCheck runs signet config check on a good and a bad file.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ks"), 0o700); err != nil { // the keystore, empty
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks}\nworkers:\n  - name: W\n    id: 1\n    kind: CAdESSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      BATCHSIGNNG: true\n"), 0o644)
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"config", "check", bad}, &out, &errb)
	if ee, ok := err.(exitError); !ok || ee.code != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	if !strings.Contains(errb.String(), bad+":13") || !strings.Contains(errb.String(), "did you mean BATCHSIGNING") {
		t.Fatalf("output lacks file:line and hint:\n%s", errb.String())
	}
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks}\nworkers:\n  - name: W\n    id: 1\n    kind: CMSSigner\n    token: t\n    key: k\n    properties: {AUTHTYPE: NOAUTH}\n"), 0o644)
	out.Reset()
	if err := run(t.Context(), []string{"config", "check", good}, &out, &errb); err != nil {
		t.Fatalf("good file: %v", err)
	}
}

// addExtraWorker rewrites the demo configuration in data with one more
// worker, Extra (id 99), and returns the configuration file.
func addExtraWorker(t *testing.T, data string) string {
	t.Helper()
	cfg := filepath.Join(data, "signet.yaml")
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	added := strings.Replace(string(orig), "\nworkers:\n", "\nworkers:\n  - name: Extra\n    id: 99\n    kind: CMSSigner\n    token: demo\n    key: signer-p256\n    properties: {AUTHTYPE: NOAUTH}\n", 1)
	if added == string(orig) {
		t.Fatal("the demo configuration has no workers: line")
	}
	if err := os.WriteFile(cfg, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checkExtraSigns has the worker Extra (addExtraWorker) of s sign a
// document, and checks the attached CMS signature against s's demo CA.
func checkExtraSigns(t *testing.T, s *server, when string) {
	t.Helper()
	doc := []byte("a document for Extra")
	code, sig := s.postRaw(t, "Extra", bytes.NewReader(doc), nil)
	if code != http.StatusOK {
		t.Fatalf("Extra answers %d %s: %s", code, when, sig)
	}
	checkSignature(t, sig, doc, false, filepath.Join(s.data, "demo-ca.pem"), false, crypto.SHA256)
}

// TestReload rewrites the configuration, asks the server to reload (what
// SIGHUP does in the signet process) and sees the new worker; a broken file
// is refused and the running workers stay.
func TestReload(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	if code, _ := s.postRaw(t, "Extra", strings.NewReader("doc"), nil); code != http.StatusNotFound {
		t.Fatalf("Extra answers %d before the reload, want 404", code)
	}
	cfg := addExtraWorker(t, s.data)
	s.reloadConfig(t, "configuration reloaded")
	checkExtraSigns(t, s, "after the reload")
	if err := os.WriteFile(cfg, []byte("workers: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.reloadConfig(t, "configuration reload refused")
	checkExtraSigns(t, s, "after a refused reload")
}

// TestReloadOnSIGHUP runs signet serve as a process of its own, rewrites
// its configuration and sends it SIGHUP: the one test of the real signal
// (the others ask their in-process server through Options.Reload), so that
// no test signals the test process itself.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	cmd := signetCmd(context.Background(), nil, "serve", "--data", data, "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening, reloaded := make(chan string, 1), make(chan string, 1)
	var readers sync.WaitGroup
	readers.Go(func() { scanFor(stdout, "Signet listening on ", listening) })
	readers.Go(func() { scanFor(stderr, "configuration reloaded", reloaded) })
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		readers.Wait() // Wait closes the pipes: read them to their end first
		cmd.Wait()
	})
	var url string
	select {
	case line, ok := <-listening:
		if !ok {
			t.Fatal("signet serve ended before it listened")
		}
		url = strings.TrimPrefix(line, "Signet listening on ")
	case <-time.After(30 * time.Second): // bounds a server that does not start
		t.Fatal("signet serve does not listen within 30 s")
	}
	trustCA(t, filepath.Join(data, "demo-ca.pem"))
	addExtraWorker(t, data)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-reloaded:
		if !ok {
			t.Fatal("signet serve ended on SIGHUP instead of reloading")
		}
	case <-time.After(10 * time.Second): // bounds a server that ignores SIGHUP
		t.Fatal("signet serve did not log a reload within 10 s of SIGHUP")
	}
	checkExtraSigns(t, &server{url: url, data: data}, "after SIGHUP")
}

// scanFor sends the first line of r that contains text on found (which
// has room for it), reads r to its end and closes found.
func scanFor(r io.Reader, text string, found chan<- string) {
	defer close(found)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.Contains(sc.Text(), text) {
			found <- sc.Text()
			break
		}
	}
	io.Copy(io.Discard, r)
}

// TestConfigCheckMaxPDFObjects: signet config check accepts MAX_PDF_OBJECTS
// from 1 up, raised past its default or lowered, and refuses other values
// at their file:line with the sentence config gives the server (which
// workers' TestBuildAgreesWithConfigRules holds to the same cases).
func TestConfigCheckMaxPDFObjects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ value, want string }{
		{"1", ""},
		{"40000", ""},
		{"2000000", ""},
		{"0", "MAX_PDF_OBJECTS must be at least 1, not 0."},
		{"40k", `MAX_PDF_OBJECTS must be a whole number, not "40k".`},
		{"99999999999999999999", "MAX_PDF_OBJECTS must be at most 9223372036854775807, not 99999999999999999999."},
	} {
		t.Run(c.value, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "ks"), 0o700); err != nil { // the keystore, empty
				t.Fatal(err)
			}
			file := filepath.Join(dir, "signet.yaml")
			os.WriteFile(file, []byte("tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks}\nworkers:\n  - name: W\n    id: 1\n    kind: PDFSigner\n    token: t\n    key: k\n    properties:\n      AUTHTYPE: NOAUTH\n      MAX_PDF_OBJECTS: "+c.value+"\n"), 0o644)
			var out, errb bytes.Buffer
			err := run(t.Context(), []string{"config", "check", file}, &out, &errb)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v\n%s", err, errb.String())
				}
				return
			}
			if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(errb.String(), file+":13: "+c.want) {
				t.Fatalf("exit %v, output:\n%s\nwant %s:13: %s", err, errb.String(), file, c.want)
			}
		})
	}
}
