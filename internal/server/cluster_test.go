package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/postgres"
	"github.com/signet-project/signet/state/postgres/pgtest"
)

// TestClusterReloadRefusedIsLogged: a cluster node's reload (SIGHUP) of
// files that do not load is refused, and says so in the server log as a
// standalone server's does; the error was dropped (reloadOn ignores it, the
// log and the audit record being written by reload), so the operator who
// sent SIGHUP saw nothing at all.
func TestClusterReloadRefusedIsLogged(t *testing.T) {
	t.Parallel()
	_, url := newClusterDB(t, "node")
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
	runCtx, cancel := context.WithCancel(context.Background())
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

// TestClusterNodeRefusesOlderDatabase: a node with a seal key refuses to
// start on a database that ends before the audit head it sealed (an older
// copy put back), as a standalone server does: its key usage counts are
// rolled back too, and the node would sign past KEYUSAGELIMIT. It started.
func TestClusterNodeRefusesOlderDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, url := newClusterDB(t, "cluster")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "seal.key")
	seal, err := state.OpenSeal(keyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	appendRecords := func(n int) {
		t.Helper()
		s, err := postgres.Open(ctx, url, postgres.Options{Node: "n1", Seal: seal})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for range n {
			if _, err := s.Append(ctx, state.Entry{Actor: "system", Action: "test", Target: "server", Outcome: "ok"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendRecords(2)
	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE older TEMPLATE cluster"); err != nil { // the backup
		t.Fatal(err)
	}
	appendRecords(2) // the head sealed is record 4
	for _, tc := range []struct {
		db     string
		starts bool
	}{
		{"cluster", true},
		{"older", false},
	} {
		t.Run(tc.db, func(t *testing.T) {
			d := filepath.Join(dir, tc.db)
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{
				"db.url":    srv.URL(tc.db),
				"node.yaml": fmt.Sprintf("state:\n  postgres:\n    url: {file: %s}\n    node: n1\n    sealKey: %s\n", filepath.Join(d, "db.url"), keyFile),
			}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			runCtx, cancel := context.WithCancel(ctx)
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := Run(runCtx, Options{Configs: []string{filepath.Join(d, "node.yaml")}, Listen: "127.0.0.1:0",
					DataDir: filepath.Join(d, "data"), Logger: slog.New(slog.DiscardHandler), Stdout: pw})
				pw.CloseWithError(fmt.Errorf("server stopped: %w", err))
				done <- err
			}()
			_, rerr := io.ReadAll(io.LimitReader(pr, 1)) // the first line is written once it listens
			go io.Copy(io.Discard, pr)
			cancel()
			err := <-done
			if tc.starts && (rerr != nil || err != nil) {
				t.Fatalf("the node did not start on the database it wrote: %v", err)
			}
			if !tc.starts && (err == nil || !strings.Contains(err.Error(), "older copy")) {
				t.Fatalf("the node started on an older copy of its database: %v", err)
			}
		})
	}
}

// newClusterDB starts a PostgreSQL server of its own for the test and
// returns it with the URL of a new database named name on it.
func newClusterDB(t *testing.T, name string) (*pgtest.Server, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url, err := srv.NewDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return srv, url
}
