package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/racetest"
	"github.com/signet-project/signet/workers"
)

// received is what a fake worker got.
type received struct {
	data []byte
	size int64
	meta map[string]string
	id   string
}

// echoWorker is a fake worker that answers with the document it read and
// records the request. err, when set, is returned instead; process, when
// set, replaces the whole behaviour.
type echoWorker struct {
	name     string
	id       int
	status   workers.Status
	disabled bool
	err      error
	cert     *x509.Certificate
	process  func(ctx context.Context, req *workers.Request) (*workers.Response, error)

	mu   sync.Mutex
	last received
}

func (w *echoWorker) Name() string   { return w.name }
func (w *echoWorker) ID() int        { return w.id }
func (w *echoWorker) Kind() string   { return "EchoSigner" }
func (w *echoWorker) Disabled() bool { return w.disabled }
func (w *echoWorker) Status(context.Context) workers.Status {
	return w.status
}

func (w *echoWorker) Process(ctx context.Context, req *workers.Request) (*workers.Response, error) {
	if w.process != nil {
		return w.process(ctx, req)
	}
	data, err := io.ReadAll(req.Data)
	if err != nil {
		return nil, fmt.Errorf("read document: %w", err)
	}
	w.mu.Lock()
	w.last = received{data: data, size: req.Size, meta: maps.Clone(req.Metadata), id: req.ID}
	w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	return &workers.Response{
		Data:              append([]byte("signed:"), data...),
		ContentType:       "application/x-test-signature",
		SignerCertificate: w.cert,
		Metadata:          map[string]string{"WORKER": w.name},
		Items:             1,
	}, nil
}

