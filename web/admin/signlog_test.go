package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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
