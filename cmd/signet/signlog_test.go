package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	adminapi "github.com/signet-project/signet/web/admin"
)

// TestAdminAuditListSigning searches the signing log from the command
// line: a signature is found by the hash it signed and by each other field,
// exported as JSON lines, and bad searches are one-sentence usage errors.
func TestAdminAuditListSigning(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t, false)
	e.mustAdmin(t, "keys", "generate", "soft", "admin-soft", "--algorithm", "ECDSA")
	e.mustAdmin(t, "keys", "test", "soft", "admin-soft")
	doc := "an invoice to find by its hash"
	if code, body := e.s.postRaw(t, "SoftPlain", strings.NewReader(doc), nil); code != 200 {
		t.Fatalf("sign: %d %s", code, body)
	}
	sum := sha256.Sum256([]byte(doc))
	h := hex.EncodeToString(sum[:])
	// jsonl lists the records a search exports.
	jsonl := func(t *testing.T, args ...string) []adminapi.SignRecord {
		t.Helper()
		out := e.mustAdmin(t, append([]string{"audit", "list", "--signing", "--jsonl"}, args...)...)
		var recs []adminapi.SignRecord
		for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
			var r adminapi.SignRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			recs = append(recs, r)
		}
		return recs
	}
	byHash := jsonl(t, "--hash", strings.ToUpper(h))
	if len(byHash) != 1 || byHash[0].Surface != "worker/SoftPlain" || byHash[0].Key != "soft/admin-soft" || byHash[0].Result != "ok" ||
		byHash[0].RequestID == "" || byHash[0].Client == "" {
		t.Fatalf("by hash: %+v", byHash)
	}
	sig := byHash[0]
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		want []string // the surfaces of the records found, in order
	}{
		{"everything", nil, []string{"admin/test-sign", "worker/SoftPlain"}},
		{"by worker name", []string{"--surface", "SoftPlain"}, []string{"worker/SoftPlain"}},
		{"by key API", []string{"--surface", "test-sign"}, []string{"admin/test-sign"}},
		{"by alias", []string{"--key", "admin-soft"}, []string{"admin/test-sign", "worker/SoftPlain"}},
		{"by token/alias", []string{"--key", "soft/admin-soft", "--surface", "worker/SoftPlain"}, []string{"worker/SoftPlain"}},
		{"by another key", []string{"--key", "other"}, nil},
		{"by admin user", []string{"--caller", "admin"}, []string{"admin/test-sign"}},
		{"by client address", []string{"--client", sig.Client}, []string{"admin/test-sign", "worker/SoftPlain"}},
		{"by request ID", []string{"--request-id", sig.RequestID}, []string{"worker/SoftPlain"}},
		{"signed", []string{"--result", "ok"}, []string{"admin/test-sign", "worker/SoftPlain"}},
		{"refused", []string{"--result", "refused"}, nil},
		{"the last hour", []string{"--since", "1h", "--until", future}, []string{"admin/test-sign", "worker/SoftPlain"}},
		{"from the future", []string{"--since", future}, nil},
		{"after the first", []string{"--after", "1"}, []string{"worker/SoftPlain"}},
		{"the first only", []string{"--limit", "1"}, []string{"admin/test-sign"}},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range jsonl(t, tt.args...) {
			got = append(got, r.Surface)
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: found %v, want %v", tt.name, got, tt.want)
		}
	}
	table := e.mustAdmin(t, "audit", "list", "--signing", "--hash", h)
	if !strings.Contains(table, "REQUEST ID") || !strings.Contains(table, sig.RequestID) || !strings.Contains(table, h) {
		t.Errorf("table:\n%s", table)
	}
	if out := e.mustAdmin(t, "audit", "list", "--signing", "--limit", "1"); !strings.Contains(out, "add --after 1") {
		t.Errorf("a full page should say how to go on:\n%s", out)
	}
	var page adminapi.SignLogPage
	if err := json.Unmarshal([]byte(e.mustAdmin(t, "audit", "list", "--signing", "--json", "--hash", h)), &page); err != nil ||
		len(page.Records) != 1 || page.Next != sig.ID {
		t.Errorf("--json: %+v, %v", page, err)
	}
	if out := e.mustAdmin(t, "audit", "list"); !strings.Contains(out, "ACTION") {
		t.Errorf("audit list without --signing lists the audit log:\n%s", out)
	}
	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"a filter without --signing", []string{"--hash", h}, "--hash searches the signing log: add --signing"},
		{"a hash that is not hex", []string{"--signing", "--hash", "xyz"}, "the hash must be hexadecimal"},
		{"an unknown result", []string{"--signing", "--result", "failed"}, "the result must be ok or refused"},
		{"a time that is none", []string{"--signing", "--since", "yesterday"}, `--since must be a time such as`},
		{"a range that ends first", []string{"--signing", "--since", "2026-02-01", "--until", "2026-01-01"}, "the end of the time range must be after its start"},
		{"a bad limit", []string{"--signing", "--limit", "0"}, "--limit must be at least 1"},
	} {
		code, out, errs := e.admin(t, append([]string{"audit", "list"}, tt.args...)...)
		if code != 2 || !strings.Contains(errs, tt.says) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%s: exit %d, stderr %q should be one line saying %q (stdout %q)", tt.name, code, errs, tt.says, out)
		}
	}
}
