package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/signet-project/signet/state"
)

// TestDemoDataFolderLockedFirst: a demo server started on a data folder
// that another one serves is refused before it writes anything there or
// prints the demo password; it bootstrapped the demo files and printed the
// password, and was refused only when it opened its state.
func TestDemoDataFolderLockedFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := state.Lock(dir) // the server already serving it
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var out bytes.Buffer
	err = Run(context.Background(), Options{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler), Stdout: &out})
	if !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Run on a locked data folder: %v, want ErrLocked", err)
	}
	if out.Len() != 0 {
		t.Errorf("it printed %q", out.String())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != state.LockFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("it wrote %v in the data folder, want only %s", names, state.LockFile)
	}
}
