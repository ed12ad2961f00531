package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A busy port is refused before anything is served, with a sentence that
// says how to choose another address.
func TestBusyPortNamesTheFix(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte("workers: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), Options{
		Configs: []string{cfg}, Listen: l.Addr().String(), DataDir: filepath.Join(dir, "data"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard,
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "is in use") || !strings.Contains(err.Error(), "make run LISTEN=127.0.0.1:") ||
		strings.Contains(err.Error(), "LISTEN=127.0.0.1:"+port+" ") {
		t.Fatalf("busy port: %v; want a sentence naming make run LISTEN= with another port", err)
	}
}
