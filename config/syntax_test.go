package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestSyntaxErrorLine checks that a YAML syntax error is reported on the
// line of the mistake, not where yaml.v3 says its enclosing block starts
// (the "workers:" line, far above).
func TestSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks}\nworkers:\n")
	for i := range 12 {
		fmt.Fprintf(&b, "  - name: W%d\n    id: %d\n    kind: CMSSigner\n    token: t\n    key: k\n    properties: {DETACHEDSIGNATURE: true,\n      INCLUDE_CERTIFICATE_LEVELS: 1}\n", i, i+1)
	}
	good := strings.Split(b.String(), "\n")
	const at = 80 // 1-based line of the mistake: "    key: k" of the 11th worker
	if good[at-1] != "    key: k" {
		t.Fatalf("line %d is %q", at, good[at-1])
	}
	tests := []struct{ name, line, says string }{
		{"indentation of a key", "   key: k", "expected '-' indicator"},
		{"indentation of an item", "  key: k", "expected '-' indicator"},
		{"tab", "\tkey: k", "tab character"},
		{"reserved character", "    key: @k", "cannot start any token"},
		{"two keys on a line", "    key: k k: x", "mapping values are not allowed"},
		{"unterminated quote", `    key: "k`, ""},
		// yaml.v3 names no line for bytes that are not UTF-8 (a file
		// saved as Latin-1): the first such byte is the mistake.
		{"not UTF-8", "    key: k\xe9", "save the file as UTF-8"},
		// Nor for an alias of no anchor: the line of its first use.
		{"alias of no anchor", "    key: *nope", "unknown anchor 'nope'"},
		{"alias of no anchor in a list", "    key: [k, *nope]", "unknown anchor 'nope'"},
		{"not UTF-8 in a comment", "    key: k # r\xe9sum\xe9", "save the file as UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lines := append([]string(nil), good...)
			lines[at-1] = tt.line
			_, err := Parse("bad.yaml", []byte(strings.Join(lines, "\n")))
			ps, ok := err.(Problems)
			if !ok || len(ps) != 1 {
				t.Fatalf("error %v, want one problem", err)
			}
			if ps[0].Pos.Line != at || !strings.Contains(ps[0].Msg, "not valid YAML") || !strings.Contains(ps[0].Msg, tt.says) {
				t.Errorf("reported %s: %s; want line %d saying %q", ps[0].Pos, ps[0].Msg, at, tt.says)
			}
		})
	}
}

// TestUnknownNameSentences: every refusal of an unknown name ends as one
// sentence, with the suggestion or the names to use, and without a stray
// full stop after the question mark ("did you mean soft?.").
func TestUnknownNameSentences(t *testing.T) {
	t.Parallel()
	const tok = "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\n"
	tests := []struct{ name, yaml, says string }{
		{"top-level key", "workerz: []\n", "did you mean workers?"},
		{"top-level key, far", "zzz: []\n", "use one of server, state, tokens, workers, users."},
		{"server setting", "server:\n  lisen: :8080\n", "did you mean listen?"},
		{"tls setting", "server:\n  tls: {cert: c.pem, key: k.pem, clientCA: ca.pem}\n", "did you mean clientCAs?"},
		{"state setting", "state:\n  postgress: {}\n", "did you mean postgres?"},
		{"postgres setting", "state:\n  postgres: {url: {env: U}, nod: a}\n", "did you mean node?"},
		{"token field", "tokens:\n  - name: t\n    typ: soft\n", "did you mean type?"},
		{"token type", "tokens:\n  - name: t\n    type: sofd\n", "did you mean soft?"},
		{"secret field", "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTOREPATH: ks.p12}\n    pin: {fil: p}\n", "did you mean file?"},
		{"worker field", tok + "workers:\n  - name: W\n    kind: CMSSigner\n    tokn: t\n", "did you mean token?"},
		{"user field", "users:\n  - {name: a, rolez: [admin], passwordHash: {file: h}}\n", "did you mean roles?"},
		{"user role", "users:\n  - {name: a, roles: [admn], passwordHash: {file: h}}\n", "did you mean admin?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("signet.yaml", []byte(tt.yaml))
			ps, _ := err.(Problems)
			if cfg != nil {
				ps = cfg.Problems()
			}
			for _, p := range ps {
				if strings.Contains(p.Msg, tt.says) {
					if !strings.HasSuffix(p.Msg, tt.says) {
						t.Errorf("%q does not end with %q", p.Msg, tt.says)
					}
					return
				}
			}
			t.Errorf("problems %v, want one saying %q", ps, tt.says)
		})
	}
}

// TestPropertyInTheWrongPlace: a property of another section (a worker's
// in a key's policy or a token, a token's in a worker) is told where it
// goes, not only that it is unknown here.
func TestPropertyInTheWrongPlace(t *testing.T) {
	t.Parallel()
	const token = "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: ks\n"
	tests := []struct{ name, yaml, says string }{
		{"worker property in a key", token + "      X: 1\n    keys:\n      k: {DETACHEDSIGNATURE: true}\n",
			"DETACHEDSIGNATURE is a worker property, not a key's: set it on the workers that sign with the key (a key takes "},
		{"key property in a token", token + "      KEYUSAGELIMIT: 5\n",
			"KEYUSAGELIMIT is a worker property, not a soft token's: set it on the workers that sign with the token's keys, or per key under the token's keys."},
		{"token property in a worker", "workers:\n  - name: W\n    kind: CMSSigner\n    properties:\n      SLOTLABELVALUE: 0\n",
			"SLOTLABELVALUE is a property of pkcs11 tokens, not of a worker: set it in the token's properties."},
		{"token property of two types in a worker", "workers:\n  - name: W\n    kind: CMSSigner\n    properties:\n      CABUNDLE: ca.pem\n",
			"CABUNDLE is a property of nethsm and dsm tokens, not of a worker: set it in the token's properties."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("x.yaml", []byte(tt.yaml))
			var got string
			if err != nil {
				got = err.Error()
			} else {
				got = cfg.Problems().Error()
			}
			if !strings.Contains(got, tt.says) {
				t.Errorf("problems %s, want %q", got, tt.says)
			}
		})
	}
}

// TestSyntaxErrorBeforeNotUTF8: yaml.v3 decodes a large file as it reads
// it, so a syntax error above a byte that is not UTF-8 is the one it
// reports; that error is told at its own line, not as the encoding's at
// the line of the byte.
func TestSyntaxErrorBeforeNotUTF8(t *testing.T) {
	t.Parallel()
	far := strings.Repeat("# comment\n", 2000) + "# r\xe9sum\xe9\n" // the byte on line 2004
	tests := []struct {
		name, head string
		line       int
		says       string
	}{
		{"syntax error above", "server:\n listen: x\n  foo: y\n", 3, "mapping values are not allowed"},
		{"no syntax error", "server:\n  listen: x\n  healthListen: y\n", 2004, "save the file as UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("x.yaml", []byte(tt.head+far))
			ps, ok := err.(Problems)
			if !ok || len(ps) != 1 || ps[0].Pos.Line != tt.line || !strings.Contains(ps[0].Msg, tt.says) {
				t.Fatalf("error %v, want one problem at line %d saying %q", err, tt.line, tt.says)
			}
		})
	}
}
