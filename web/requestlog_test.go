package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The request log line written directly is the line slog's text handler
// writes for the same record, byte for byte; a line it cannot write is left
// to slog.
func TestRequestLineAsSlog(t *testing.T) {
	t.Parallel()
	plainLine := requestLine{id: "6f1d2c3b-4a59-4a57-9e0e-0b6f2a3c8a2e", method: "POST", path: "/signserver/worker/CAdESSigner",
		client: "127.0.0.1", worker: "CAdESSigner", items: 1, status: 200, durationMS: 14.916, bytesIn: 1024, bytesOut: 1392}
	with := func(f func(*requestLine)) requestLine { l := plainLine; f(&l); return l }
	east := time.FixedZone("east", 5*3600+30*60)
	tests := []struct {
		name   string
		line   requestLine
		t      time.Time
		direct bool // written without slog
	}{
		{"anonymous", plainLine, time.Date(2026, 12, 2, 6, 41, 56, 694_999_999, time.UTC), true},
		{"user, whole milliseconds", with(func(l *requestLine) { l.user = "bench"; l.durationMS = 3 }), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"another zone, large figures", with(func(l *requestLine) { l.items = 1000; l.bytesIn = 1 << 40; l.durationMS = 0.001 }), time.Date(2026, 6, 1, 0, 0, 0, 1, east), true},
		{"no worker, 404", with(func(l *requestLine) { l.worker, l.status, l.path = "", 404, "/nowhere" }), time.Unix(1e9, 5e8), true},
		{"error sentence", with(func(l *requestLine) { l.status, l.err = 400, "Send the document." }), time.Unix(1e9, 0), false},
		{"error word", with(func(l *requestLine) { l.status, l.err = 413, "too_big" }), time.Unix(1e9, 0), true},
		{"cause", with(func(l *requestLine) { l.status, l.cause = 500, "boom" }), time.Unix(1e9, 0), true},
		{"path with a space", with(func(l *requestLine) { l.path = "/a b" }), time.Unix(1e9, 0), false},
		{"path with =", with(func(l *requestLine) { l.path = "/a=b" }), time.Unix(1e9, 0), false},
		{"path with a quote", with(func(l *requestLine) { l.path = `/a"b` }), time.Unix(1e9, 0), false},
		{"path with a backslash", with(func(l *requestLine) { l.path = `/a\b` }), time.Unix(1e9, 0), false},
		{"path with a control character", with(func(l *requestLine) { l.path = "/a\x01" }), time.Unix(1e9, 0), false},
		{"non-ASCII user", with(func(l *requestLine) { l.user = "zoë" }), time.Unix(1e9, 0), false},
		{"odd method", with(func(l *requestLine) { l.method = "M-SEARCH" }), time.Unix(1e9, 0), true},
	}
	for _, tt := range tests {
		var got, want bytes.Buffer
		h := NewLogHandler(&got, false)
		direct := h.writeRequest(tt.t, &tt.line)
		if direct != tt.direct {
			t.Errorf("%s: written directly %v, want %v", tt.name, direct, tt.direct)
		}
		if !direct {
			if got.Len() != 0 {
				t.Errorf("%s: not written directly, yet wrote %q", tt.name, got.String())
			}
			continue
		}
		r := slog.NewRecord(tt.t, tt.line.level(), "request", 0)
		r.AddAttrs(tt.line.attrs()...)
		if err := slog.NewTextHandler(&want, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got.String(), want.String())
		}
	}
}

// Through a JSON handler, or a handler of another kind, the line is slog's.
func TestRequestLineOtherHandlers(t *testing.T) {
	t.Parallel()
	l := requestLine{id: "x", method: "GET", path: "/metrics", client: "::1", status: 200}
	var js bytes.Buffer
	logRequest(context.Background(), slog.New(NewLogHandler(&js, true)), &l)
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["msg"] != "request" || m["path"] != "/metrics" || m["user"] != "" {
		t.Errorf("JSON line %q: %v", js.String(), err)
	}
	var txt bytes.Buffer
	logRequest(context.Background(), slog.New(slog.NewTextHandler(&txt, &slog.HandlerOptions{Level: slog.LevelWarn})), &l)
	if txt.Len() != 0 {
		t.Errorf("a handler at level Warn wrote %q", txt.String())
	}
	var quiet bytes.Buffer
	h := NewLogHandler(&quiet, false)
	if !h.Enabled(context.Background(), slog.LevelInfo) {
		t.Error("the server log is not enabled at Info")
	}
}

func BenchmarkRequestLine(b *testing.B) {
	l := requestLine{id: "6f1d2c3b-4a59-4a57-9e0e-0b6f2a3c8a2e", method: "POST", path: "/signserver/worker/CAdESSigner",
		client: "127.0.0.1", worker: "CAdESSigner", items: 1, status: 200, durationMS: 14.916, bytesIn: 1024, bytesOut: 1392}
	for _, bb := range []struct {
		name string
		log  *slog.Logger
	}{
		{"direct", slog.New(NewLogHandler(discard{}, false))},
		{"slog", slog.New(slog.NewTextHandler(discard{}, nil))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				logRequest(context.Background(), bb.log, &l)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// New request IDs are version 4 UUIDs, unique across goroutines.
func TestNewRequestID(t *testing.T) {
	t.Parallel()
	const goroutines, each = 4, 25000
	ids := make(chan string, goroutines*each)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				ids <- newRequestID()
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("request ID %q: version %v, variant %v, %v", id, u.Version(), u.Variant(), err)
		}
		if seen[id] {
			t.Fatalf("request ID %q made twice", id)
		}
		seen[id] = true
	}
}

func BenchmarkNewRequestID(b *testing.B) {
	b.Run("math/rand/v2", func(b *testing.B) {
		for b.Loop() {
			_ = newRequestID()
		}
	})
	b.Run("uuid.NewString", func(b *testing.B) {
		for b.Loop() {
			_ = uuid.NewString()
		}
	})
}
