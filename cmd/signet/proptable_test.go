package main

import (
	"os"
	"strings"
	"testing"

	"github.com/signet-project/signet/config"
)

// propertyTable renders the worker property schema as a Markdown table.
func propertyTable() string {
	var b strings.Builder
	b.WriteString("| property | kinds | default | request override | meaning |\n|---|---|---|---|---|\n")
	for _, p := range config.Schema() {
		kinds := "all signers"
		if len(p.Kinds) > 0 {
			kinds = strings.Join(p.Kinds, ", ")
		}
		over := ""
		if p.MetaKey != "" {
			over = "`" + p.MetaKey + "`"
			if p.OverriddenBy != "" {
				over += " if " + p.OverriddenBy
			}
		}
		doc := strings.ReplaceAll(strings.Join(strings.Fields(p.Doc), " "), "|", "\\|")
		b.WriteString("| `" + p.Name + "` | " + kinds + " | " + p.Default + " | " + over + " | " + doc + " |\n")
	}
	return b.String()
}

// TestREADMEPropertyTable keeps the README's property table equal to the
// schema; run with SIGNET_UPDATE_README=1 to rewrite it.
func TestREADMEPropertyTable(t *testing.T) {
	t.Parallel()
	const begin, end = "<!-- properties:begin -->\n", "<!-- properties:end -->"
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the property table markers")
	}
	want := s[:i+len(begin)] + propertyTable() + s[j:]
	if want == s {
		return
	}
	if os.Getenv("SIGNET_UPDATE_README") != "" {
		if err := os.WriteFile("../../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's property table differs from config.Schema(): run SIGNET_UPDATE_README=1 go test ./cmd/signet -run TestREADMEPropertyTable")
}
