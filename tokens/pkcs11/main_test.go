package pkcs11

import (
	"fmt"
	"os"
	"testing"

	"github.com/signet-project/signet/internal/softhsmtest"
)

// The SoftHSM2 tokens of this test binary, made by
// testdata/softhsm/make-tokens.sh in a temporary folder.
var hsm struct {
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

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run makes the tokens in a temporary folder and runs the tests; without
// SoftHSM2 it fails, as make test installs it.
func run(m *testing.M) int {
	module, err := softhsmtest.Module()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hsm.module = module
	dir, err := os.MkdirTemp("", "signet-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	hsm.dir = dir
	hsm.folder = map[string]string{}
	for _, label := range []string{labelMain, labelFail, labelPIN} {
		conf, folder, err := softhsmtest.MakeToken(dir, module, label, testPIN)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Setenv("SOFTHSM2_CONF", conf)
		hsm.folder[label] = folder
	}
	return m.Run()
}
