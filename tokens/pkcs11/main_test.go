package pkcs11

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The SoftHSM2 tokens of this test binary, made by
// testdata/softhsm/make-tokens.sh in a temporary folder.
var hsm struct {
	skip   string // why the tests skip; empty when SoftHSM2 is there
	module string
	dir    string            // the script's DIR
	folder map[string]string // token label → its folder under dir/tokens
}

// Token labels: the shared one for signing tests, and tokens that tests
// break or whose login they change.
const (
	labelMain = "signet-test"
	labelFail = "signet-fail"
	labelPIN  = "signet-pin"
	testPIN   = "1234"
)

func findModule() string {
	if m := os.Getenv("SOFTHSM2_MODULE"); m != "" {
		if _, err := os.Stat(m); err != nil {
			return ""
		}
		return m
	}
	for _, m := range []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
	} {
		if _, err := os.Stat(m); err == nil {
			return m
		}
	}
	return ""
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	hsm.module = findModule()
	_, errUtil := exec.LookPath("softhsm2-util")
	_, errTool := exec.LookPath("pkcs11-tool")
	if hsm.module == "" || errUtil != nil || errTool != nil {
		hsm.skip = "SoftHSM2 is not installed (libsofthsm2.so, softhsm2-util, pkcs11-tool): install softhsm2 and opensc, or run make test"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "signet-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	hsm.dir = dir
	hsm.folder = map[string]string{}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "softhsm", "make-tokens.sh")
	for _, label := range []string{labelMain, labelFail, labelPIN} {
		before, _ := os.ReadDir(filepath.Join(dir, "tokens"))
		cmd := exec.Command(script, dir)
		cmd.Env = append(os.Environ(), "SIGNET_SOFTHSM_LABEL="+label, "SIGNET_SOFTHSM_PIN="+testPIN, "SOFTHSM2_MODULE="+hsm.module)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "make-tokens.sh: %v\n%s", err, stderr.Bytes())
			return 1
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		env, ok := strings.CutPrefix(lines[len(lines)-1], "SOFTHSM2_CONF=")
		if !ok {
			fmt.Fprintf(os.Stderr, "make-tokens.sh printed %q, not the SOFTHSM2_CONF line\n", out)
			return 1
		}
		os.Setenv("SOFTHSM2_CONF", env)
		after, _ := os.ReadDir(filepath.Join(dir, "tokens"))
		for _, e := range after {
			if !slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == e.Name() }) {
				hsm.folder[label] = filepath.Join(dir, "tokens", e.Name())
			}
		}
	}
	return m.Run()
}

// needHSM skips t when SoftHSM2 is not installed.
func needHSM(tb testing.TB) {
	tb.Helper()
	if hsm.skip != "" {
		tb.Skip(hsm.skip)
	}
}
