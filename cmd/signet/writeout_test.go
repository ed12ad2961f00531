package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteOutLeavesNeighbours: the import and export's output file is
// replaced whole, through a temporary file of its own: it had been written
// to NAME.tmp, overwriting a user's file of that name.
func TestWriteOutLeavesNeighbours(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(name+".tmp", []byte("the user's own file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeOut(name, []byte("workers: []\n"), stdio{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != "workers: []\n" {
		t.Errorf("the output holds %q", b)
	}
	if b, _ := os.ReadFile(name + ".tmp"); string(b) != "the user's own file" {
		t.Errorf("the user's %s.tmp now holds %q", filepath.Base(name), b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the folder, want 2", len(entries))
	}
}
