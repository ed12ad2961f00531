package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCABundlePEMText: a remote token's CABUNDLE may be the PEM text
// itself (tokens/internal/remote reads either); loaded from a file, the
// text stays as written, not joined to the file's folder as a path (which
// left the token OFFLINE, "the CA bundle holds no PEM certificate"), and a
// configuration pushed to a cluster does not refuse it as a relative path.
// A file's name is still resolved, and refused relative when shared.
func TestCABundlePEMText(t *testing.T) {
	t.Parallel()
	// "//" and "/../" in base64 text are what filepath.Join cleaned away.
	const pemText = "-----BEGIN CERTIFICATE-----\nMIIB//9a/../b+c==\n-----END CERTIFICATE-----"
	dir := t.TempDir()
	for _, tt := range []struct {
		name, typ, value string
		want             string // the loaded value
		relative         bool   // refused in a shared configuration
	}{
		{"dsm PEM text", "dsm", pemText, pemText, false},
		{"nethsm PEM text", "nethsm", pemText, pemText, false},
		{"dsm relative file", "dsm", "ca.pem", filepath.Join(dir, "ca.pem"), true},
		{"nethsm absolute file", "nethsm", "/etc/ssl/ca.pem", "/etc/ssl/ca.pem", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := "tokens:\n  - name: h\n    type: " + tt.typ + "\n    properties:\n      URL: https://hsm.example:8443\n      CABUNDLE: |\n        " +
				strings.ReplaceAll(tt.value, "\n", "\n        ") + "\n    pin: {env: HSMPIN}\n"
			file := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Tokens[0].Properties.String(PropCABundle); got != tt.want {
				t.Errorf("CABUNDLE loaded as %q, want %q", got, tt.want)
			}
			ps := SharedProblems(file, []byte(yaml))
			if got := strings.Contains(ps.Error(), "absolute path"); got != tt.relative {
				t.Errorf("shared configuration refused as relative: %v, want %v (%v)", got, tt.relative, ps)
			}
		})
	}
}
