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

	"github.com/signet-project/signet/state"
	"github.com/signet-project/signet/state/sqlite"
)

// TestRestartAfterKillBeforeSeal: a standalone server killed between an
// audit record's commit and the sealing of the new head (a few ms of
// every Append: the head file is written and synced after the commit)
// starts again, and seals and notes the record it finds past the head; it
// was refused as a cut or restored database, its log "not written by
// Signet". More than one record past the head cannot come from a kill
// (appends are sealed one at a time) and is still refused.
func TestRestartAfterKillBeforeSeal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		sealed, killed int // records appended and sealed, then appended unsealed
		starts         bool
	}{
		{"first record", 0, 1, true},
		{"later record", 3, 1, true},
		{"two records past the head", 3, 2, false},
		{"no record", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			store, err := sqlite.Open(ctx, filepath.Join(data, StateFile))
			if err != nil {
				t.Fatal(err)
			}
			seal, err := state.OpenSeal(AuditKeyFile("", data), true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.sealed + tc.killed {
				var a state.Audit = state.NewSealed(store, seal)
				if i >= tc.sealed {
					a = store // committed; the process died before the seal
				}
				if _, err := a.Append(ctx, state.Entry{Actor: "system", Action: "test", Target: "server", Outcome: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			store.Close()

			cfg := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(cfg, []byte("workers: []\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithCancel(ctx)
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				err := Run(runCtx, Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: data,
					Logger: slog.New(slog.DiscardHandler), Stdout: pw})
				pw.CloseWithError(fmt.Errorf("server stopped: %w", err))
				done <- err
			}()
			_, rerr := io.ReadAll(io.LimitReader(pr, 1)) // the first line is written once it listens
			go io.Copy(io.Discard, pr)
			cancel()
			err = <-done
			if !tc.starts {
				if err == nil || !strings.Contains(err.Error(), "sealed audit head") {
					t.Fatalf("the server started on %d records past the sealed head: %v", tc.killed, err)
				}
				return
			}
			if rerr != nil || err != nil {
				t.Fatalf("the server did not start again: %v", err)
			}
			store, err = sqlite.OpenReadOnly(ctx, filepath.Join(data, StateFile))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			n, err := state.NewSealed(store, seal).VerifyCount(ctx)
			if err != nil {
				t.Fatalf("the log after the restart: %v", err)
			}
			es, err := store.Entries(ctx, 0, int(n))
			if err != nil {
				t.Fatal(err)
			}
			var noted []string
			for _, e := range es {
				if e.Action == "audit.reseal" {
					noted = append(noted, e.Details["seq"])
				}
			}
			if want := fmt.Sprint(tc.sealed + 1); tc.killed == 1 && (len(noted) != 1 || noted[0] != want) {
				t.Errorf("records noted as sealed after a restart: %v, want [%s]", noted, want)
			}
			if tc.killed == 0 && len(noted) != 0 {
				t.Errorf("records noted as sealed after a restart: %v, want none", noted)
			}
		})
	}
}
