package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const editYAML = `# Tokens first.
tokens:
  - name: demo
    type: soft
    properties:
      KEYSTOREPATH: keystore
    pin:
      file: keystore.pin

workers:
  # The CMS signer.
  - name: CMSSigner
    id: 1
    kind: CMSSigner
    token: demo
    key: signer
    properties:
      DETACHEDSIGNATURE: false   # attached
      CONTENTOID: "1.2.840.113549.1.7.1"

  # No properties yet.
  - name: Plain
    id: 7
    kind: PlainSigner
    token: demo
    key: signer
# The end.
`

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    Edit
		want    string // the file after the edit; "" when refused
		refused string // a word of the refusal
	}{
		{"set existing keeps comment", SetProperty("CMSSigner", "DETACHEDSIGNATURE", "true"),
			strings.Replace(editYAML, "DETACHEDSIGNATURE: false   # attached", "DETACHEDSIGNATURE: true   # attached", 1), ""},
		{"set quoted", SetProperty("cmssigner", "CONTENTOID", "1.2.840.113549.1.7.5"),
			strings.Replace(editYAML, `CONTENTOID: "1.2.840.113549.1.7.1"`, `CONTENTOID: 1.2.840.113549.1.7.5`, 1), ""},
		{"add to properties", SetProperty("CMSSigner", "KEYUSAGELIMIT", "10"),
			strings.Replace(editYAML, "1.7.1\"\n", "1.7.1\"\n      KEYUSAGELIMIT: 10\n", 1), ""},
		{"add properties section", SetProperty("Plain", "KEYUSAGELIMIT", "5"),
			strings.Replace(editYAML, "    key: signer\n# The end.", "    key: signer\n    properties:\n      KEYUSAGELIMIT: 5\n# The end.", 1), ""},
		{"remove", RemoveProperty("CMSSigner", "CONTENTOID"),
			strings.Replace(editYAML, "      CONTENTOID: \"1.2.840.113549.1.7.1\"\n", "", 1), ""},
		{"add worker", AddWorker(NewWorker{Name: "New", ID: 8, Kind: "PlainSigner", Token: "demo", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH", "KEYUSAGELIMIT": "3"}}),
			strings.Replace(editYAML, "    key: signer\n# The end.", "    key: signer\n\n  - name: New\n    id: 8\n    kind: PlainSigner\n    token: demo\n    key: signer\n    properties:\n      AUTHTYPE: NOAUTH\n      KEYUSAGELIMIT: 3\n# The end.", 1), ""},
		{"typo refused", SetProperty("CMSSigner", "DETACHEDSIGNATUR", "true"), "", "DETACHEDSIGNATURE"},
		{"bad value refused", SetProperty("CMSSigner", "KEYUSAGELIMIT", "many"), "", "KEYUSAGELIMIT"},
		{"duplicate worker refused", AddWorker(NewWorker{Name: "Plain", ID: 9, Kind: "PlainSigner", Token: "demo", Key: "signer"}), "", "already used"},
		// A property name is written as a YAML key: one that is YAML
		// syntax was written raw, as a comment (#X: 1, accepted and
		// written) or as a syntax error blamed on the file.
		{"name that is a comment refused", SetProperty("CMSSigner", "#X", "1"), "", "Unknown worker property #X"},
		{"name with ': ' refused", SetProperty("CMSSigner", "A: B", "1"), "", "Unknown worker property A: B"},
		{"name that is an alias refused", SetProperty("Plain", "*A", "1"), "", "Unknown worker property *A"},
		{"value of two lines refused", SetProperty("CMSSigner", "REASON", "a\nb"), "", "one line"},
		{"name of two lines refused", SetProperty("CMSSigner", "A\nB", "1"), "", "one line"},
		{"new worker's name that is a comment refused", AddWorker(NewWorker{Name: "New", ID: 8, Kind: "PlainSigner", Token: "demo", Key: "signer", Properties: map[string]string{"AUTHTYPE": "NOAUTH", "#KEYUSAGELIMIT": "3"}}), "", "Unknown worker property #KEYUSAGELIMIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f := filepath.Join(dir, "signet.yaml")
			if err := os.WriteFile(f, []byte(editYAML), 0o640); err != nil {
				t.Fatal(err)
			}
			err := Apply([]string{f}, f, tt.edit)
			got, _ := os.ReadFile(f)
			if tt.refused != "" {
				var r *Refused
				if !errors.As(err, &r) || !strings.Contains(err.Error(), tt.refused) || !strings.Contains(err.Error(), f+":") {
					t.Fatalf("Apply = %v, want a refusal naming %q with file:line", err, tt.refused)
				}
				if string(got) != editYAML {
					t.Fatalf("a refused edit changed the file:\n%s", got)
				}
				if _, err := os.Stat(f + ".bak"); err == nil {
					t.Fatal("a refused edit wrote a .bak")
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("file after the edit:\n%s\nwant:\n%s", got, tt.want)
			}
			bak, _ := os.ReadFile(f + ".bak")
			if string(bak) != editYAML {
				t.Fatalf(".bak is not the previous version:\n%s", bak)
			}
			if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode after the edit = %v, want 0640", fi.Mode().Perm())
			}
			if ps := Check(f); len(newProblems(checkWith([]string{f}, f, []byte(editYAML), nil), ps)) > 0 {
				t.Fatalf("the edited file has new problems: %v", ps)
			}
		})
	}
}