func (w *echoWorker) got() received {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// fixture is a Server over fake workers and an httptest server.
type fixture struct {
	t    *testing.T
	srv  *Server
	url  string
	echo *echoWorker // "Echo", ID 1
	logs *bytes.Buffer
	logm *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newFixture(t *testing.T, max int64, extra ...workers.Worker) *fixture {
	t.Helper()
	ca, err := demo.NewCA("Web Test CA")
	if err != nil {
		t.Fatal(err)
	}
	key, err := demo.NewKey("EC-P256")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("Echo Signer", key.Public(), demo.DocumentSigning, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	echo := &echoWorker{name: "Echo", id: 1, status: workers.Status{Active: true}, cert: cert}
	ws := append([]workers.Worker{echo}, extra...)
	f := &fixture{t: t, echo: echo, logs: &bytes.Buffer{}, logm: &sync.Mutex{}}
	log := slog.New(slog.NewJSONHandler(lockedWriter{f.logm, f.logs}, nil))
	f.srv = New(Options{Registry: workers.NewRegistry(workers.NewSet(ws, nil)), MaxUploadSize: max, Logger: log, TempDir: t.TempDir()})
	hs := httptest.NewServer(f.srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

// do sends a request and returns the status, body and response.
func (f *fixture) do(method, path, ctype string, body io.Reader) (int, string, *http.Response) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp
}

func (f *fixture) logLines() []map[string]any {
	f.logm.Lock()
	defer f.logm.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			f.t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

const formType = "application/x-www-form-urlencoded"

func form(v url.Values) io.Reader { return strings.NewReader(v.Encode()) }

type part struct {
	name, filename, value string
}

func multipartBody(parts ...part) (string, *bytes.Buffer) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		if p.filename != "" {
			w, _ := mw.CreateFormFile(p.name, p.filename)
			io.WriteString(w, p.value)
		} else {
			mw.WriteField(p.name, p.value)
		}
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestHappyPaths sends a document through every endpoint and form, and
// checks what the worker got and what the client got back.
func TestHappyPaths(t *testing.T) {
	f := newFixture(t, 0)
	mpType, mp := multipartBody(
		part{name: "workerName", value: "Echo"},
		part{name: "REQUEST_METADATA.Mode", value: "fast"},
		part{name: "filerecievefile", filename: `C:\docs\report.pdf`, value: "file content"},
		part{name: "REQUEST_METADATA", value: "A=1\nB = two words\n# comment\nC:3"},
	)
	mpType2, mp2 := multipartBody(
		part{name: "encoding", value: "base64"},
		part{name: "upload", filename: "doc.b64", value: b64("decoded file") + "\r\n"},
		part{name: "workerId", value: "1"},
	)
	mpType3, mp3 := multipartBody(part{name: "workerName", value: "echo"}, part{name: "data", value: "data as a field"})
	cases := []struct {
		name, method, path, ctype string
		body                      io.Reader
		wantData                  string
		wantMeta                  map[string]string
		wantSize                  int64
		wantDisposition           string
	}{
		{"form by name", "POST", "/signserver/process", formType, form(url.Values{"workerName": {"Echo"}, "data": {"hello"}}), "hello", map[string]string{}, 5, ""},
		{"form by id", "POST", "/signserver/process", formType, form(url.Values{"workerId": {"1"}, "data": {"hello"}, "processType": {"signDocument"}}), "hello", map[string]string{}, 5, ""},
		{"form base64", "POST", "/signserver/process", formType, form(url.Values{"workerName": {"Echo"}, "data": {b64("binary\x00\xff")}, "encoding": {"base64"}}), "binary\x00\xff", map[string]string{}, 8, ""},
		{"form base64 with + sent unescaped", "POST", "/signserver/process", formType, strings.NewReader("workerName=Echo&encoding=base64&data=" + b64("\xfb\xef\xbe")), "\xfb\xef\xbe", map[string]string{}, 3, ""},
		{"form metadata both ways", "POST", "/signserver/process", formType, form(url.Values{"workerName": {"Echo"}, "data": {"d"}, "REQUEST_METADATA": {"X=from props\ny=2"}, "REQUEST_METADATA.X": {"from field"}}), "d", map[string]string{"X": "from field", "Y": "2"}, 1, ""},
		{"form fields in query", "POST", "/signserver/process?workerName=Echo&REQUEST_METADATA.K=v", formType, form(url.Values{"data": {"q"}}), "q", map[string]string{"K": "v"}, 1, ""},
		{"GET process", "GET", "/signserver/process?workerName=Echo&data=" + url.QueryEscape("via get") + "&REQUEST_METADATA.K=v", "", nil, "via get", map[string]string{"K": "v"}, 7, ""},
		{"multipart file and metadata", "POST", "/signserver/process", mpType, mp, "file content", map[string]string{"MODE": "fast", "A": "1", "B": "two words", "C": "3"}, 12, `attachment; filename=report.pdf`},
		{"multipart base64 file, worker after file", "POST", "/signserver/process", mpType2, mp2, "decoded file", map[string]string{}, -1, `attachment; filename=doc.b64`},
		{"multipart data field", "POST", "/signserver/process", mpType3, mp3, "data as a field", map[string]string{}, 15, ""},
		{"process raw pass-through", "POST", "/signserver/process?workerName=Echo&REQUEST_METADATA.K=v", "application/octet-stream", strings.NewReader("raw body"), "raw body", map[string]string{"K": "v"}, 8, ""},
		{"worker servlet raw", "POST", "/signserver/worker/Echo?REQUEST_METADATA.USING_BATCHSIGNING=false&REQUEST_METADATA.k2=x", "application/octet-stream", strings.NewReader("raw"), "raw", map[string]string{"USING_BATCHSIGNING": "false", "K2": "x"}, 3, ""},
		{"worker servlet curl default type", "POST", "/signserver/worker/Echo", formType, strings.NewReader("a=b&c"), "a=b&c", map[string]string{}, 5, ""},
		{"worker servlet by id", "POST", "/signserver/worker/1", "application/pdf", strings.NewReader("%PDF"), "%PDF", map[string]string{}, 4, ""},
		{"worker servlet GET", "GET", "/signserver/worker/Echo?data=abc&encoding=none", "", nil, "abc", map[string]string{}, 3, ""},
		{"worker servlet base64 body", "POST", "/signserver/worker/Echo?encoding=base64", "text/plain", strings.NewReader(b64("decoded body")), "decoded body", map[string]string{}, -1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, resp := f.do(c.method, c.path, c.ctype, c.body)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if body != "signed:"+c.wantData {
				t.Errorf("body %q, want %q", body, "signed:"+c.wantData)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-test-signature" {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := resp.Header.Get("Content-Length"); cl != fmt.Sprint(len(body)) {
				t.Errorf("Content-Length %q, body %d bytes", cl, len(body))
			}
			if d := resp.Header.Get("Content-Disposition"); d != c.wantDisposition {
				t.Errorf("Content-Disposition %q, want %q", d, c.wantDisposition)
			}
			got := f.echo.got()
			if !maps.Equal(got.meta, c.wantMeta) {
				t.Errorf("metadata %v, want %v", got.meta, c.wantMeta)
			}
			if got.size != c.wantSize {
				t.Errorf("size %d, want %d", got.size, c.wantSize)
			}
			if id := resp.Header.Get(HeaderRequestID); id == "" || id != got.id {
				t.Errorf("X-Request-ID %q, worker saw %q", id, got.id)
			}
		})
	}
}

// TestREST checks the REST process call by name and by ID, with both
// encodings and metadata, against SignServer's field names.
func TestREST(t *testing.T) {
	f := newFixture(t, 0)
	cases := []struct {
		name, worker, body, wantData string
		wantMeta                     map[string]string
	}{
		{"by name", "Echo", `{"data":"Sample Data!"}`, "Sample Data!", map[string]string{}},
		{"by name, any case", "echo", `{"data":"x","encoding":"NONE"}`, "x", map[string]string{}},
		{"by id", "1", `{"data":"` + b64("\x00\x01bin") + `","encoding":"BASE64","metaData":{"using_batchsigning":"false","K":"v"}}`, "\x00\x01bin", map[string]string{"USING_BATCHSIGNING": "false", "K": "v"}},
		{"empty document", "Echo", `{"data":""}`, "", map[string]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, resp := f.do("POST", "/signserver/rest/v1/workers/"+c.worker+"/process", "application/json; charset=utf-8", strings.NewReader(c.body))
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			var out map[string]any
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"data", "requestId", "signerCertificate", "metaData"} {
				if _, ok := out[k]; !ok {
					t.Errorf("response lacks %q: %s", k, body)
				}
			}
			data, _ := base64.StdEncoding.DecodeString(out["data"].(string))
			if string(data) != "signed:"+c.wantData {
				t.Errorf("data %q", data)
			}
			if out["requestId"] != resp.Header.Get(HeaderRequestID) || out["requestId"] != f.echo.got().id {
				t.Errorf("requestId %v, header %q", out["requestId"], resp.Header.Get(HeaderRequestID))
			}
			der, _ := base64.StdEncoding.DecodeString(out["signerCertificate"].(string))
			if !bytes.Equal(der, f.echo.cert.Raw) {
				t.Error("signerCertificate is not the worker's certificate")
			}
			if m := out["metaData"].(map[string]any); m["WORKER"] != "Echo" {
				t.Errorf("metaData %v", m)
			}
			if got := f.echo.got().meta; !maps.Equal(got, c.wantMeta) {
				t.Errorf("worker metadata %v, want %v", got, c.wantMeta)
			}
		})
	}
}

// TestBadInput sends malformed and refused requests to every endpoint: each
// gets its status code and a sentence saying what to fix, never a 500
// unless the worker is misconfigured, never echo's {"message"}.
func TestBadInput(t *testing.T) {
	const limit = 4096
	var (
		illegal     = &echoWorker{name: "Illegal", id: 2, err: workers.Illegal("USING_BATCHSIGNING value %q is not a boolean: use true or false.", "maybe")}
		large       = &echoWorker{name: "Large", id: 3, err: workers.TooLarge("The batch has more than 100 items: send fewer.")}
		misconf     = &echoWorker{name: "Misconf", id: 4, err: &workers.Error{Kind: workers.ErrMisconfigured, Msg: "Worker Misconf is misconfigured: fix SIGNATUREALGORITHM."}}
		offline     = &echoWorker{name: "Offline", id: 5, err: workers.Unavailable(errors.New("token t is offline"), "The worker's token is offline: activate it.")}
		notFound    = &echoWorker{name: "Inner", id: 6, err: &workers.Error{Kind: workers.ErrNotFound, Msg: "No key named k: check DEFAULTKEY."}}
		lostLimit   = &echoWorker{name: "LostLimit", id: 7}
		wrapLimit   = &echoWorker{name: "WrapLimit", id: 8}
		nilResponse = &echoWorker{name: "Nil", id: 9}
		badRead     = &echoWorker{name: "BadRead", id: 10}
	)
	lostLimit.process = func(_ context.Context, req *workers.Request) (*workers.Response, error) {
		if _, err := io.ReadAll(req.Data); err != nil {
			return nil, workers.Illegal("The document could not be read.") // the cause is lost
		}
		return &workers.Response{}, nil
	}
	wrapLimit.process = func(_ context.Context, req *workers.Request) (*workers.Response, error) {
		if _, err := io.ReadAll(req.Data); err != nil {
			return nil, fmt.Errorf("hash document: %w", err)
		}
		return &workers.Response{}, nil
	}
	nilResponse.process = func(context.Context, *workers.Request) (*workers.Response, error) { return nil, nil }
	badRead.process = func(_ context.Context, req *workers.Request) (*workers.Response, error) {
		_, err := io.ReadAll(req.Data)
		return nil, err
	}
	f := newFixture(t, limit, illegal, large, misconf, offline, notFound, lostLimit, wrapLimit, nilResponse, badRead)
	big := strings.Repeat("x", limit+1)
	long := strings.Repeat("k", 3000)
	rest := func(worker, body string) (string, string, string, io.Reader) {
		return "POST", "/signserver/rest/v1/workers/" + worker + "/process", "application/json", strings.NewReader(body)
	}
	proc := func(v url.Values) (string, string, string, io.Reader) {
		return "POST", "/signserver/process", formType, form(v)
	}
	raw := func(path, body string) (string, string, string, io.Reader) {
		return "POST", path, "application/octet-stream", strings.NewReader(body)
	}
	chunked := func(path string, n int) (string, string, string, io.Reader) {
		// A reader that is not a *strings.Reader: sent chunked, length unknown.
		return "POST", path, "application/octet-stream", io.MultiReader(strings.NewReader(strings.Repeat("y", n)))
	}
	mp := func(parts ...part) (string, string, string, io.Reader) {
		ct, body := multipartBody(parts...)
		return "POST", "/signserver/process", ct, body
	}
	type req struct {
		method, path, ctype string
		body                io.Reader
	}
	r := func(m, p, c string, b io.Reader) req { return req{m, p, c, b} }
	cases := []struct {
		name string
		r    req
		code int
		msg  string
	}{
		// Process servlet.
		{"servlet: unknown worker", r(proc(url.Values{"workerName": {"Nope"}, "data": {"d"}})), 404, `No worker named or numbered "Nope"`},
		{"servlet: unknown worker id", r(proc(url.Values{"workerId": {"999"}, "data": {"d"}})), 404, `No worker named or numbered "999"`},
		{"servlet: workerId too large for a worker", r(proc(url.Values{"workerId": {"99999999999999999999"}, "data": {"d"}})), 404, `No worker named or numbered "99999999999999999999"`},
		{"servlet: workerId not a number", r(proc(url.Values{"workerId": {"one"}, "data": {"d"}})), 400, `workerId "one" is not a number`},
		{"servlet: no worker", r(proc(url.Values{"data": {"d"}})), 400, "workerName or workerId"},
		{"servlet: no data", r(proc(url.Values{"workerName": {"Echo"}})), 400, "data field or as a file"},
		{"servlet: bad base64", r(proc(url.Values{"workerName": {"Echo"}, "data": {"@@@"}, "encoding": {"base64"}})), 400, "data field is not valid base64"},
		{"servlet: unknown encoding", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "encoding": {"hex"}})), 400, `encoding "hex" is not supported`},
		{"servlet: validateDocument", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "processType": {"validateDocument"}})), 400, "use signDocument"},
		{"servlet: unknown processType", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "processType": {"shred"}})), 400, `processType "shred" is unknown`},
		{"servlet: wrong content type, no worker", r("POST", "/signserver/process", "text/plain", strings.NewReader("d")), 415, "multipart/form-data"},
		{"servlet: no content type", r("POST", "/signserver/process", "", strings.NewReader("d")), 415, "name the worker with workerName or workerId in the query string"},
		{"servlet: oversize form", r(proc(url.Values{"workerName": {"Echo"}, "data": {big}})), 413, "upload limit of 4096 bytes"},
		{"servlet: oversize multipart", r(mp(part{name: "workerName", value: "Echo"}, part{name: "f", filename: "a", value: big})), 413, "upload limit of 4096 bytes"},
		{"servlet: oversize chunked pass-through", r(chunked("/signserver/process?workerName=Echo", limit+10)), 413, "upload limit of 4096 bytes"},
		{"servlet: multipart without worker", r(mp(part{name: "data", value: "d"})), 400, "workerName or workerId"},
		{"servlet: multipart without document", r(mp(part{name: "workerName", value: "Echo"})), 400, "data field or as a file"},
		{"servlet: multipart two files", r(mp(part{name: "workerName", value: "Echo"}, part{name: "a", filename: "a", value: "1"}, part{name: "b", filename: "b", value: "2"})), 400, "more than one document"},
		{"servlet: multipart without boundary", r("POST", "/signserver/process", "multipart/form-data", strings.NewReader("x")), 400, "no boundary"},
		// Go's words were the sentence: "(NextPart: EOF)", "(unexpected EOF)".
		{"servlet: multipart truncated", r("POST", "/signserver/process", "multipart/form-data; boundary=zz", strings.NewReader("--zz\r\nContent-Disposition: form-data; name=\"workerName\"\r\n\r\nEcho")), 400, "ends before its closing boundary: start each part with --BOUNDARY"},
		{"servlet: multipart empty", r("POST", "/signserver/process", "multipart/form-data; boundary=zz", strings.NewReader("")), 400, "ends before its closing boundary"},
		{"servlet: multipart without boundary lines", r("POST", "/signserver/process", "multipart/form-data; boundary=zz", strings.NewReader("data=x")), 400, "ends before its closing boundary"},
		{"servlet: multipart without closing boundary", r("POST", "/signserver/process", "multipart/form-data; boundary=zz", strings.NewReader("--zz\r\nContent-Disposition: form-data; name=\"workerName\"\r\n\r\nEcho\r\n--zz")), 400, "ends before its closing boundary"},
		{"servlet: multipart bad base64 file", r(mp(part{name: "workerName", value: "Echo"}, part{name: "encoding", value: "base64"}, part{name: "f", filename: "a", value: "!!!!"})), 400, "not valid base64"},
		{"servlet: empty metadata key", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "REQUEST_METADATA.": {"v"}})), 400, "metadata key is empty"},
		{"servlet: metadata key with space", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "REQUEST_METADATA.A B": {"v"}})), 400, `key "A B" has a character`},
		{"servlet: malformed REQUEST_METADATA", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "REQUEST_METADATA": {`K=\u12`}})), 400, `malformed \u escape`},
		{"servlet: malformed query", r("POST", "/signserver/process?workerName=%zz", formType, strings.NewReader("data=d")), 400, "query string is malformed"},
		{"servlet: oversize field", r(mp(part{name: "workerName", value: "Echo"}, part{name: "REQUEST_METADATA.A", value: strings.Repeat("v", maxFieldSize+1)}, part{name: "data", value: "d"})), 413, "upload limit"},
		// Worker servlet.
		{"worker: unknown worker", r(raw("/signserver/worker/Nope", "d")), 404, `No worker named or numbered "Nope"`},
		{"worker: oversize by Content-Length", r(raw("/signserver/worker/Echo", big)), 413, "upload limit of 4096 bytes"},
		{"worker: oversize chunked", r(chunked("/signserver/worker/Echo", limit+10)), 413, "upload limit of 4096 bytes"},
		{"worker: oversize, worker lost the cause", r(chunked("/signserver/worker/LostLimit", limit+10)), 413, "upload limit of 4096 bytes"},
		{"worker: oversize, worker wrapped the cause", r(chunked("/signserver/worker/WrapLimit", limit+10)), 413, "upload limit of 4096 bytes"},
		{"worker: oversize, worker returned the read error", r(chunked("/signserver/worker/BadRead", limit+10)), 413, "upload limit of 4096 bytes"},
		{"worker: bad metadata key", r(raw("/signserver/worker/Echo?REQUEST_METADATA.%C3%A9=1", "d")), 400, "has a character other than"},
		{"worker: metadata value not UTF-8", r(raw("/signserver/worker/Echo?REQUEST_METADATA.REASON=%ff", "d")), 400, "REASON is not valid UTF-8"},
		{"servlet: metadata value not UTF-8", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "REQUEST_METADATA.LOCATION": {"caf\xe9"}})), 400, "LOCATION is not valid UTF-8"},
		{"worker: GET without data", r("GET", "/signserver/worker/Echo", "", nil), 400, "data field"},
		{"worker: bad base64 body", r("POST", "/signserver/worker/Echo?encoding=base64", "text/plain", strings.NewReader("%%%%")), 400, "not valid base64"},
		{"worker: truncated base64 body", r("POST", "/signserver/worker/Echo?encoding=base64", "text/plain", strings.NewReader("QUJD0")), 400, "not valid base64"},
		// Worker errors of each kind.
		{"worker error: illegal request", r(raw("/signserver/worker/Illegal", "d")), 400, `USING_BATCHSIGNING value "maybe" is not a boolean`},
		{"worker error: too large", r(raw("/signserver/worker/Large", "d")), 413, "more than 100 items"},
		{"worker error: not found", r(raw("/signserver/worker/Inner", "d")), 404, "No key named k"},
		{"worker error: misconfigured", r(raw("/signserver/worker/Misconf", "d")), 500, "fix SIGNATUREALGORITHM"},
		{"worker error: unavailable", r(raw("/signserver/worker/Offline", "d")), 503, "token is offline: activate it"},
		{"worker error: REST unavailable", r(rest("Offline", `{"data":"d"}`)), 503, "token is offline: activate it"},
		{"worker error: no response", r(raw("/signserver/worker/Nil", "d")), 500, "Internal error"},
		// REST.
		{"REST: malformed JSON", r(rest("Echo", `{"data":`)), 400, "not valid JSON"},
		{"REST: syntax error", r(rest("Echo", `{"data" "x"}`)), 400, "not valid JSON"},
		{"REST: empty body", r(rest("Echo", ``)), 400, "body is empty"},
		{"REST: array body", r(rest("Echo", `[1]`)), 400, "not an object"},
		{"REST: trailing data", r(rest("Echo", `{"data":"x"} {"data":"y"}`)), 400, "more after the JSON object"},
		{"REST: unknown field", r(rest("Echo", `{"data":"x","extra":1}`)), 400, `unknown field "extra"`},
		{"REST: data wrong type", r(rest("Echo", `{"data":42}`)), 400, `Field "data" has the wrong type`},
		{"REST: metadata not strings", r(rest("Echo", `{"data":"x","metaData":{"A":1}}`)), 400, `metaData value of "A" has the wrong type`},
		{"REST: metadata value null", r(rest("Echo", `{"data":"x","metaData":{"A":null}}`)), 400, `metaData value of "A" has the wrong type`},
		{"REST: metadata not an object", r(rest("Echo", `{"data":"x","metaData":"A=1"}`)), 400, `Field "metaData" has the wrong type`},
		{"REST: metadata bad key", r(rest("Echo", `{"data":"x","metaData":{"":"v"}}`)), 400, "metadata key is empty"},
		{"REST: metadata keys differ in case", r(rest("Echo", `{"data":"x","metaData":{"k":"1","K":"2"}}`)), 400, "name the same key"},
		{"REST: no data", r(rest("Echo", `{"encoding":"NONE"}`)), 400, "no data field"},
		{"REST: null data", r(rest("Echo", `{"data":null}`)), 400, "no data field"},
		{"REST: bad base64", r(rest("Echo", `{"data":"%%%","encoding":"BASE64"}`)), 400, "Field data is not valid base64"},
		{"REST: bad encoding", r(rest("Echo", `{"data":"x","encoding":"HEX"}`)), 400, "use NONE or BASE64"},
		{"REST: unknown worker", r(rest("Nope", `{"data":"x"}`)), 404, `No worker named or numbered "Nope"`},
		{"REST: unknown worker id", r(rest("4711", `{"data":"x"}`)), 404, `No worker named or numbered "4711"`},
		{"REST: wrong content type", r("POST", "/signserver/rest/v1/workers/Echo/process", "text/plain", strings.NewReader(`{"data":"x"}`)), 415, "takes application/json"},
		{"REST: invalid UTF-8 with encoding NONE", r("POST", "/signserver/rest/v1/workers/Echo/process", "application/json", strings.NewReader("{\"data\":\"a\xffb\"}")), 400, "encoding BASE64"},
		{"REST: unpaired surrogate with encoding NONE", r("POST", "/signserver/rest/v1/workers/Echo/process", "application/json", strings.NewReader(`{"data":"a\ud800b"}`)), 400, "encoding BASE64"},
		{"REST: data of the wrong type", r("POST", "/signserver/rest/v1/workers/Echo/process", "application/json", strings.NewReader(`{"data":5}`)), 400, "wrong type"},
		{"REST: oversize", r(rest("Echo", `{"data":"`+big+`"}`)), 413, "upload limit of 4096 bytes"},
		{"REST: oversize chunked", r("POST", "/signserver/rest/v1/workers/Echo/process", "application/json", io.MultiReader(strings.NewReader(`{"data":"`+big+`"}`))), 413, "upload limit of 4096 bytes"},
		{"REST: wrong method", r("GET", "/signserver/rest/v1/workers/Echo/process", "", nil), 405, "This endpoint does not accept \"GET\": use POST"},
		{"REST: no such route", r("POST", "/signserver/rest/v1/nothing", "application/json", strings.NewReader("{}")), 404, "No such endpoint"},
		// Client text is quoted up to 128 bytes, not whole.
		{"REST: long unknown field", r(rest("Echo", `{"data":"x","`+long+`":1}`)), 400, `unknown field "` + long[:128] + `"…: use data`},
		{"REST: long encoding", r(rest("Echo", `{"data":"x","encoding":"`+long+`"}`)), 400, `encoding "` + long[:128] + `"… is not supported`},
		{"servlet: long processType", r(proc(url.Values{"workerName": {"Echo"}, "data": {"d"}, "processType": {long}})), 400, `processType "` + long[:128] + `"… is unknown`},
		{"worker: long unknown worker", r(raw("/signserver/worker/"+long, "d")), 404, `No worker named or numbered "` + long[:128] + `"…: check`},
		// Routes.
		{"no such route", r("POST", "/signserver/nothing", "text/plain", strings.NewReader("")), 404, "No such endpoint"},
		{"wrong method", r("DELETE", "/signserver/process", "", nil), 405, "This endpoint does not accept \"DELETE\": use GET or POST."},
		{"health wrong method", r("POST", "/signserver/healthcheck/signserverhealth", "", nil), 405, "This endpoint does not accept \"POST\": use GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, resp := f.do(c.r.method, c.r.path, c.r.ctype, c.r.body)
			if code != c.code {
				t.Fatalf("status %d, want %d: %s", code, c.code, body)
			}
			if strings.Contains(body, `"message"`) || strings.Contains(body, "goroutine") {
				t.Fatalf("echo's error or a stack leaked: %s", body)
			}
			isREST := strings.HasPrefix(c.r.path, "/signserver/rest/")
			ct := resp.Header.Get("Content-Type")
			var msg string
			if isREST {
				var e map[string]string
				if err := json.Unmarshal([]byte(body), &e); err != nil || len(e) != 1 || e["error"] == "" {
					t.Fatalf("REST error is not {\"error\": ...}: %s", body)
				}
				if !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type %q", ct)
				}
				msg = e["error"]
			} else {
				if ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				msg = strings.TrimSuffix(body, "\n")
			}
			if !strings.Contains(msg, c.msg) {
				t.Fatalf("message %q does not contain %q", msg, c.msg)
			}
			if strings.Count(msg, "\n") > 0 || !strings.HasSuffix(msg, ".") {
				t.Errorf("message %q is not one sentence", msg)
			}
			if len(msg) > 512 {
				t.Errorf("message of %d bytes: client text repeated whole?", len(msg))
			}
			if resp.Header.Get(HeaderRequestID) == "" {
				t.Error("no X-Request-ID")
			}
			if c.code == 500 && c.msg == "Internal error" && strings.Contains(msg, "neither") {
				t.Errorf("internal detail leaked: %q", msg)
			}
		})
	}
	// Nothing above broke the server.
	if code, body, _ := f.do("POST", "/signserver/worker/Echo", "application/octet-stream", strings.NewReader("ok")); code != 200 || body != "signed:ok" {
		t.Fatalf("after bad input: %d %s", code, body)
	}
	// No spool file is left behind.
	if left, _ := os.ReadDir(f.srv.tempDir); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

