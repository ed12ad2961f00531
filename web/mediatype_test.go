package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/digitorus/timestamp"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/server"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// demoHandler serves the demo configuration's real workers (soft tokens).
func demoHandler(t *testing.T, lim web.Limits) http.Handler {
	t.Helper()
	files, _, err := demo.Bootstrap(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(files.Config)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	set := workers.Build(t.Context(), cfg, workers.BuildOptions{Open: server.TokenOpener(nil), Logger: log})
	if off := set.Offline(); len(off) > 0 {
		t.Fatalf("demo workers offline: %v", off)
	}
	return web.New(web.Options{Registry: workers.NewRegistry(set), Logger: log, TempDir: t.TempDir(), Limits: lim}).Handler()
}

// multipartBody is a form with the fields and one file part.
func multipartBody(t *testing.T, fields map[string]string, file []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("filerecievefile", "q.tsq")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

// TestContentTypes: where a protocol names the media type of a request body
// (RFC 3161 section 3.4 for time-stamp queries, SignServer's JSON batches,
// the REST API's JSON, the process servlet's forms), a body of another type
// is refused with 415 and one sentence naming the header to send; where the
// body is the document itself, any type is the document's (issue 14: only
// the REST API checked).
func TestContentTypes(t *testing.T) {
	t.Parallel()
	h := demoHandler(t, web.Limits{})
	sum := sha256.Sum256([]byte("doc"))
	tsq, err := timestamp.CreateRequest(bytes.NewReader([]byte("doc")), &timestamp.RequestOptions{Certificates: true})
	if err != nil {
		t.Fatal(err)
	}
	batch := `{"signatureRequests":[{"data":"` + base64.StdEncoding.EncodeToString(sum[:]) + `","hashingAlgorithm":"SHA-256","customIdentifier":"a"}]}`
	batchQuery := "?REQUEST_METADATA.USING_BATCHSIGNING=true&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true"
	mpType, mpBody := multipartBody(t, map[string]string{"workerName": "TimeStampSigner"}, tsq)
	form := url.Values{"workerName": {"CAdESSigner"}, "data": {batch},
		"REQUEST_METADATA.USING_BATCHSIGNING": {"true"}, "REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH": {"true"}}.Encode()
	for _, tc := range []struct {
		name, path, ctype string
		body              []byte
		code              int
		want              string // in a 415's sentence
	}{
		{"TSA query", "/signserver/worker/TimeStampSigner", "application/timestamp-query", tsq, 200, ""},
		{"TSA query with a parameter", "/signserver/worker/TimeStampSigner", "application/timestamp-query; charset=binary", tsq, 200, ""},
		{"TSA query as octets", "/signserver/worker/TimeStampSigner", "application/octet-stream", tsq, 415, "Content-Type: application/timestamp-query"},
		{"TSA query as curl's default form type", "/signserver/worker/TimeStampSigner", "application/x-www-form-urlencoded", tsq, 415, "not application/x-www-form-urlencoded"},
		{"TSA query without a type", "/signserver/worker/TimeStampSigner", "", tsq, 415, "application/timestamp-query"},
		{"TSA query with a type that does not parse", "/signserver/worker/TimeStampSigner", "timestamp query", tsq, 415, "application/timestamp-query"},
		{"TSA query through the process servlet's query string", "/signserver/process?workerName=TimeStampSigner", "application/timestamp-query", tsq, 200, ""},
		{"TSA query as octets through the process servlet", "/signserver/process?workerName=TimeStampSigner", "application/octet-stream", tsq, 415, "application/timestamp-query"},
		{"TSA query as a file of a multipart form", "/signserver/process", mpType, mpBody, 200, ""},
		{"batch as JSON", "/signserver/worker/CAdESSigner" + batchQuery, "application/json", []byte(batch), 200, ""},
		{"batch as JSON with a charset", "/signserver/worker/CAdESSigner" + batchQuery, "application/json; charset=utf-8", []byte(batch), 200, ""},
		{"batch as text", "/signserver/worker/CAdESSigner" + batchQuery, "text/plain", []byte(batch), 415, "Content-Type: application/json"},
		{"batch as curl's default form type", "/signserver/worker/CAdESSigner" + batchQuery, "application/x-www-form-urlencoded", []byte(batch), 415, "A batch request"},
		{"batch in a form's data field", "/signserver/process", "application/x-www-form-urlencoded", []byte(form), 200, ""},
		{"document of any type", "/signserver/worker/CMSSigner", "text/plain", []byte("doc"), 200, ""},
		{"document without a type", "/signserver/worker/CMSSigner", "", []byte("doc"), 200, ""},
		{"REST as text", "/signserver/rest/v1/workers/CMSSigner/process", "text/plain", []byte(`{"data":"doc"}`), 415, "application/json"},
		{"process servlet: no form, no worker", "/signserver/process", "application/pdf", []byte("%PDF"), 415, "multipart/form-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("POST", "http://signet"+tc.path, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			b, _ := io.ReadAll(rec.Body)
			if rec.Code != tc.code {
				t.Fatalf("%d %q, want %d", rec.Code, b, tc.code)
			}
			if tc.code != 415 {
				return
			}
			msg := strings.TrimSpace(string(b))
			if !strings.Contains(msg, tc.want) || strings.Count(msg, ". ") > 0 || !strings.HasSuffix(strings.TrimSuffix(msg, `"}`), ".") {
				t.Errorf("415 says %q, want one sentence with %q", msg, tc.want)
			}
		})
	}
}
