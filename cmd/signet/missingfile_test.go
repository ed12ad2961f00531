package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/demo"
)

// TestMissingFileExitStatus: a file named on the command line that does
// not exist is a command line that cannot run, exit status 2 with the file
// named, in every command alike (a script tells a wrong path from what a
// command found: config check's problems, a failed signature, exit 1).
// Each says so in readable's one sentence, naming the fix: "lstat X: no
// such file or directory" or "read secret file: open X: …" named the file
// but not what to do. The one exception is admin audit verify's state
// database: it is what is checked, not an input, and one deleted must not
// pass as a mistyped flag (exit 1, a log it cannot vouch for).
func TestMissingFileExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	ca, err := demo.NewCA("Missing file CA")
	if err != nil {
		t.Fatal(err)
	}
	trust, pw := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "password")
	for name, data := range map[string][]byte{trust: demo.PEM(ca.Cert), pw: []byte("secret\n")} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// No server listens here: every command must stop at the file first.
	admin := []string{"--url", "https://127.0.0.1:1", "--password-file", pw}
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"config", "check", missing + ".yaml"}, 2},
		{[]string{"config", "check", "--", missing + ".yaml", missing + "2.yaml"}, 2},
		{[]string{"config", "export-signserver", missing + ".yaml"}, 2},
		{[]string{"config", "import-signserver", missing + ".properties"}, 2},
		{[]string{"config", "push", "--state", "postgres://127.0.0.1:1/x", missing + ".yaml"}, 2},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--config", missing + ".yaml"}, 2},
		{[]string{"verify", "-trust", trust, missing + ".pdf"}, 2},
		{[]string{"verify", "-trust", missing + ".pem", trust}, 2},
		{[]string{"verify", "-trust", trust, "-content", missing, trust}, 2},
		{[]string{"client", "sign", "--url", "https://127.0.0.1:1", missing + ".pdf"}, 2},
		{[]string{"client", "batch", "--url", "https://127.0.0.1:1", missing + ".pdf"}, 2},
		{[]string{"client", "bench", "--url", "https://127.0.0.1:1", "-file", missing + ".pdf"}, 2},
		{[]string{"client", "sign", "--url", "https://127.0.0.1:1", "-cacert", missing + ".pem", trust}, 2},
		{append([]string{"admin", "keys", "chain", "T", "A", missing + ".pem"}, admin...), 2},
		{append([]string{"admin", "activate", "--pin-file", missing, "T"}, admin...), 2},
		{[]string{"admin", "status", "--url", "https://127.0.0.1:1", "--password-file", missing}, 2},
		{append([]string{"admin", "status", "--cacert", missing + ".pem"}, admin...), 2},
		{append([]string{"admin", "status", "--cert", missing + ".pem", "--cert-key", missing + ".key"}, admin...), 2},
		{[]string{"admin", "hash-password", "--password-file", missing}, 2},
		{[]string{"admin", "audit", "verify", "--data", missing}, 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errb)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != tt.code || !strings.Contains(errb.String(), missing) {
				t.Errorf("%v, stderr %q; want exit %d naming %s", err, errb.String(), tt.code, missing)
			}
			// -trust keeps its own sentence, which names the flag to give.
			if tt.code == 2 && !strings.Contains(errb.String(), "give the trust anchors with -trust") {
				if want := missing + "[^ ]* cannot be read \\(no such file or directory\\): check the path and its permissions\\.\n$"; !regexp.MustCompile(want).MatchString(errb.String()) {
					t.Errorf("stderr %q; want one line matching %q", errb.String(), want)
				}
			}
		})
	}
}
