package web_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
	"github.com/signet-project/signet/internal/server"
	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// FuzzRealEndpoints sends fuzzed requests to every endpoint family served by
// the demo configuration's real workers (CMS, CAdES with batches, plain,
// time-stamp) on soft tokens: no input may get a 5xx, a panic or a hang.
func FuzzRealEndpoints(f *testing.F) {
	dir := f.TempDir()
	files, _, err := demo.Bootstrap(f.Context(), dir)
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := config.Load(files.Config)
	if err != nil {
		f.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	set := workers.Build(f.Context(), cfg, workers.BuildOptions{Open: server.TokenOpener(nil), Logger: log})
	if off := set.Offline(); len(off) > 0 {
		f.Fatalf("demo workers offline: %v", off)
	}
	srv := web.New(web.Options{Registry: workers.NewRegistry(set), MaxUploadSize: 1 << 16, Logger: log, TempDir: f.TempDir(),
		Limits: web.Limits{MaxRequestMemory: 1 << 15}})
	h := srv.Handler()
	batch := "REQUEST_METADATA.USING_BATCHSIGNING=true&REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256"
	f.Add(0, "", `{"data":"x"}`)
	f.Add(1, "", `{"data":"eA==","encoding":"BASE64","metaData":{"USING_BATCHSIGNING":"false"}}`)
	f.Add(2, batch, `{"signatureRequests":[{"data":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","customIdentifier":"a"}]}`)
	f.Add(3, "REQUEST_METADATA.USING_CLIENTSUPPLIED_HASH=true&REQUEST_METADATA.CLIENTSIDE_HASHDIGESTALGORITHM=SHA-256", "0123456789abcdef0123456789abcdef")
	f.Add(4, "", "0\x020\x01\x01")
	f.Add(5, "workerName=PlainSigner", "data=abc&encoding=base64")
	f.Add(6, "", "--b\r\nContent-Disposition: form-data; name=\"workerName\"\r\n\r\nCMSSigner\r\n--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"a\"\r\n\r\nx\r\n--b--\r\n")
	f.Fuzz(func(t *testing.T, route int, query, body string) {
		targets := []struct{ path, ctype string }{
			{"/signserver/rest/v1/workers/CMSSigner/process", "application/json"},
			{"/signserver/rest/v1/workers/CAdESSigner/process", "application/json"},
			{"/signserver/worker/CAdESSigner", "application/json"},
			{"/signserver/worker/PlainSigner", "application/octet-stream"},
			{"/signserver/worker/TimeStampSigner", "application/timestamp-query"},
			{"/signserver/process", "application/x-www-form-urlencoded"},
			{"/signserver/process", "multipart/form-data; boundary=b"},
		}
		tg := targets[(route%len(targets)+len(targets))%len(targets)]
		path := tg.path
		if query != "" {
			path += "?" + url.PathEscape(query)
		}
		req := httptest.NewRequest("POST", "http://signet"+strings.ReplaceAll(path, " ", "%20"), strings.NewReader(body))
		req.Header.Set("Content-Type", tg.ctype)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(rec, req); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("%s %q hangs:\n%s", path, body, buf[:runtime.Stack(buf, true)])
		}
		if rec.Code >= 500 || strings.Contains(logs.String(), "panic") {
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
	})
}
