package server

import (
	"bufio"
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

// TestDemoCRLAddressChanged: the demo certificates name the CRL at the
// address of the start that made them. A later start on another address
// serves it nowhere they name (PDFSignerLT answers 503), and says so at
// start with the way out; a start on the same address says nothing.
func TestDemoCRLAddressChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		another bool // the second start listens on another port
	}{
		{"same address", false},
		{"another address", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := filepath.Join(t.TempDir(), "signet-data")
			first := startDemo(t, data, "127.0.0.1:0")
			named := "http://" + first.addr + "/crl/demo-ca.crl"
			if strings.Contains(first.out, "name their CRL") {
				t.Errorf("first start warned:\n%s", first.out)
			}
			first.stop()
			addr := first.addr
			if tt.another {
				addr = "127.0.0.1:0"
			}
			second := startDemo(t, data, addr)
			second.stop()
			warned := strings.Contains(second.out, "name their CRL at "+named) && strings.Contains(second.out, "make clean")
			if warned != tt.another {
				t.Errorf("second start on %s (the certificates name %s): warned %v, want %v:\n%s", second.addr, named, warned, tt.another, second.out)
			}
		})
	}
}

// demoRun is a demo server started by startDemo: the address it listens
// on, what it printed up to its address, and stop.
type demoRun struct {
	addr, out string
	stop      func()
}

// startDemo runs the demo configuration with its data in data on listen
// and waits until it listens.
func startDemo(t *testing.T, data, listen string) demoRun {
	t.Helper()
	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: listen, DataDir: data, Logger: slog.New(slog.DiscardHandler), Stdout: w})
		w.Close()
	}()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	var out strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if a, ok := strings.CutPrefix(sc.Text(), "Signet listening on https://"); ok {
			go io.Copy(io.Discard, r)
			return demoRun{addr: a, out: out.String(), stop: stop}
		}
	}
	stop()
	t.Fatalf("the demo did not start:\n%s", out.String())
	return demoRun{}
}

// TestServeRefusesAtTheLine: a start refused on a file the configuration
// names (a TLS key, the audit key, a cluster's seal key) says the line
// that names it, as config check does, and not only the file.
func TestServeRefusesAtTheLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		at         string // the line the refusal names
	}{
		{"TLS certificate not PEM", "server:\n  listen: 127.0.0.1:0\n  tls:\n    cert: DIR/signet.yaml\n    key: DIR/key.pem\n", "signet.yaml:4"},
		{"audit key a folder", "server:\n  listen: 127.0.0.1:0\n  auditKey: DIR\n", "signet.yaml:3"},
		{"seal key missing", "state:\n  postgres:\n    url: {env: SIGNET_TEST_UNSET_URL}\n    sealKey: DIR/missing.key\n", "signet.yaml:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(tt.yaml, "DIR", dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Run(context.Background(), Options{Configs: []string{cfg}, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
				Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tt.at) || !strings.Contains(err.Error(), "cannot start") {
				t.Fatalf("Run: %v; want a refusal at %s", err, tt.at)
			}
		})
	}
}
