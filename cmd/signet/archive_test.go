package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminArchiveGet: a worker with ARCHIVERS, added through the admin API, keeps
// the request and the signature under the request ID, and `signet admin
// archive get` prints and writes them.
func TestAdminArchiveGet(t *testing.T) {
	t.Parallel()
	e := newAdminEnv(t, false)
	e.mustAdmin(t, "keys", "generate", "soft", "admin-soft", "--algorithm", "ECDSA")
	api := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, e.s.url+"/admin/api"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", adminTestPassword)
		return do(t, req)
	}
	if code, body := api("POST", "/workers", `{"name":"Archiving","kind":"PlainSigner","token":"soft","key":"admin-soft",
		"properties":{"AUTHTYPE":"NOAUTH","ARCHIVERS":"OldDatabaseArchiver","ARCHIVE_OF_TYPE":"REQUEST_AND_RESPONSE"}}`); code/100 != 2 {
		t.Fatalf("add a worker that archives: %d %s", code, body)
	}
	doc := []byte("an invoice to keep")
	req, _ := http.NewRequest("POST", e.s.url+"/signserver/worker/Archiving", bytes.NewReader(doc))
	req.Header.Set("X-Request-ID", "inv-42")
	code, body := do(t, req)
	if code != 200 {
		t.Fatalf("sign: %d %s", code, body)
	}
	sig := []byte(body)
	// --out names a folder that exists, or one to make (as client sign's
	// -out): the README's `--out DIR` on a new DIR failed to open the file.
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "archive", "inv-42")} {
		out := e.mustAdmin(t, "archive", "get", "inv-42", "--out", dir)
		if !strings.Contains(out, "Archiving") || !strings.Contains(out, "18 bytes") || !strings.Contains(out, "inv-42.1.response") {
			t.Errorf("archive get printed:\n%s", out)
		}
		for name, want := range map[string][]byte{"inv-42.1.request": doc, "inv-42.1.response": sig} {
			if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, %v; want the %d bytes signed", name, len(got), err, len(want))
			}
		}
	}
	// With --json the answer is printed as JSON and the files are written
	// all the same (they were not: the table callback wrote them).
	jsonDir := t.TempDir()
	if out := e.mustAdmin(t, "archive", "get", "inv-42", "--out", jsonDir, "--json"); !strings.Contains(out, `"requestId"`) {
		t.Errorf("archive get --json printed:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(jsonDir, "inv-42.1.response")); err != nil || !bytes.Equal(got, sig) {
		t.Errorf("archive get --json --out: %d bytes, %v; want the %d bytes signed", len(got), err, len(sig))
	}
	code, _, errs := e.admin(t, "archive", "get", "nope")
	if code != 1 || !strings.Contains(errs, "Nothing is archived under request ID \"nope\"") {
		t.Errorf("unknown request ID: exit %d, %q", code, errs)
	}
	if code, body := api("GET", "/audit?limit=1000", ""); code != 200 || !strings.Contains(body, `"archive.read"`) {
		t.Errorf("reading the archive is not in the audit log: %d", code)
	}
}
