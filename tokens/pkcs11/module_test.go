package pkcs11

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleError: a module path that names no file keeps the token
// OFFLINE, and ModuleError says so (config check reports it); a bare
// library name is the dynamic loader's to find, as SHAREDLIBRARYNAME's
// documentation says: it was refused by a look-up in the working folder.
func TestModuleError(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "libmodule.so")
	if err := os.WriteFile(module, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		module string
		says   string // "": no error
	}{
		{module, ""},
		{filepath.Join(dir, "missing.so"), "cannot be read: install it or fix SHAREDLIBRARYNAME"},
		{"libsofthsm2.so", ""},
		{"./missing.so", "cannot be read"},
	}
	for _, tt := range tests {
		tok := New(Options{Name: "t", Module: tt.module, SlotType: SlotLabel, SlotValue: "x"})
		err := tok.ModuleError()
		if (err == nil) != (tt.says == "") || err != nil && !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v, want %q", tt.module, err, tt.says)
		}
	}
}
