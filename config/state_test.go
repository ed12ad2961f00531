package config

import (
	"strings"
	"testing"
)

func TestStateSection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       string // a problem containing this; "" for none
		env        string // the url's environment variable when it loads
	}{
		{"none", "workers: []\n", "", ""},
		{"env", "state:\n  postgres:\n    url: {env: SIGNET_DATABASE_URL}\n    node: n1\n", "", "SIGNET_DATABASE_URL"},
		{"inline url", "state:\n  postgres:\n    url: postgres://u:secret@h/db\n", "must not be the secret itself", ""},
		{"no url", "state:\n  postgres:\n    node: n1\n", "Set the state postgres url", ""},
		{"unknown", "state:\n  mysql: {}\n", `Unknown state setting "mysql"`, ""},
		{"soft without path", "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTORETYPE: PKCS12}\n", "Set KEYSTOREPATH", ""},
		{"soft in database", "tokens:\n  - name: t\n    type: soft\n    properties: {KEYSTORETYPE: DATABASE}\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("node.yaml", []byte(tc.yaml))
			var ps Problems
			if err != nil {
				ps = err.(Problems)
			} else {
				ps = c.Problems()
			}
			if tc.want == "" && len(ps) > 0 || tc.want != "" && !strings.Contains(ps.Error(), tc.want) {
				t.Fatalf("problems %v, want %q", ps, tc.want)
			}
			if tc.env != "" && (c.State.Postgres == nil || c.State.Postgres.URL.Env != tc.env) {
				t.Fatalf("state %+v", c.State)
			}
		})
	}
}
