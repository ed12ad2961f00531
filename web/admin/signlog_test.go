package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/state"
)

func TestSignLog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, h := range []string{"aa01", "bb02", "cc03"} {
		r := state.SignRecord{Surface: "nethsm", Key: "soft/signer", User: "operator", Client: "127.0.0.1", DigestAlg: "SHA-256", Hashes: []string{h}, Result: "ok"}
		if i == 2 {
			r.Surface, r.Result = "worker/Signer", "refused: key usage limit"
		}
		if _, err := f.signlog.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, query string
		code, n     int
	}{
		{"all", "", 200, 3},
		{"by hash", "?hash=BB02", 200, 1},
		{"by key", "?key=soft/signer&after=1", 200, 2},
		{"unknown user", "?user=nobody", 200, 0},
		{"bad since", "?since=yesterday", 400, 0},
		{"bad limit", "?limit=0", 400, 0},
		{"bad format", "?format=xml", 400, 0},
		// A misspelt or mis-cased filter, or one given twice, answered the
		// whole log (or the first value's search) as if it had matched.
		{"unknown parameter", "?surfce=Signer", 400, 0},
		{"mis-cased parameter", "?requestid=r1", 400, 0},
		{"parameter given twice", "?surface=Signer&surface=nethsm", 400, 0},
		{"by key API", "?surface=nethsm", 200, 2},
		{"by worker name", "?surface=Signer", 200, 1},
		{"refused", "?result=refused", 200, 1},
		{"by client", "?client=127.0.0.1&result=ok", 200, 2},
		{"by request ID", "?requestId=none", 200, 0},
		{"a time range", "?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00.5Z", 200, 3},
		{"bad hash", "?hash=xyz", 400, 0},
		{"bad result", "?result=failed", 400, 0},
		{"a range that ends first", "?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", 400, 0},
		{"bad after", "?after=-1", 400, 0},
	}
	for _, tt := range tests {
		code, body, _ := f.call(t, "GET", "/signlog"+tt.query, admin, "", "")
		if code != tt.code {
			t.Fatalf("%s: %d %s", tt.name, code, body)
		}
		if code != 200 {
			continue
		}
		var p SignLogPage
		if err := json.Unmarshal(body, &p); err != nil || len(p.Records) != tt.n {
			t.Fatalf("%s: %d records, %v: %s", tt.name, len(p.Records), err, body)
		}
	}
	code, body, hdr := f.call(t, "GET", "/signlog?format=jsonl", admin, "", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/jsonl") {
		t.Fatalf("jsonl export: %d %s", code, hdr.Get("Content-Type"))
	}
	var lines int
	for sc := bufio.NewScanner(bytes.NewReader(body)); sc.Scan(); lines++ {
		var r SignRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ID != int64(lines+1) {
			t.Fatalf("line %d: %v %s", lines+1, err, sc.Bytes())
		}
	}
	if lines != 3 {
		t.Fatalf("jsonl export has %d lines, want 3", lines)
	}
}

// TestSignQueryValues: what the CLI sends is read back as the same query.
func TestSignQueryValues(t *testing.T) {
	t.Parallel()
	q := state.SignQuery{After: 7, Limit: 50, Hash: "AB01", Key: "demo/k", Surface: "dsm", User: "cert:1/CN=x", Client: "::1",
		RequestID: "r 1&2", Result: state.ResultRefused,
		Since: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Until: time.Date(2026, 2, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))}
	got, jsonl, err := ParseSignQuery(SignQueryValues(q))
	if err != nil || jsonl || got.After != q.After || got.Limit != q.Limit || !got.Since.Equal(q.Since) || !got.Until.Equal(q.Until) {
		t.Fatalf("ParseSignQuery(SignQueryValues(q)) = %+v, %v, %v", got, jsonl, err)
	}
	got.Since, got.Until, q.Since, q.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != q {
		t.Fatalf("read back %+v, want %+v", got, q)
	}
}
