package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/internal/demo"
)

// TestCheckTrustAnchors: config check reports a validator's TRUSTANCHORS
// file that the server cannot read as roots (the validator would be
// OFFLINE), at the line that names it, as it reports the TLS files.
func TestCheckTrustAnchors(t *testing.T) {
	t.Parallel()
	ca, err := demo.NewCA("Check CA")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		kind    string
		anchors []byte // nil: the file is missing
		says    string // "": no problem
	}{
		{"a readable CA", "CMSValidator", demo.PEM(ca.Cert), ""},
		{"a missing file", "CMSValidator", nil, "the trust anchors cannot be read"},
		{"a missing file of a PDFValidator", "PDFValidator", nil, "the trust anchors cannot be read"},
		{"a file without certificates", "PDFValidator", []byte("hello"), "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.anchors != nil {
				if err := os.WriteFile(filepath.Join(dir, "roots.pem"), tt.anchors, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			y := "workers:\n  - name: V\n    kind: " + tt.kind + "\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: roots.pem\n"
			cfg := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			ps := Check(cfg)
			if tt.says == "" {
				if len(ps) != 0 {
					t.Fatalf("problems of a good configuration: %v", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Pos.Line != 6 || !strings.Contains(ps[0].Msg, tt.says) {
				t.Fatalf("problems %v, want one at line 6 saying %q", ps, tt.says)
			}
		})
	}
}
