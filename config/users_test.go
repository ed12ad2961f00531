package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestUsers(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "h.bcrypt"), append(hash, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, yaml string
		wantErr    string // empty: loads
	}{
		{"inline hash", "users:\n  - name: admin\n    roles: [admin]\n    passwordHash: '" + string(hash) + "'\n", ""},
		{"hash file and key list", "users:\n  - name: demo\n    roles: dsm, operator\n    keys: [signer-p256]\n    passwordHash: {file: h.bcrypt}\n", ""},
		{"password not hash", "users:\n  - name: admin\n    roles: [admin]\n    passwordHash: secret\n", "x.yaml:4: The passwordHash of user \"admin\" is not a bcrypt hash"},
		{"no hash", "users:\n  - name: admin\n    roles: [admin]\n", "x.yaml:2: User \"admin\" has no passwordHash"},
		{"unknown role", "users:\n  - name: a\n    roles: [admn]\n    passwordHash: {file: h.bcrypt}\n", "unknown role \"admn\": did you mean admin?"},
		{"no roles", "users:\n  - name: a\n    passwordHash: {file: h.bcrypt}\n", "x.yaml:2: User \"a\" has no roles and no worker lists it: add roles: with one or more of"},
		{"no roles, a worker's user", "users:\n  - name: a\n    passwordHash: {file: h.bcrypt}\nworkers:\n  - {name: W, kind: CMSSigner, properties: {AUTHTYPE: USERNAME_PASSWORD}, users: [a]}\n", ""},
		{"duplicate", "users:\n  - {name: a, roles: [admin], passwordHash: {file: h.bcrypt}}\n  - {name: a, roles: [admin], passwordHash: {file: h.bcrypt}}\n", "x.yaml:3: User name \"a\" is already used at "},
		{"colon in name", "users:\n  - {name: 'a:b', roles: [admin], passwordHash: {file: h.bcrypt}}\n", "contains a colon"},
		{"unknown field", "users:\n  - {name: a, role: [admin], roles: [admin], passwordHash: {file: h.bcrypt}}\n", "Unknown user field \"role\": did you mean roles?"},
		{"not a list", "users: {name: a}\n", "The users section must be a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseUsers(t, dir, tt.yaml, tt.wantErr)
			if cfg == nil {
				return
			}
			u := cfg.Users[0]
			h, err := u.Hash()
			if err != nil {
				t.Fatal(err)
			}
			if bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")) != nil {
				t.Fatalf("hash %q does not match the password", h)
			}
			if _, ok := cfg.User(u.Name); !ok {
				t.Fatalf("User(%q) not found", u.Name)
			}
		})
	}
}

func TestUserMayUseKey(t *testing.T) {
	all := User{Name: "a"}
	some := User{Name: "b", Keys: []string{"signer-p256", "hsm/rsa"}}
	for _, tt := range []struct {
		u            User
		token, alias string
		want         bool
	}{
		{all, "demo", "x", true},
		{some, "demo", "signer-p256", true},
		{some, "hsm", "rsa", true},
		{some, "demo", "rsa", false},
		{some, "demo", "signer-rsa3072", false},
		// "hsm/rsa" is token hsm's key rsa, not a key labelled "hsm/rsa"
		// in another token; such a key is listed with its token.
		{some, "other", "hsm/rsa", false},
		{User{Name: "c", Keys: []string{"other/hsm/rsa"}}, "other", "hsm/rsa", true},
	} {
		if got := tt.u.MayUseKey(tt.token, tt.alias); got != tt.want {
			t.Errorf("%s.MayUseKey(%s, %s) = %v, want %v", tt.u.Name, tt.token, tt.alias, got, tt.want)
		}
	}
}

