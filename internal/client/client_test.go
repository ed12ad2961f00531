package client

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/signet-project/signet/workers"
)

// TestInputs checks what a run signs: documents, never the signatures a
// previous run wrote beside them or into the output folder.
func TestInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{
		"a.txt", "a.txt.p7s", // a document and its signature
		"b.pdf", "b.pdf.p7m", "b.pdf.sig",
		"c.p7s",         // a signature whose document is not here: signed
		"out/a.txt.p7s", // the output folder
		"sub/d.txt", "sub/d.txt.p7s",
	} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relDir, err := filepath.Rel(wd, dir) // the same folder, named from here
	if err != nil {
		t.Fatal(err)
	}
	rel := func(files []Input) string {
		var out []string
		for _, f := range files {
			p, _ := filepath.Abs(f.Path)
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
			if want := r; len(files) > 1 && f.Name != want {
				t.Errorf("%s: name %q, want %q (its path below the folder given)", f.Path, f.Name, want)
			}
			if len(files) == 1 && f.Name != filepath.Base(f.Path) {
				t.Errorf("%s: name %q, want its base name", f.Path, f.Name)
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	tests := []struct {
		name string
		args []string
		out  string
		want string
	}{
		{"beside", []string{dir}, "", "a.txt b.pdf c.p7s out/a.txt.p7s sub/d.txt"},
		{"out folder left out", []string{dir}, filepath.Join(dir, "out"), "a.txt b.pdf c.p7s sub/d.txt"},
		{"out folder left out, input relative", []string{relDir}, filepath.Join(dir, "out"), "a.txt b.pdf c.p7s sub/d.txt"},
		{"out folder left out, out relative", []string{dir}, filepath.Join(relDir, "out"), "a.txt b.pdf c.p7s sub/d.txt"},
		{"files named", []string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "a.txt.p7s")}, "", "a.txt"},
		{"signature named alone", []string{filepath.Join(dir, "a.txt.p7s")}, "", "a.txt.p7s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Inputs(tt.args, tt.out, false)
			if err != nil {
				t.Fatal(err)
			}
			if rel(got) != tt.want {
				t.Errorf("Inputs = %s, want %s", rel(got), tt.want)
			}
		})
	}
	if _, _, err := Inputs([]string{filepath.Join(dir, "missing")}, "", false); err == nil {
		t.Error("a missing input was not an error")
	}
}

// TestInputsHidden: a folder's hidden files and folders (.DS_Store, .git,
// dot files: what the system or a tool keeps there, not documents) are left
// out and listed, unless hidden is set; a hidden file or folder named
// itself is signed.
func TestInputsHidden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"a.txt", ".DS_Store", ".git/config", ".git/objects/ab/cdef", "sub/b.txt", "sub/.env", ".hidden/c.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	tests := []struct {
		name   string
		args   []string
		hidden bool
		want   string // paths below dir, sorted
		left   string // what was left out, sorted
	}{
		{"folder", []string{dir}, false, "a.txt sub/b.txt", ".DS_Store .git .hidden sub/.env"},
		{"folder, -hidden", []string{dir}, true, ".DS_Store .git/config .git/objects/ab/cdef .hidden/c.txt a.txt sub/.env sub/b.txt", ""},
		{"hidden file named", []string{in(".DS_Store"), in("sub")}, false, ".DS_Store sub/b.txt", "sub/.env"},
		{"hidden folder named", []string{in(".hidden")}, false, ".hidden/c.txt", ""},
	}
	rel := func(paths []string) string {
		var out []string
		for _, p := range paths {
			p, _ = filepath.Abs(p)
			r, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(r))
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, left, err := Inputs(tt.args, "", tt.hidden)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range got {
				paths = append(paths, f.Path)
			}
			if s := rel(paths); s != tt.want {
				t.Errorf("Inputs = %s, want %s", s, tt.want)
			}
			if s := rel(left); s != tt.left {
				t.Errorf("left out %s, want %s", s, tt.left)
			}
		})
	}
}

// TestParseMeta checks request metadata flags.
func TestParseMeta(t *testing.T) {
	t.Parallel()
	m, err := ParseMeta([]string{"using_batchsigning=false", "A=b=c"})
	if err != nil || m["USING_BATCHSIGNING"] != "false" || m["A"] != "b=c" {
		t.Errorf("ParseMeta = %v, %v", m, err)
	}
	for _, bad := range []string{"NOEQUALS", "=x"} {
		if _, err := ParseMeta([]string{bad}); err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
			t.Errorf("ParseMeta(%q) = %v, want a KEY=VALUE error", bad, err)
		}
	}
}

