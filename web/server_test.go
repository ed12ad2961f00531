package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// fakeWorker answers with what it read, after an optional delay, or panics.
type fakeWorker struct {
	name    string
	panics  bool
	offline []string
}

func (w *fakeWorker) Name() string { return w.name }
func (w *fakeWorker) ID() int      { return 7 }
func (w *fakeWorker) Kind() string { return "Fake" }
func (w *fakeWorker) Status(context.Context) workers.Status {
	return workers.Status{Active: len(w.offline) == 0, Errors: w.offline}
}
func (w *fakeWorker) Process(ctx context.Context, r *workers.Request) (*workers.Response, error) {
	if w.panics {
		panic("boom")
	}
	b, err := io.ReadAll(r.Data)
	if err != nil {
		return nil, err
	}
	return &workers.Response{Data: append([]byte("signed:"), b...), ContentType: "text/plain", Items: 1}, nil
}

func serve(t *testing.T, ws ...workers.Worker) (string, context.CancelFunc, chan error) {
	t.Helper()
	reg := workers.NewRegistry(workers.NewSet(ws, nil))
	srv := web.New(web.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(cancel)
	return "http://" + l.Addr().String(), cancel, done
}

func TestPanicIsAGeneric500(t *testing.T) {
	url, _, _ := serve(t, &fakeWorker{name: "Bad", panics: true})
	resp, err := http.Post(url+"/signserver/rest/v1/workers/Bad/process", "application/json", strings.NewReader(`{"data":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "Internal error") || strings.Contains(string(b), "boom") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestHealthListsOfflineWorkers(t *testing.T) {
	url, _, _ := serve(t, &fakeWorker{name: "Good"}, &fakeWorker{name: "Off", offline: []string{"Crypto token \"t\" is offline: not activated"}})
	resp, err := http.Get(url + "/signserver/healthcheck/signserverhealth")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(b), "Worker Off (7): Crypto token \"t\" is offline") || strings.Contains(string(b), "ALLOK") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestProcessServletMultipartAndMetadata(t *testing.T) {
	url, _, _ := serve(t, &fakeWorker{name: "W"})
	body := "--X\r\nContent-Disposition: form-data; name=\"workerName\"\r\n\r\nW\r\n--X\r\nContent-Disposition: form-data; name=\"filerecievefile\"; filename=\"a.txt\"\r\n\r\nfile content\r\n--X--\r\n"
	resp, err := http.Post(url+"/signserver/process", "multipart/form-data; boundary=X", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "signed:file content" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID header")
	}
}

// TestHeadAsGet: the health check and the metrics answer HEAD as GET,
// without the body (load balancers check health with HEAD, as the plain
// health listener allows), and a 405 lists HEAD where GET is allowed. A
// signing servlet's GET signs: HEAD stays refused there.
func TestHeadAsGet(t *testing.T) {
	url, _, _ := serve(t, &fakeWorker{name: "W"}, &fakeWorker{name: "Off", offline: []string{"offline"}})
	do := func(method, path string) (int, string, int) {
		req, _ := http.NewRequest(method, url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Allow"), len(b)
	}
	for _, p := range []string{"/signserver/healthcheck/signserverhealth", "/metrics"} {
		get, _, _ := do(http.MethodGet, p)
		head, _, n := do(http.MethodHead, p)
		if head != get || n != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want %d as GET, without a body", p, head, n, get)
		}
	}
	tests := []struct{ method, path, allow string }{
		{http.MethodPost, "/signserver/healthcheck/signserverhealth", "OPTIONS, GET, HEAD"}, // in echo's order
		{http.MethodHead, "/signserver/process", "OPTIONS, GET, POST"},
		{http.MethodHead, "/signserver/worker/W", "OPTIONS, GET, POST"},
	}
	for _, tt := range tests {
		if code, allow, _ := do(tt.method, tt.path); code != http.StatusMethodNotAllowed || allow != tt.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tt.method, tt.path, code, allow, tt.allow)
		}
	}
}
