package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfiledFunctionsExist: every function of Signet that a profile
// table of BENCHMARKS.md names is declared in the tree, so that a rename
// fails here instead of turning its row into "< 0.5" (a function absent
// from the profile reads as one that costs nothing). Functions outside
// the tree (the standard library's) are not checked; a closure (.func1)
// is checked by the function that declares it.
func TestProfiledFunctionsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	declared := map[string]bool{} // "dir:Recv.name" and "dir:name", dir relative to root
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		dirs[dir] = true
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				typ := fd.Recv.List[0].Type
				if s, ok := typ.(*ast.StarExpr); ok {
					typ = s.X
				}
				if ix, ok := typ.(*ast.IndexExpr); ok {
					typ = ix.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					name = id.Name + "." + name
				}
			}
			declared[dir+":"+name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, parts := range [][]profiled{pipelineParts, httpParts, dsmParts, dsmHTTPParts} {
		for _, p := range parts {
			pkg, name := profiledName(p.fn)
			var in []string
			for dir := range dirs {
				if dir == pkg || strings.HasSuffix(dir, "/"+pkg) {
					in = append(in, dir)
				}
			}
			if len(in) == 0 {
				continue // not Signet's
			}
			found := false
			for _, dir := range in {
				found = found || declared[dir+":"+name]
			}
			if !found {
				t.Errorf("profile row %q: no %s in %v: renamed? (name the function as pprof does)", p.fn, name, in)
			}
		}
	}
}

// profiledName splits a function as pprof names it ("sqlite.(*Store).fold",
// "web/auth.(*Authenticator).Decide", "loadgen.runBench.func1") into its
// package path as written and the declared function: "Store.fold",
// "runBench".
func profiledName(fn string) (pkg, name string) {
	i := strings.LastIndex(fn, "/") + 1
	i += strings.Index(fn[i:], ".")
	pkg, rest := fn[:i], fn[i+1:]
	if strings.HasPrefix(rest, "(") {
		recv, after, _ := strings.Cut(rest[1:], ").")
		rest = strings.TrimPrefix(recv, "*") + "." + after
		dot := strings.Index(rest, ".") + 1
		if end := strings.IndexAny(rest[dot:], ".-"); end >= 0 {
			rest = rest[:dot+end]
		}
		return pkg, rest
	}
	if end := strings.IndexAny(rest, ".-"); end >= 0 {
		rest = rest[:end]
	}
	return pkg, rest
}

func TestProfiledName(t *testing.T) {
	tests := []struct{ fn, pkg, name string }{
		{"sqlite.(*Store).logWriter", "sqlite", "Store.logWriter"},
		{"web/auth.(*Authenticator).Decide", "web/auth", "Authenticator.Decide"},
		{"web.(*Server).observe-fm.(*Server).observe.func1", "web", "Server.observe"},
		{"workers.(*CMSSigner).parseBatch.func1", "workers", "CMSSigner.parseBatch"},
		{"loadgen.runBench.func1", "loadgen", "runBench"},
		{"web.logRequest", "web", "logRequest"},
		{"internal/runtime/syscall/linux.Syscall6", "internal/runtime/syscall/linux", "Syscall6"},
		{"net/http.(*conn).serve", "net/http", "conn.serve"},
	}
	for _, tt := range tests {
		if pkg, name := profiledName(tt.fn); pkg != tt.pkg || name != tt.name {
			t.Errorf("profiledName(%q) = %q, %q; want %q, %q", tt.fn, pkg, name, tt.pkg, tt.name)
		}
	}
}
