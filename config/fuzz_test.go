package config

import "testing"

// FuzzParse: any configuration file is loaded or refused with problems,
// never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"server:\n  listen: 127.0.0.1:8080\n  bodyTimeout: 30s\n",
		"tokens:\n  - name: t\n    type: soft\nworkers:\n  - name: W\n    kind: CMSSigner\n    token: t\n    key: k\n",
		"workers: [{name: W, kind: CAdESSigner, properties: {INCLUDE_CERTIFICATE_LEVELS: 0}}]\n",
		"a: &x [*x]\n", "{", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil && c == nil {
			t.Fatal("Parse returned neither a configuration nor an error")
		}
	})
}
