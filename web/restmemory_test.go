package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/signet-project/signet/web"
	"github.com/signet-project/signet/workers"
)

// drainWorker reads the document without keeping it and answers a few
// bytes, so that what a request allocates is the web layer's.
type drainWorker struct{ name string }

func (w *drainWorker) Name() string                          { return w.name }
func (w *drainWorker) ID() int                               { return 8 }
func (w *drainWorker) Kind() string                          { return "Drain" }
func (w *drainWorker) Status(context.Context) workers.Status { return workers.Status{Active: true} }
func (w *drainWorker) Process(ctx context.Context, r *workers.Request) (*workers.Response, error) {
	n, err := io.Copy(io.Discard, r.Data)
	if err != nil {
		return nil, err
	}
	return &workers.Response{Data: []byte(strconv.FormatInt(n, 10)), Items: 1}, nil
}

// TestRESTBodyHeldOnce: a REST request of some megabytes costs about its
// body in memory, not the body, its JSON text and its decoded bytes
// (issue 14: a 100 MB REST body cost about 400 MB). Bytes allocated per
// request are measured over a few requests, so the test runs alone (not
// parallel).
func TestRESTBodyHeldOnce(t *testing.T) {
	reg := workers.NewRegistry(workers.NewSet([]workers.Worker{&drainWorker{name: "W"}}, nil))
	h := web.New(web.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{MaxRequestMemory: 64 << 20}}).Handler()
	doc := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		bound   float64 // bytes allocated per byte of body
	}{
		// With its length announced the body is read into one buffer and
		// decoded there; without, read in chunks and joined once.
		{"BASE64 with Content-Length", `{"data":"` + base64.StdEncoding.EncodeToString(doc) + `","encoding":"BASE64"}`, false, 1.2},
		{"BASE64 chunked", `{"encoding":"BASE64","data":"` + base64.StdEncoding.EncodeToString(doc) + `"}`, true, 2.2},
		{"NONE with Content-Length", `{"data":"` + string(doc) + `"}`, false, 1.2},
		{"NONE escaped", `{"data":"` + strings.Repeat(`é\"\u00e9\ud83d\ude00\n`, 3<<16) + `","metaData":{"k":"v"}}`, false, 1.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send := func() {
				var r io.Reader = strings.NewReader(tc.body)
				if tc.chunked {
					r = io.MultiReader(r)
				}
				req := httptest.NewRequest("POST", "/signserver/rest/v1/workers/W/process", r)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Fatalf("%d %.200s", rec.Code, rec.Body)
				}
			}
			send() // warm up
			const runs = 4
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				send()
			}
			runtime.ReadMemStats(&after)
			per := float64(after.TotalAlloc-before.TotalAlloc) / runs / float64(len(tc.body))
			t.Logf("%.2f bytes allocated per byte of a %d-byte body", per, len(tc.body))
			if per > tc.bound {
				t.Errorf("%.2f bytes allocated per byte of body, want at most %.1f", per, tc.bound)
			}
		})
	}
}
