package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingFileExitStatus: a file that does not exist is, as each
// command's help and the README say, a problem of what the command checks
// (exit 1, the file named), not a usage error (2): config check and config
// export-signserver count an unreadable file among the configuration's
// problems, and admin audit verify reports a state database that is not
// there as a log it cannot vouch for (a deleted database must not pass as
// a mistyped flag).
func TestMissingFileExitStatus(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		args []string
		want string // on stderr
	}{
		{[]string{"config", "check", missing + ".yaml"}, "The file cannot be read"},
		{[]string{"config", "export-signserver", missing + ".yaml"}, "The file cannot be read"},
		{[]string{"admin", "audit", "verify", "--data", missing}, "no state database at"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errb)
		var ee exitError
		if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(errb.String(), tt.want) || !strings.Contains(errb.String(), missing) {
			t.Errorf("signet %s: %v, stderr %q; want exit 1 naming the file: %q", strings.Join(tt.args, " "), err, errb.String(), tt.want)
		}
	}
}
