package client

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	rel := func(files []Input) string {
		var out []string
		for _, f := range files {
			r, _ := filepath.Rel(dir, f.Path)
			out = append(out, filepath.ToSlash(r))
			if want, _ := filepath.Rel(dir, f.Path); len(files) > 1 && f.Name != want {
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
		{"files named", []string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "a.txt.p7s")}, "", "a.txt"},
		{"signature named alone", []string{filepath.Join(dir, "a.txt.p7s")}, "", "a.txt.p7s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inputs(tt.args, tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if rel(got) != tt.want {
				t.Errorf("Inputs = %s, want %s", rel(got), tt.want)
			}
		})
	}
	if _, err := Inputs([]string{filepath.Join(dir, "missing")}, ""); err == nil {
		t.Error("a missing input was not an error")
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
