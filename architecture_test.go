package signet_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/signet-project/signet/"

// layers says which of Signet's own packages each package may import, as
// ARCHITECTURE.md draws it: the first rule whose pattern matches a package
// applies. A pattern "p/..." matches p and the packages under it, "..."
// every package, any other pattern that package alone. A package may
// always import its own internal packages. Test files and the test helper
// packages (named …test) are not held to it.
var layers = []struct {
	pkg string
	may []string
}{
	{"formats/...", []string{"formats/..."}},
	{"state/...", []string{"state", "internal/atomicfile"}},
	{"tokens/guard", []string{"tokens", "state", "internal/plainjson"}},
	{"tokens/...", []string{"tokens", "internal/plainjson", "internal/atomicfile"}},
	{"config", []string{"formats/...", "internal/atomicfile"}},
	{"workers", []string{"config", "formats/...", "state", "tokens", "internal/plainjson", "internal/clienttext"}},
	{"web/auth", []string{"config", "formats/...", "internal/plainjson", "internal/clienttext"}},
	{"web/dsm", []string{"tokens", "internal/plainjson", "internal/clienttext", "internal/mediatype"}},
	{"web/nethsm", []string{"tokens", "internal/plainjson", "internal/clienttext", "internal/mediatype"}},
	{"web/admin", []string{"config", "formats/...", "state", "tokens", "workers", "web/auth", "internal/plainjson", "internal/clienttext", "internal/mediatype", "internal/pathparam"}},
	{"web/ui", []string{"config", "formats/...", "state", "tokens", "workers", "web/auth", "web/admin", "internal/plainjson", "internal/clienttext", "internal/mediatype", "internal/pathparam"}},
	{"web/...", []string{"config", "formats/...", "state", "tokens", "workers", "internal/plainjson", "internal/clienttext", "internal/mediatype", "internal/pathparam"}},
	{"internal/plainjson", nil},
	{"internal/clienttext", nil},
	{"internal/mediatype", nil},
	{"internal/pathparam", nil},
	{"internal/atomicfile", nil},
	{"internal/server", []string{"config", "formats/...", "state/...", "tokens/...", "workers", "web/...", "internal/demo", "internal/cluster", "internal/clienttext"}},
	{"internal/cluster", []string{"config", "formats/...", "state/...", "tokens/...", "workers", "web/...", "internal/demo"}},
	{"internal/demo", []string{"tokens/...", "internal/atomicfile"}},
	{"internal/...", []string{"config", "formats/...", "workers", "web/admin", "internal/..."}},
	{"cmd/...", []string{"config", "formats/...", "state/...", "workers", "web/admin", "web/auth", "internal/..."}},
	{"scripts/...", []string{"..."}},
}

// matches reports whether the package pkg matches pattern.
func matches(pkg, pattern string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

// TestLayers checks every package's imports of Signet packages against
// layers, so that a back-edge (state importing tokens, workers importing a
// token implementation, a web surface importing the server wiring) fails
// here rather than in review.
func TestLayers(t *testing.T) {
	t.Parallel()
	imports := map[string][]string{} // package → Signet packages it imports
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(p))
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if own, ok := strings.CutPrefix(ip, module); ok && !slices.Contains(imports[pkg], own) {
				imports[pkg] = append(imports[pkg], own)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 20 {
		t.Fatalf("found the imports of only %d packages: is the test run from the module root?", len(imports))
	}
	for pkg, imps := range imports {
		if strings.HasSuffix(path.Base(pkg), "test") {
			continue // test helpers may use anything
		}
		i := slices.IndexFunc(layers, func(l struct {
			pkg string
			may []string
		}) bool {
			return matches(pkg, l.pkg)
		})
		if i < 0 {
			t.Errorf("package %s has no rule in layers: add one (and to ARCHITECTURE.md)", pkg)
			continue
		}
		for _, imp := range imps {
			if strings.HasPrefix(imp, pkg+"/internal/") || strings.HasPrefix(imp, path.Dir(pkg)+"/internal/") {
				continue // a package's own internal packages
			}
			if !slices.ContainsFunc(layers[i].may, func(p string) bool { return matches(imp, p) }) {
				t.Errorf("%s imports %s; its layer (%s) may import %q", pkg, imp, layers[i].pkg, layers[i].may)
			}
		}
	}
}

// maxCommandFunc is the longest a function of cmd/ may be: the binary is a
// table of commands whose work is done in internal/ packages.
const maxCommandFunc = 80

// TestCommandsStayThin checks that no non-test function under cmd/ is
// longer than maxCommandFunc lines.
func TestCommandsStayThin(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir("cmd", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			n++
			if lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; lines > maxCommandFunc {
				t.Errorf("%s: %s is %d lines: move its work into an internal/ package (at most %d here)", fset.Position(fd.Pos()), fd.Name.Name, lines, maxCommandFunc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no functions found under cmd/: is the test run from the module root?")
	}
}