// TestInputsLinksAndNames checks that no document is left out silently
// (links to files and folders) and that no signature overwrites another:
// a document named twice is signed once, and two documents whose
// signatures would share a name below -out are refused before signing.
func TestInputsLinksAndNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"a/x.txt", "b/x.txt", "c/y.txt"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"link.txt":        "a/x.txt",
		"linkdir":         "c",
		"c/inner.txt":     "a/x.txt",
		"loop/up":         "..",
		"broken/gone.txt": "nowhere.txt",
	}
	for l, target := range links {
		p := filepath.Join(dir, l)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(filepath.Join(dir, target), p); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return filepath.Join(dir, p) }
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	relIn := func(p string) string {
		r, err := filepath.Rel(wd, in(p))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name    string
		args    []string
		out     string
		want    string // paths below dir, sorted
		wantErr string
	}{
		{"link to a file", []string{in("link.txt")}, "", "link.txt", ""},
		{"link to a folder named", []string{in("linkdir")}, "", "linkdir/inner.txt linkdir/y.txt", ""},
		{"link to a file in a folder", []string{in("c")}, "", "c/inner.txt c/y.txt", ""},
		{"link to a folder in a folder", []string{in("loop")}, "", "", "link to a folder"},
		{"broken link", []string{in("broken")}, "", "", "cannot be read"},
		{"named twice", []string{in("a"), in("a/x.txt")}, "", "a/x.txt", ""},
		{"named twice, spelled two ways", []string{in("a"), relIn("a/x.txt")}, "", "a/x.txt", ""},
		{"same name beside", []string{in("a/x.txt"), in("b/x.txt")}, "", "a/x.txt b/x.txt", ""},
		{"same name below out", []string{in("a/x.txt"), in("b/x.txt")}, in("out"), "", "would both write"},
		{"same name in two folders below out", []string{in("a"), in("b")}, in("out"), "", "would both write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := Inputs(tt.args, tt.out, false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Inputs = %v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range got {
				p, _ := filepath.Abs(f.Path)
				r, _ := filepath.Rel(dir, p)
				paths = append(paths, filepath.ToSlash(r))
			}
			slices.Sort(paths)
			if s := strings.Join(paths, " "); s != tt.want {
				t.Errorf("Inputs = %s, want %s", s, tt.want)
			}
		})
	}
}

// batchAnswering is a batch worker that answers sig for every item.
func batchAnswering(sig []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req workers.BatchRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var resp workers.BatchResponse
		for _, it := range req.SignatureRequests {
			resp.Signatures = append(resp.Signatures, workers.BatchSignature{Signature: sig, CustomIdentifier: it.CustomIdentifier})
		}
		json.NewEncoder(w).Encode(resp)
	}
}

// TestBatchUnreadableDocument: a document that cannot be read when its
// batch is sent fails alone, named; the others of its batch are signed,
// whatever -size (one near the largest int overflowed the count of
// batches: a panic).
func TestBatchUnreadableDocument(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(batchAnswering([]byte("sig")))
	defer srv.Close()
	for _, size := range []int{10, 2, math.MaxInt} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{"a.txt", "b.txt", "c.txt"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			files, _, err := Inputs([]string{dir}, "", false)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, "b.txt")) // gone between listing and signing
			var errs strings.Builder
			res, err := Batch(t.Context(), Options{URL: srv.URL, Worker: "W", Digest: "SHA-256", Threads: 1, BatchSize: size}, files, &errs)
			if err != nil {
				t.Fatal(err)
			}
			if res != (Result{Signed: 2, Failed: 1}) || !strings.Contains(errs.String(), "b.txt") {
				t.Errorf("Batch = %+v, errors %q; want a.txt and c.txt signed, b.txt failed and named", res, errs.String())
			}
			for _, f := range []string{"a.txt.p7s", "c.txt.p7s"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestSignedPDFNames: a PDF worker answers the document signed inside
// (application/pdf), which both clients write as FILE.signed.pdf, a PDF a
// reader opens: sign wrote it as FILE.sig (a raw signature) and batch as
// FILE.p7s (a detached CMS signature, which it is not). A second run over
// the folder signs the documents again, not the signed copies.
func TestSignedPDFNames(t *testing.T) {
	t.Parallel()
	signedPDF := []byte("%PDF-1.7 signed\n%%EOF\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("REQUEST_METADATA.USING_BATCHSIGNING") != "true" {
			w.Header().Set("Content-Type", workers.ContentTypePDF)
			w.Write(signedPDF)
			return
		}
		batchAnswering(signedPDF)(w, r)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		run  func(Options, []Input) (Result, error)
	}{
		{"sign", func(o Options, f []Input) (Result, error) { return Sign(t.Context(), o, f, io.Discard) }},
		{"batch", func(o Options, f []Input) (Result, error) { return Batch(t.Context(), o, f, io.Discard) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "invoice.pdf"), []byte("%PDF-1.7\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for run := 1; run <= 2; run++ {
				files, _, err := Inputs([]string{dir}, "", false)
				if err != nil {
					t.Fatal(err)
				}
				if len(files) != 1 {
					t.Fatalf("run %d signs %d files, want invoice.pdf alone", run, len(files))
				}
				res, err := c.run(Options{URL: srv.URL, Worker: "PDFSigner", Digest: "SHA-256", Threads: 1, BatchSize: 10}, files)
				if err != nil || res != (Result{Signed: 1}) {
					t.Fatalf("run %d: %+v, %v", run, res, err)
				}
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if fmt.Sprint(names) != "[invoice.pdf invoice.pdf.signed.pdf]" {
				t.Errorf("client %s wrote %v, want invoice.pdf.signed.pdf beside invoice.pdf", c.name, names)
			}
		})
	}
}