// TestUserCertificates checks users' authorizedClients: the rules of a
// CLIENTCERT worker, refused with the same sentences, and only where the
// server asks for client certificates.
func TestUserCertificates(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"tls.pem", "tls.key", "clients.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const tlsOn = "server:\n  tls: {cert: tls.pem, key: tls.key, clientCAs: clients.pem}\n"
	const rule = "    authorizedClients:\n      - {matchSubjectWithType: CERTIFICATE_SERIALNO, matchSubjectWithValue: %s, matchIssuerWithValue: 'CN=Client CA,O=Test'}\n"
	user := func(serial string) string {
		return "users:\n  - name: robot\n    roles: [operator]\n" + strings.ReplaceAll(rule, "%s", serial)
	}
	tests := []struct {
		name, yaml string
		wantErr    string // empty: loads
	}{
		{"certificate only", tlsOn + user("0a:1B"), ""},
		{"certificate and password", tlsOn + user("0a:1B") + "    passwordHash: {file: h.bcrypt}\n", ""},
		{"no client CAs", "server:\n  tls: {cert: tls.pem, key: tls.key}\n" + user("2A"), "x.yaml:7: User \"robot\" has authorizedClients, but the server accepts no client certificates: set server tls cert, key and clientCAs"},
		{"no TLS", user("2A"), "x.yaml:5: User \"robot\" has authorizedClients, but the server accepts no client certificates"},
		{"malformed serial", tlsOn + user("xyz"), "matchSubjectWithValue \"xyz\" is not a serial number in hex."},
		{"unknown match type", tlsOn + strings.Replace(user("2A"), "CERTIFICATE_SERIALNO", "SERIAL", 1), "matchSubjectWithType \"SERIAL\" is not one of SignServer's"},
		{"unknown issuer type", tlsOn + strings.Replace(user("2A"), "matchIssuerWithValue", "matchIssuerWithType: X500, matchIssuerWithValue", 1),
			"matchIssuerWithType \"X500\" is ISSUER_DN_BCSTYLE or ISSUER_DN_LDAPSTYLE."},
		{"no subject value", tlsOn + user("''"), "Set matchSubjectWithValue: the value the certificate's CERTIFICATE_SERIALNO must have."},
		{"no issuer value", tlsOn + strings.Replace(user("2A"), "'CN=Client CA,O=Test'", "''", 1), "Set matchIssuerWithValue: the DN of the CA that issued the client certificate."},
		{"rule not a mapping", tlsOn + "users:\n  - name: robot\n    roles: [admin]\n    authorizedClients: [x]\n",
			"Each authorized client is a mapping with matchSubjectWithType, matchSubjectWithValue and matchIssuerWithValue."},
		{"unknown rule field", tlsOn + strings.Replace(user("2A"), "matchIssuerWithValue", "matchIssuer", 1), "x.yaml:7: Unknown authorized client field \"matchIssuer\": use one of matchSubjectWithType"},
		{"not a list", tlsOn + "users:\n  - name: robot\n    roles: [admin]\n    authorizedClients: yes\n",
			"Set authorizedClients to a list of rules with matchSubjectWithType, matchSubjectWithValue and matchIssuerWithValue."},
		{"neither password nor certificate", tlsOn + "users:\n  - name: robot\n    roles: [admin]\n", "or authorizedClients for a client certificate"},
		{"empty rule list, no password", tlsOn + "users:\n  - name: robot\n    roles: [admin]\n    authorizedClients: []\n", "User \"robot\" has no passwordHash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseUsers(t, dir, tt.yaml, tt.wantErr)
			if cfg == nil {
				return
			}
			want := AuthorizedClient{SubjectType: "CERTIFICATE_SERIALNO", SubjectValue: "0a:1B", IssuerType: MatchIssuerBC, IssuerValue: "CN=Client CA,O=Test"}
			if r := cfg.Users[0].AuthorizedClients; len(r) != 1 || r[0].SubjectType != want.SubjectType || r[0].SubjectValue != want.SubjectValue ||
				r[0].IssuerType != want.IssuerType || r[0].IssuerValue != want.IssuerValue {
				t.Fatalf("rules %+v, want one like %+v (the default issuer type)", r, want)
			}
		})
	}
}

// parseUsers parses yaml as dir/x.yaml. With wantErr it checks that the
// error says so and returns nil; without, it returns the configuration.
func parseUsers(t *testing.T, dir, yaml, wantErr string) *Config {
	t.Helper()
	cfg, err := Parse(filepath.Join(dir, "x.yaml"), []byte(yaml))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWorkerUserHash: a worker's own user takes the bcrypt hash itself;
// one written as {file: PATH}, as the users section allows, is told to
// move to that section instead of being told it wrote a password.
func TestWorkerUserHash(t *testing.T) {
	t.Parallel()
	const head = "workers:\n  - name: W\n    kind: CMSSigner\n    properties: {AUTHTYPE: USERNAME_PASSWORD}\n    users:\n"
	tests := []struct{ name, user, says string }{
		{"a password", "      - {name: alice, passwordHash: secret}\n", "x.yaml:6: The passwordHash of worker user \"alice\" is not a bcrypt hash"},
		{"a hash file", "      - {name: alice, passwordHash: {file: h.bcrypt}}\n", "x.yaml:6: The passwordHash of worker user \"alice\" must be the bcrypt hash itself: for {file: PATH}, declare alice in the users section and list the name alice here."},
		{"no hash", "      - {name: alice}\n", "x.yaml:6: Worker user \"alice\" has no passwordHash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("x.yaml", []byte(head+tt.user))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Problems().Error(); !strings.Contains(got, tt.says) {
				t.Errorf("problems %s, want %q", got, tt.says)
			}
		})
	}
}
