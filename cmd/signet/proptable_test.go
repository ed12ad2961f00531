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
		kinds := "every worker"
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

// tokenPropertyTable renders the token property schema of every token
// type as a Markdown table.
func tokenPropertyTable() string {
	var b strings.Builder
	b.WriteString("| type | property | default | meaning |\n|---|---|---|---|\n")
	for _, typ := range config.TokenTypes() {
		for _, p := range config.TokenSchema(typ) {
			doc := strings.ReplaceAll(strings.Join(strings.Fields(p.Doc), " "), "|", "\\|")
			b.WriteString("| " + typ + " | `" + p.Name + "` | " + p.Default + " | " + doc + " |\n")
		}
	}
	return b.String()
}

// TestREADMEPropertyTable keeps the README's property tables, the workers'
// and the tokens', equal to the schema; run with SIGNET_UPDATE_README=1 to
// rewrite them.
func TestREADMEPropertyTable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	want := s
	for _, table := range []struct{ begin, end, text string }{
		{"<!-- properties:begin -->\n", "<!-- properties:end -->", propertyTable()},
		{"<!-- token-properties:begin -->\n", "<!-- token-properties:end -->", tokenPropertyTable()},
	} {
		i, j := strings.Index(want, table.begin), strings.Index(want, table.end)
		if i < 0 || j < i {
			t.Fatalf("README.md lacks the markers %q and %q", table.begin, table.end)
		}
		want = want[:i+len(table.begin)] + table.text + want[j:]
	}
	if want == s {
		return
	}
	if os.Getenv("SIGNET_UPDATE_README") != "" {
		if err := os.WriteFile("../../README.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("README.md's property tables differ from config.Schema() and config.TokenSchema(): run SIGNET_UPDATE_README=1 go test ./cmd/signet -run TestREADMEPropertyTable")
}
