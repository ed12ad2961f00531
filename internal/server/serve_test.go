package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A busy port is refused before anything is served, with a sentence that
// says how to choose another address. On a demo's first start it is refused
// before the demo PKI is made too: its certificates name the CRL at the
// address of the start that made them, so a PKI left behind by the refused
// start would name the busy port, and the next start, on the address the
// sentence suggests, would serve PDFSignerLT and online validation a CRL
// that nothing serves.
func TestBusyPortNamesTheFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		demo bool // no configuration file: the demo, on its first start
	}{
		{"configuration file", false},
		{"demo first start", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			var configs []string
			if !tt.demo {
				cfg := filepath.Join(dir, "signet.yaml")
				if err := os.WriteFile(cfg, []byte("workers: []\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				configs = []string{cfg}
			}
			err = Run(context.Background(), Options{
				Configs: configs, Listen: l.Addr().String(), DataDir: data,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard,
			})
			_, port, _ := net.SplitHostPort(l.Addr().String())
			if err == nil || !strings.Contains(err.Error(), "is in use") || !strings.Contains(err.Error(), "make run LISTEN=127.0.0.1:") ||
				strings.Contains(err.Error(), "LISTEN=127.0.0.1:"+port+" ") {
				t.Fatalf("busy port: %v; want a sentence naming make run LISTEN= with another port", err)
			}
			if tt.demo {
				for _, ent := range []string{"signet.yaml", "demo-ca.pem", "keystore"} {
					if _, err := os.Stat(filepath.Join(data, ent)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s after the refused first start: %v; want none, made for the busy port", ent, err)
					}
				}
			}
		})
	}
}
