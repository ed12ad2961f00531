// Package softhsmtest makes SoftHSM2 tokens for the tests of the PKCS#11
// code, with testdata/softhsm/make-tokens.sh. SoftHSM2 reads SOFTHSM2_CONF
// once per process, so a test binary keeps all its tokens in one folder,
// made before any test loads the module; this package finds the module and
// makes the tokens there, one label at a time.
package softhsmtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// modules are where Debian and other distributions put libsofthsm2.so,
// after $SOFTHSM2_MODULE.
var modules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// Module returns the path of libsofthsm2.so ($SOFTHSM2_MODULE when set),
// or an error that says what to install: the tests need SoftHSM2's module
// and tools (softhsm2-util, and pkcs11-tool for make-tokens.sh); make test
// installs them.
func Module() (string, error) {
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is not installed: install softhsm2 and opensc, or run make test", tool)
		}
	}
	if m := os.Getenv("SOFTHSM2_MODULE"); m != "" {
		// As make-tokens.sh: a module named but missing is an error, not
		// a reason to load another one.
		if _, err := os.Stat(m); err != nil {
			return "", fmt.Errorf("SOFTHSM2_MODULE names %s: %w: set it to libsofthsm2.so, or unset it", m, err)
		}
		return m, nil
	}
	for _, m := range modules {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return "", errors.New("libsofthsm2.so is not installed: install softhsm2, or run make test")
}

// MakeToken makes the token label with user PIN pin in the SoftHSM2 folder
// dir (make-tokens.sh DIR: a P-256 key p256 and an RSA key among others),
// and returns the SOFTHSM2_CONF file of dir, which the process must use
// before it loads the module, and the token's own folder under dir/tokens
// (a test that breaks the token moves it away and back).
func MakeToken(dir, module, label, pin string) (conf, folder string, err error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "softhsm", "make-tokens.sh")
	before, _ := os.ReadDir(filepath.Join(dir, "tokens"))
	cmd := exec.Command(script, dir)
	cmd.Env = append(os.Environ(), "SIGNET_SOFTHSM_LABEL="+label, "SIGNET_SOFTHSM_PIN="+pin, "SOFTHSM2_MODULE="+module)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("make-tokens.sh: %w\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	conf, ok := strings.CutPrefix(lines[len(lines)-1], "SOFTHSM2_CONF=")
	if !ok {
		return "", "", fmt.Errorf("make-tokens.sh printed %q, not the SOFTHSM2_CONF line", out)
	}
	after, _ := os.ReadDir(filepath.Join(dir, "tokens"))
	for _, e := range after {
		if !slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == e.Name() }) {
			folder = filepath.Join(dir, "tokens", e.Name())
		}
	}
	if folder == "" {
		return "", "", fmt.Errorf("make-tokens.sh made no token folder for %s in %s", label, dir)
	}
	return conf, folder, nil
}