// TestValuesReadBack: a value the editor writes is read back as sent, and
// the lines after it stay where yaml.v3 counts them. It wrote a character
// that YAML reads as a line break (NEL, U+0085) raw inside double quotes,
// as encoding/json leaves it: read back as a space, with every later line
// one further in yaml.v3's count than in the editor's; and DEL, a C1 control or U+FFFE raw, which left a file that
// does not parse (refused, blamed on the file: "fix the syntax"). Text
// that is not UTF-8, which encoding/json writes as U+FFFD, is refused.
func TestValuesReadBack(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, value string
		refused     string
	}{
		{"next line (NEL)", "a\u0085b", ""},
		{"delete", "a\x7fb", ""},
		{"C1 control", "a\u009bb", ""},
		{"noncharacter", "a\ufffeb", ""},
		{"line separator", "a\u2028b", ""},
		{"non-ASCII letters", "Bücher", ""},
		{"not UTF-8", "a\xffb", "UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := filepath.Join(t.TempDir(), "signet.yaml")
			if err := os.WriteFile(f, []byte(editYAML), 0o600); err != nil {
				t.Fatal(err)
			}
			props := map[string]string{"AUTHTYPE": "NOAUTH", "REASON": tt.value}
			err := Apply([]string{f}, f, AddWorker(NewWorker{Name: "New", ID: 8, Kind: "PDFSigner", Token: "demo", Key: "signer", Properties: props}))
			if tt.refused != "" {
				if got, _ := os.ReadFile(f); err == nil || !strings.Contains(err.Error(), tt.refused) || string(got) != editYAML {
					t.Fatalf("Apply = %v, want a refusal naming %q and the file unchanged", err, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("add a worker with REASON %q: %v", tt.value, err)
			}
			// Edits after it land where they should.
			for _, e := range []Edit{SetProperty("New", "LOCATION", "here"), SetProperty("New", "CONTACTINFO", tt.value), SetProperty("Plain", "KEYUSAGELIMIT", "5")} {
				if err := Apply([]string{f}, f, e); err != nil {
					got, _ := os.ReadFile(f)
					t.Fatalf("an edit after it: %v\n%s", err, got)
				}
			}
			cfg, err := Load(f)
			if err != nil {
				got, _ := os.ReadFile(f)
				t.Fatalf("the edited file does not load: %v\n%s", err, got)
			}
			w, _ := cfg.Worker("New")
			for prop, want := range map[string]string{"REASON": tt.value, "LOCATION": "here", "CONTACTINFO": tt.value} {
				if got := w.Properties.String(prop); got != want {
					t.Errorf("%s reads back %q, want %q", prop, got, want)
				}
			}
			if p, _ := cfg.Worker("Plain"); p.Properties.String("KEYUSAGELIMIT") != "5" {
				t.Errorf("KEYUSAGELIMIT of Plain is not 5")
			}
		})
	}
}
