package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
	"github.com/signet-project/signet/internal/demo"
)

// TestCheckTrustAnchors: config check reports a validator's TRUSTANCHORS
// file that the server cannot read as roots (the validator would be
// OFFLINE), at the line that names it, as it reports the TLS files; an
// edit through the admin API that makes it so is refused, and nothing is
// written.
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
		// The same change made through the admin API (config.Apply with
		// the server's file checks) to a validator whose anchors read.
		t.Run(tt.name+", edited", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "good.pem"), demo.PEM(ca.Cert), 0o600); err != nil {
				t.Fatal(err)
			}
			if tt.anchors != nil {
				if err := os.WriteFile(filepath.Join(dir, "roots.pem"), tt.anchors, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			y := "workers:\n  - name: V\n    kind: " + tt.kind + "\n    properties:\n      AUTHTYPE: NOAUTH\n      TRUSTANCHORS: good.pem\n"
			cfg := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
				t.Fatal(err)
			}
			err := config.Apply([]string{cfg}, cfg, config.SetProperty("V", config.PropTrustAnchors, "roots.pem"), FileChecks()...)
			var refused *config.Refused
			switch after, _ := os.ReadFile(cfg); {
			case tt.says == "" && err != nil:
				t.Fatalf("a good change refused: %v", err)
			case tt.says != "" && (!errors.As(err, &refused) || !strings.Contains(refused.Problems[0].Msg, tt.says)):
				t.Fatalf("edit: %v, want it refused saying %q", err, tt.says)
			case tt.says != "" && string(after) != y:
				t.Fatalf("a refused change was written:\n%s", after)
			}
		})
	}
}