// TestHealth checks ALLOK, and the problems of offline workers one per line
// with 500; disabled workers are left out, as in SignServer.
func TestHealth(t *testing.T) {
	t.Run("ALLOK", func(t *testing.T) {
		f := newFixture(t, 0, &echoWorker{name: "Off", id: 2, disabled: true, status: workers.Status{Errors: []string{"Worker is disabled (DISABLED=true)."}}})
		code, body, resp := f.do("GET", "/signserver/healthcheck/signserverhealth", "", nil)
		if code != 200 || body != "ALLOK" {
			t.Fatalf("%d %q", code, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("offline", func(t *testing.T) {
		off := &echoWorker{name: "Broken", id: 7, status: workers.Status{Errors: []string{"Token t is offline: activate it.", "Unknown property\nFOO."}}}
		off2 := &echoWorker{name: "Quiet", id: 8}
		// What the operating system and the network name, the health
		// check does not repeat to anyone who asks.
		private := &echoWorker{name: "Private", id: 9, status: workers.Status{Errors: []string{
			"/etc/signet/workers.yaml:12: Unknown property BAR.",
			"Crypto token \"t\" is offline: keystore unreadable: stat /var/lib/signet/keys: no such file or directory",
			"Crypto token \"h\" is offline: Post \"https://hsm.internal:8443/api/v1/keys/k/sign\": dial tcp 10.1.2.3:8443: connect: connection refused",
			"Crypto token \"p\" is offline: load module (/usr/lib/softhsm/libsofthsm2.so): not found",
			"Crypto token \"q\" is offline: dial tcp [fd00::1]:5432: i/o timeout; db.example:5432 down",
			"Signer certificate expired at 2026-12-02T10:00:00Z (10:00 UTC), SHA-256, and/or 1:2.",
		}}}
		f := newFixture(t, 0, off, off2, private)
		code, body, _ := f.do("GET", "/signserver/healthcheck/signserverhealth", "", nil)
		want := "Worker Broken (7): Token t is offline: activate it.\nWorker Broken (7): Unknown property FOO.\nWorker Quiet (8): offline\n" +
			"Worker Private (9): Unknown property BAR.\n" +
			"Worker Private (9): Crypto token \"t\" is offline: keystore unreadable: stat …: no such file or directory\n" +
			"Worker Private (9): Crypto token \"h\" is offline: Post \"…\": dial tcp …: connect: connection refused\n" +
			"Worker Private (9): Crypto token \"p\" is offline: load module (…): not found\n" +
			"Worker Private (9): Crypto token \"q\" is offline: dial tcp …: i/o timeout; … down\n" +
			"Worker Private (9): Signer certificate expired at 2026-12-02T10:00:00Z (10:00 UTC), SHA-256, and/or 1:2.\n"
		if code != 500 || body != want {
			t.Fatalf("%d %q, want 500 %q", code, body, want)
		}
	})
}

// TestMetrics checks that requests, items, errors and latency are counted
// by worker, endpoint and status on the Server's own registry.
func TestMetrics(t *testing.T) {
	f := newFixture(t, 0)
	f.do("POST", "/signserver/worker/Echo", "application/octet-stream", strings.NewReader("d"))
	f.do("POST", "/signserver/process", formType, form(url.Values{"workerName": {"Echo"}, "data": {"d"}}))
	f.do("POST", "/signserver/rest/v1/workers/Echo/process", "application/json", strings.NewReader(`{"data":"x","encoding":"HEX"}`))
	f.do("POST", "/signserver/worker/Nope", "application/octet-stream", strings.NewReader("d"))
	f.do("GET", "/nothing/here", "", nil)
	code, body, _ := f.do("GET", "/metrics", "", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{
		`signet_requests_total{endpoint="worker",status="200",worker="Echo"} 1`,
		`signet_requests_total{endpoint="process",status="200",worker="Echo"} 1`,
		`signet_requests_total{endpoint="rest",status="400",worker=""} 1`,
		`signet_requests_total{endpoint="worker",status="404",worker=""} 1`,
		`signet_requests_total{endpoint="other",status="404",worker=""} 1`,
		`signet_items_signed_total{worker="Echo"} 2`,
		`signet_errors_total{status="400"} 1`,
		`signet_errors_total{status="404"} 2`,
		`signet_request_duration_seconds_count{worker="Echo"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "Nope") {
		t.Error("an unknown worker name from a client became a label")
	}
}

// TestLogs checks the one line per request: its fields, and that neither the
// document nor metadata values reach the log.
func TestLogs(t *testing.T) {
	f := newFixture(t, 0)
	req, _ := http.NewRequest("POST", f.url+"/signserver/worker/Echo?REQUEST_METADATA.PIN=hunter2secret", strings.NewReader("confidential document"))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(HeaderRequestID, "client-chosen-id.42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(HeaderRequestID); got != "client-chosen-id.42" {
		t.Errorf("a sane X-Request-ID was not honoured: %q", got)
	}
	f.do("POST", "/signserver/process", formType, form(url.Values{"workerName": {"Echo"}, "data": {"another secret text"}, "REQUEST_METADATA": {"PASSWORD=s3cr3tpw"}}))
	lines := f.logLines()
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), f.logs)
	}
	l := lines[0]
	for k, want := range map[string]any{"msg": "request", "id": "client-chosen-id.42", "method": "POST", "path": "/signserver/worker/Echo", "worker": "Echo", "client": "127.0.0.1", "items": 1.0, "status": 200.0, "bytes_in": 21.0, "bytes_out": 28.0} {
		if l[k] != want {
			t.Errorf("log %s = %v, want %v", k, l[k], want)
		}
	}
	if ms, ok := l["duration_ms"].(float64); !ok || ms <= 0 || ms > 60_000 {
		t.Errorf("log duration_ms = %v, want milliseconds", l["duration_ms"])
	}
	for _, secret := range []string{"hunter2secret", "confidential", "another secret", "s3cr3tpw"} {
		if strings.Contains(f.logs.String(), secret) {
			t.Errorf("log holds %q:\n%s", secret, f.logs)
		}
	}

	// An unsafe incoming ID is replaced.
	req, _ = http.NewRequest("GET", f.url+"/signserver/healthcheck/signserverhealth", nil)
	req.Header.Set(HeaderRequestID, "bad id <script>")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(HeaderRequestID); got == "" || strings.ContainsAny(got, " <>") {
		t.Errorf("unsafe X-Request-ID kept: %q", got)
	}
}

// TestPanic checks that a panicking worker gets a 500 with a generic
// sentence, the panic goes to the log, and the server keeps serving.
func TestPanic(t *testing.T) {
	p := &echoWorker{name: "Panics", id: 2}
	p.process = func(context.Context, *workers.Request) (*workers.Response, error) { panic("secret detail") }
	f := newFixture(t, 0, p)
	code, body, _ := f.do("POST", "/signserver/rest/v1/workers/Panics/process", "application/json", strings.NewReader(`{"data":"x"}`))
	if code != 500 || strings.Contains(body, "secret detail") || !strings.Contains(body, "Internal error") {
		t.Fatalf("%d %s", code, body)
	}
	if !strings.Contains(f.logs.String(), "secret detail") {
		t.Error("the panic is not in the log")
	}
	if code, _, _ := f.do("POST", "/signserver/worker/Echo", "application/octet-stream", strings.NewReader("d")); code != 200 {
		t.Fatalf("after a panic: %d", code)
	}
}

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSum(n int64) string {
	h := sha256.New()
	io.Copy(h, &patternReader{n: n})
	return hex.EncodeToString(h.Sum(nil))
}

// hashWorker hashes the document as it streams by.
func hashWorker(name string, id int) *echoWorker {
	return &echoWorker{name: name, id: id, process: func(_ context.Context, req *workers.Request) (*workers.Response, error) {
		h := sha256.New()
		n, err := io.Copy(h, req.Data)
		if err != nil {
			return nil, err
		}
		return &workers.Response{Data: fmt.Appendf(nil, "%d %x", n, h.Sum(nil)), ContentType: "text/plain", Items: 1}, nil
	}}
}

// TestStreaming sends 256 MiB to the worker servlet and 64 MiB through a
// multipart upload, and checks that the worker got every byte while the
// process allocated far less than the body: nothing buffered it whole.
func TestStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload")
	}
	f := newFixture(t, 1<<30, hashWorker("Hash", 2))
	cases := []struct {
		name string
		size int64
		send func(size int64) (*http.Response, error)
	}{
		{"worker servlet raw body", 256 << 20, func(size int64) (*http.Response, error) {
			req, _ := http.NewRequest("POST", f.url+"/signserver/worker/Hash", &patternReader{n: size})
			req.ContentLength = size
			req.Header.Set("Content-Type", "application/octet-stream")
			return http.DefaultClient.Do(req)
		}},
		{"process servlet multipart, spooled", 64 << 20, func(size int64) (*http.Response, error) {
			pr, pw := io.Pipe()
			mw := multipart.NewWriter(pw)
			go func() {
				mw.WriteField("workerName", "Hash")
				h := make(textproto.MIMEHeader)
				h.Set("Content-Disposition", `form-data; name="filerecievefile"; filename="big.bin"`)
				w, _ := mw.CreatePart(h)
				io.Copy(w, &patternReader{n: size})
				mw.WriteField("REQUEST_METADATA.K", "after the file")
				pw.CloseWithError(mw.Close())
			}()
			req, _ := http.NewRequest("POST", f.url+"/signserver/process", pr)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			return http.DefaultClient.Do(req)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			resp, err := c.send(c.size)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if want := fmt.Sprintf("%d %s", c.size, patternSum(c.size)); string(body) != want {
				t.Fatalf("worker got %q, want %q", body, want)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d MiB sent, %.1f MiB allocated", c.size>>20, float64(alloc)/(1<<20))
			if alloc > uint64(c.size)/8 && !racetest.Enabled {
				t.Errorf("%d bytes allocated for a %d-byte body: it was buffered", alloc, c.size)
			}
		})
	}
	if left, _ := os.ReadDir(f.srv.tempDir); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

// TestRegistrySwap checks that a request in flight finishes on the set it
// started with while new requests see the new set.
func TestRegistrySwap(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	old := &echoWorker{name: "W", id: 1, process: func(context.Context, *workers.Request) (*workers.Response, error) {
		close(entered)
		<-release
		return &workers.Response{Data: []byte("old"), Items: 1}, nil
	}}
	reg := workers.NewRegistry(workers.NewSet([]workers.Worker{old}, nil))
	srv := New(Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	done := make(chan string)
	go func() {
		resp, err := http.Post(hs.URL+"/signserver/worker/W", "application/octet-stream", strings.NewReader("d"))
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	<-entered
	reg.Swap(workers.NewSet([]workers.Worker{&echoWorker{name: "W", id: 1}}, nil))
	resp, err := http.Post(hs.URL+"/signserver/worker/W", "application/octet-stream", strings.NewReader("d"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "signed:d" {
		t.Errorf("new request got %q", b)
	}
	close(release)
	if got := <-done; got != "old" {
		t.Errorf("request in flight got %q", got)
	}
}

// TestGracefulShutdown cancels Serve's context while a request is in
// flight: the request finishes, new connections are refused, Serve
// returns nil.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := &echoWorker{name: "Slow", id: 1, process: func(context.Context, *workers.Request) (*workers.Response, error) {
		close(entered)
		<-release
		return &workers.Response{Data: []byte("finished"), Items: 1}, nil
	}}
	var logged syncBuffer
	srv := New(Options{Registry: workers.NewRegistry(workers.NewSet([]workers.Worker{slow}, nil)), Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &notifyingListener{Listener: inner, closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	base := "http://" + l.Addr().String()

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/signserver/worker/Slow", "application/octet-stream", strings.NewReader("d"))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	cancel()
	// Once the listener is closed, new connections are refused.
	<-l.closed
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after the context is done")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}
	close(release)
	if r := <-inflight; r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("request in flight: %+v", r)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The log says when the stop began and that it ended.
	for _, want := range []string{"msg=\"stopping: no new requests; finishing those in flight\"", "msg=stopped took="} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logged.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// notifyingListener closes closed when it is closed: the event a test
// waits on for the server's shutdown to have stopped accepting.
type notifyingListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *notifyingListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// TestParseProperties checks the Java properties subset of the
// REQUEST_METADATA field.
func TestParseProperties(t *testing.T) {
	cases := []struct {
		in   string
		want [][2]string
	}{
		{"A=1", [][2]string{{"A", "1"}}},
		{"A = 1 \r\nB:2\n  C 3\n#D=4\n!E=5\n\nF=", [][2]string{{"A", "1 "}, {"B", "2"}, {"C", "3"}, {"F", ""}}},
		{`G=a\=b\:c\\d`, [][2]string{{"G", `a=b:c\d`}}},
		{"H=long \\\n    value", [][2]string{{"H", "long value"}}},
		{`I\ J=k`, [][2]string{{"I J", "k"}}},
		{`U=\u00e9\tx`, [][2]string{{"U", "é\tx"}}},
		{"V=${HOME}", [][2]string{{"V", "${HOME}"}}},
	}
	for _, c := range cases {
		got, err := parseProperties(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseProperties(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`A=\u12`, `A=\uzzzz`, "A=\xff"} {
		if _, err := parseProperties(bad); err == nil {
			t.Errorf("parseProperties(%q) accepted", bad)
		}
	}
}

// TestWorkerNameInPath: the servlet and REST both read a worker name in
// the path percent-decoded, however it is encoded: REST took the name as
// sent when it held an escape that Go's URL parser keeps raw (an encoded
// '/', hex digits in lower case), and answered 404 for a worker the
// servlet found; the servlet decoded a decoded name again ("x%2541" named
// "xA", not "x%41").
func TestWorkerNameInPath(t *testing.T) {
	f := newFixture(t, 0, &echoWorker{name: "My Worker", id: 2}, &echoWorker{name: "50%", id: 3}, &echoWorker{name: "Dept/Signer", id: 4}, &echoWorker{name: "Bücher", id: 5}, &echoWorker{name: "x%41", id: 6})
	for _, path := range []string{"/signserver/worker/My%20Worker", "/signserver/worker/50%25", "/signserver/rest/v1/workers/My%20Worker/process",
		"/signserver/rest/v1/workers/50%25/process", "/signserver/worker/Dept%2FSigner", "/signserver/rest/v1/workers/Dept%2FSigner/process",
		"/signserver/worker/B%c3%bccher", "/signserver/rest/v1/workers/B%c3%bccher/process", "/signserver/rest/v1/workers/B%C3%BCcher/process",
		"/signserver/worker/x%2541", "/signserver/rest/v1/workers/x%2541/process"} {
		ct, body := "application/octet-stream", "d"
		if strings.Contains(path, "/rest/") {
			ct, body = "application/json", `{"data":"d"}`
		}
		if code, out, _ := f.do("POST", path, ct, strings.NewReader(body)); code != 200 {
			t.Errorf("%s: %d %s", path, code, out)
		}
	}
}

// TestTruncatedBody checks that a body that ends before its Content-Length
// is the client's error (400), not the server's, even when the worker
// reports the read error as its own.
func TestTruncatedBody(t *testing.T) {
	f := newFixture(t, 0)
	u, _ := url.Parse(f.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /signserver/worker/Echo HTTP/1.1\r\nHost: signet\r\nContent-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\nonly part")
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "ended before its end") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
