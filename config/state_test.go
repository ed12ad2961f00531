package config

import (
	"os"
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

// TestCheckShared: a configuration pushed to a cluster is checked as config
// check does, and its server and state sections are refused.
func TestCheckShared(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, yaml, want string }{
		{"workers only", "users: []\n", ""},
		{"server", "server:\n  listen: 127.0.0.1:8080\n", "server section belongs in each node's own file"},
		{"state", "state:\n  postgres:\n    url: {env: U}\n", "state section belongs in each node's own file"},
		{"bad worker", "workers:\n  - name: W\n    id: 1\n    kind: NoSuchKind\n", "NoSuchKind"},
		// Each node reads the pushed text from no folder: a relative path
		// would name a file below the node's working folder instead.
		{"absolute paths", "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: /etc/signet/ks.p12\n    pin: {file: /etc/signet/pin}\n", ""},
		{"relative keystore", "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: ks.p12\n    pin: {env: P}\n", "shared.yaml:5: A configuration shared by the cluster must name files by absolute path"},
		{"relative pin file", "tokens:\n  - name: t\n    type: soft\n    properties:\n      KEYSTOREPATH: /etc/signet/ks.p12\n    pin: {file: pin}\n", "shared.yaml:2: A configuration shared by the cluster must name files by absolute path"},
		{"relative password hash file", "users:\n  - name: a\n    roles: [admin]\n    passwordHash: {file: hash}\n", "must name files by absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ps := CheckShared("shared.yaml", []byte(tc.yaml))
			if tc.want == "" && len(ps) > 0 || tc.want != "" && !strings.Contains(ps.Error(), tc.want) {
				t.Fatalf("problems %v, want %q", ps, tc.want)
			}
		})
	}
}

// TestLoadWith: a node's files load with the cluster's version in force;
// names stay unique across them.
func TestLoadWith(t *testing.T) {
	t.Parallel()
	node := t.TempDir() + "/node.yaml"
	if err := os.WriteFile(node, []byte("state:\n  postgres:\n    url: {env: U}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadWith([]string{node}, Document{Name: "cluster-config-v2.yaml", Data: []byte("users:\n  - name: a\n    roles: [admin]\n    passwordHash: \"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\n")})
	if err != nil || c.State.Postgres == nil || len(c.Users) != 1 || len(c.Files) != 2 {
		t.Fatalf("LoadWith: %+v, %v", c, err)
	}
	_, err = LoadWith([]string{node}, Document{Name: "v3", Data: []byte("state: {}\n")})
	if err == nil || !strings.Contains(err.Error(), "state section is already set") {
		t.Fatalf("two state sections: %v", err)
	}
}
