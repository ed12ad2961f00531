package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/cluster"
)

// TestHelp checks that -h on every command of the table prints its usage
// on stdout and exits 0, and that the command lists do the same.
func TestHelp(t *testing.T) {
	t.Parallel()
	var lines [][]string
	for _, c := range commands() {
		lines = append(lines, append(strings.Fields(c.name), "-h"), append(strings.Fields(c.name), "--help"))
	}
	lines = append(lines, []string{"-h"}, []string{"help"}, []string{"admin", "-h"}, []string{"admin", "keys", "--help"}, []string{"client", "-h"},
		[]string{"help", "admin"}, []string{"help", "admin", "keys", "csr"})
	for _, c := range commands() { // "signet help COMMAND": the command's own help
		lines = append(lines, append([]string{"help"}, strings.Fields(c.name)...))
	}
	for _, args := range lines {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if err := run(t.Context(), args, &stdout, &stderr); err != nil {
				t.Fatalf("exit %v; stderr %q", err, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "Usage: signet") && !strings.Contains(stdout.String(), "\nUsage: signet") {
				t.Errorf("stdout %q does not start with the usage", stdout.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q", stderr.String())
			}
			if len(args) > 1 && args[0] == "help" { // the same as "signet COMMAND -h"
				var want bytes.Buffer
				if err := run(t.Context(), append(slices.Clone(args[1:]), "-h"), &want, io.Discard); err != nil || stdout.String() != want.String() {
					t.Errorf("signet %s prints %.80q, want what %s -h prints, %.80q", strings.Join(args, " "), stdout.String(), strings.Join(args[1:], " "), want.String())
				}
			}
		})
	}
}

// TestUsageErrors checks exit status 2 and a sentence on stderr for
// command lines that cannot run: a bad flag, and an input the command line
// names that is not there (a file, the cluster's database), as verify and
// config import-signserver answer it; 1 is kept for work that failed.
func TestUsageErrors(t *testing.T) {
	t.Setenv("SIGNET_ADMIN_PASSWORD", "x")
	t.Setenv(cluster.URLEnv, "")
	tests := []struct {
		args []string
		says string
	}{
		{nil, "Usage: signet COMMAND"},
		{[]string{"frobnicate"}, `signet: unknown command "frobnicate"`},
		{[]string{"client"}, "client sign"},
		{[]string{"client", "frob"}, "signet client: unknown command \"frob\"\n"}, // nothing close: no suggestion
		{[]string{"config", "chek", "x.yaml"}, `signet config: unknown command "chek": did you mean check?`},
		{[]string{"admin", "kyes", "list"}, `signet admin: unknown command "kyes": did you mean keys?`},
		{[]string{"verify", "--trsut", "ca.pem", "x.pdf"}, "flag provided but not defined: -trsut\nDid you mean -trust?\n"},
		{[]string{"client", "sign", "-wroker", "X", "main.go"}, "Did you mean -worker?"},
		{[]string{"serve", "--log-format", "xml"}, "use text or json"},
		{[]string{"serve", "--max-upload", "-1"}, "--max-upload must not be negative"},
		{[]string{"serve", "extra"}, "takes no arguments"},
		{[]string{"config", "check"}, "wrong number of arguments"},
		{[]string{"client", "sign", "-threads", "0", "main.go"}, "-threads must be at least 1"},
		{[]string{"client", "batch", "-size", "0", "main.go"}, "-size must be at least 1"},
		{[]string{"client", "sign", "-digest", "MD5", "main.go"}, "-digest"},
		{[]string{"admin", "audit", "list", "--limit", "0"}, "--limit"},
		{[]string{"client", "sign", "/no/such/file"}, "/no/such/file"},
		{[]string{"client", "bench", "-file", "/no/such/file"}, "-file /no/such/file"},
		{[]string{"client", "bench", "-cacert", "/no/such/ca.pem"}, "--cacert"},
		{[]string{"config", "push", "--state", "postgres://127.0.0.1:1/none", "/no/such.yaml"}, "/no/such.yaml"},
		{[]string{"config", "push", "main.go"}, "no database given"},
		{[]string{"config", "pull"}, "no database given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			var ee exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("exit %v, want 2; stderr %q", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.says)
			}
		})
	}
}

// TestVersionLine checks that the version make stamps is printed in place
// of the module version, which a worktree, GOFLAGS=-buildvcs=false or a
// tarball leave at "(devel)", and that the toolchain's commit stays.
func TestVersionLine(t *testing.T) {
	t.Parallel()
	devel := debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	stamped := devel
	stamped.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "b324738948be"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-03T02:18:28Z"}}
	for _, tt := range []struct {
		name, version string
		bi            debug.BuildInfo
		want          string
	}{
		{"make in a checkout", "v1.2.0-3-gb324738-dirty", devel, "signet v1.2.0-3-gb324738-dirty go1.26.8"},
		{"make and the toolchain's commit", "b324738-dirty", stamped, "signet b324738-dirty go1.26.8 commit b324738948be (modified) 2026-12-03T02:18:28Z"},
		{"go build, no stamp", "", stamped, "signet (devel) go1.26.8 commit b324738948be (modified) 2026-12-03T02:18:28Z"},
		{"tarball", "", devel, "signet (devel) go1.26.8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.version, &tt.bi); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMakeStampsVersion checks that make build, in a git checkout, stamps
// the binary with git describe's version (what TestVersionLine prints), and
// that VERSION= on the command line builds without a stamp.
func TestMakeStampsVersion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	// As the Makefile asks: the repository is the top of a checkout, not
	// a tarball unpacked in another one.
	if prefix, err := exec.Command("git", "-C", "../..", "rev-parse", "--show-prefix").Output(); err != nil || strings.TrimSpace(string(prefix)) != "" {
		t.Skip("not the top of a git checkout")
	}
	describe, err := exec.Command("git", "-C", "../..", "describe", "--always", "--dirty").Output()
	if err != nil {
		t.Fatal(err)
	}
	stamp := "-ldflags '-X main.version=" + strings.TrimSpace(string(describe)) + "'"
	for _, tt := range []struct {
		args    []string
		stamped bool
	}{
		{nil, true},
		{[]string{"VERSION="}, false},
	} {
		out, err := exec.Command("make", append([]string{"-s", "-n", "-C", "../..", "build"}, tt.args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build %s: %v\n%s", tt.args, err, out)
		}
		if got := strings.Contains(string(out), stamp); got != tt.stamped || strings.Contains(string(out), "main.version") != tt.stamped {
			t.Errorf("make -n build %s runs %q: stamped with %q is %v, want %v", tt.args, out, stamp, got, tt.stamped)
		}
	}
}

// TestVersion checks that signet version names the build.
func TestVersion(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"version"}, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "signet ") || !strings.Contains(stdout.String(), " go1.") {
		t.Errorf("version printed %q", stdout.String())
	}
}
