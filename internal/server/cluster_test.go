package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/signet-project/signet/state/postgres/pgtest"
)

// TestClusterReloadRefusedIsLogged: a cluster node's reload (SIGHUP) of
// files that do not load is refused, and says so in the server log as a
// standalone server's does; the error was dropped (reloadOn ignores it, the
// log and the audit record being written by reload), so the operator who
// sent SIGHUP saw nothing at all.
func TestClusterReloadRefusedIsLogged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, err := srv.NewDatabase(ctx, "node")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"db.url":    url,
		"node.yaml": fmt.Sprintf("state:\n  postgres:\n    url: {file: %s}\n    node: n1\n", filepath.Join(dir, "db.url")),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	events := &logEvents{seen: map[string]int{}, wake: make(chan struct{})}
	reload := make(chan struct{})
	runCtx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Run(runCtx, Options{Configs: []string{filepath.Join(dir, "node.yaml")}, Listen: "127.0.0.1:0",
			DataDir: filepath.Join(dir, "data"), Logger: slog.New(events), Stdout: pw, Reload: reload})
		pw.CloseWithError(fmt.Errorf("server stopped: %v", err))
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	out, _ := io.ReadAll(io.LimitReader(pr, 1)) // the first line is written once it listens
	if len(out) == 0 {
		t.Fatal("the node did not start")
	}
	go io.Copy(io.Discard, pr)
	if err := os.WriteFile(filepath.Join(dir, "node.yaml"), []byte("state: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	events.wait(t, "configuration reload refused; the running configuration stays", 1)
}
