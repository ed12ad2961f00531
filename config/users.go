package config

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Roles a user may hold.
const (
	// RoleAdmin may use the admin API under /admin/api/ and `signet admin`.
	RoleAdmin = "admin"
	// RoleOperator may sign through the NetHSM-compatible API (/api/v1),
	// as NetHSM's Operator role, and in the admin API read everything and
	// activate or deactivate tokens (no configuration or key changes).
	RoleOperator = "operator"
	// RoleAuditor may read the admin API: status, keys, the audit and
	// signing logs; nothing that changes anything.
	RoleAuditor = "auditor"
	// RoleDSM may sign through the Fortanix DSM-compatible API
	// (/crypto/v1, /sys/v1): the user is a DSM app and its password the
	// app's API key secret.
	RoleDSM = "dsm"
)

// Roles returns every role name, sorted.
func Roles() []string { return []string{RoleAdmin, RoleAuditor, RoleDSM, RoleOperator} }

// User is someone who may call the admin or vendor-compatible APIs. Users
// authenticate with HTTP basic (name and password, the password checked
// against a bcrypt hash) or with a TLS client certificate that matches one
// of their AuthorizedClients, as a CLIENTCERT worker's clients do.
type User struct {
	Name  string
	Roles []string
	// PasswordHash is the bcrypt hash itself when it is written in the
	// configuration; a hash is not a secret.
	PasswordHash string
	// PasswordHashFrom is where the hash is kept when it is not inline
	// ({file: PATH} or {env: NAME}).
	PasswordHashFrom Secret
	// Keys limits the keys the user may sign with through the vendor APIs,
	// each "token/alias" or "alias"; empty means every key.
	Keys []string
	// AuthorizedClients are the client certificates that authenticate as
	// the user (verified against server.tls.clientCAs), in the form of a
	// CLIENTCERT worker's rules; empty: HTTP basic only.
	AuthorizedClients []AuthorizedClient
	Pos               Pos
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// MayUseKey reports whether the user may sign with the key alias of token.
// An entry holding a "/" names a token's key ("token/alias"), never an
// alias alone: "a/b" meant for token a's key b must not let the user sign
// with a key labelled "a/b" in another token (a PKCS#11 label may hold a
// "/"; such a key is listed as "token/a/b").
func (u User) MayUseKey(token, alias string) bool {
	if len(u.Keys) == 0 {
		return true
	}
	return slices.ContainsFunc(u.Keys, func(k string) bool {
		return k == token+"/"+alias || k == alias && !strings.Contains(k, "/")
	})
}

// Hash returns the user's bcrypt hash, reading it from its file or
// environment variable when it is not inline.
func (u User) Hash() (string, error) {
	if u.PasswordHash != "" {
		return u.PasswordHash, nil
	}
	return u.PasswordHashFrom.Resolve()
}

// HashError returns why u could not log in with a password: its hash
// cannot be read from its file or environment variable, or is no bcrypt
// hash (the server compares passwords with bcrypt, so any other text
// refuses every password); nil for a user without a passwordHash.
func (u User) HashError() error {
	if u.PasswordHash == "" && u.PasswordHashFrom.IsZero() {
		return nil
	}
	h, err := u.Hash()
	if err != nil {
		return err
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("the passwordHash of user %q is not a bcrypt hash ($2a$, $2b$ or $2y$): write the hash, never the password", u.Name)
	}
	return nil
}

// User returns the user with the given name.
func (c *Config) User(name string) (User, bool) {
	for _, u := range c.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func (l *loader) user(file, dir string, n *yaml.Node) {
	pos := Pos{file, n.Line}
	if n.Kind != yaml.MappingNode {
		l.structural.add(pos, "Each user must be a mapping with name, roles and passwordHash.")
		return
	}
	u := User{Pos: pos}
	fields := []string{"name", "roles", "passwordHash", "keys", FieldAuthorizedClients}
	var hashNode *yaml.Node
	var hashPos Pos
	certRules := false // authorizedClients names rules, or its problems are reported
	for _, e := range entries(file, n, &l.structural) {
		switch e.key {
		case "name":
			u.Name, _ = scalar(e.val)
		case "roles", "keys":
			items, ok := stringList(e.val)
			if !ok {
				l.structural.add(e.pos, "Set %s to a list such as [%s].", e.key, map[string]string{"roles": "admin", "keys": "signer-p256"}[e.key])
				continue
			}
			if e.key == "roles" {
				u.Roles = items
			} else {
				u.Keys = items
			}
		case "passwordHash":
			hashNode, hashPos = e.val, e.pos
		case FieldAuthorizedClients:
			u.AuthorizedClients = authorizedClients(file, e.pos, e.val, &l.structural)
			// An empty list names no certificate: without a passwordHash
			// the user would have no way in.
			certRules = e.val.Kind != yaml.SequenceNode || len(e.val.Content) > 0
		default:
			l.structural.add(e.pos, "Unknown user field %q: %s", e.key, hint(e.key, fields))
		}
	}
	if u.Name == "" {
		l.structural.add(pos, "A user has no name: add name: to it.")
		return
	}
	if strings.ContainsRune(u.Name, ':') {
		l.structural.add(pos, "User name %q contains a colon, which HTTP basic authentication cannot carry: choose another name.", u.Name)
		return
	}
	if prev, dup := l.userNames[u.Name]; dup {
		l.structural.add(pos, "User name %q is already used at %s: give each user its own name.", u.Name, prev)
		return
	}
	l.userNames[u.Name] = pos
	for _, r := range u.Roles {
		if !slices.Contains(Roles(), r) {
			l.structural.add(pos, "User %q has the unknown role %q: %s", u.Name, r, hint(r, Roles()))
		}
	}
	switch {
	case (hashNode == nil || isNull(hashNode)) && certRules:
		// A user of client certificates only.
	case hashNode == nil || isNull(hashNode):
		l.structural.add(pos, "User %q has no passwordHash: add a bcrypt hash from signet admin hash-password, or {file: PATH}, or authorizedClients for a client certificate.", u.Name)
	case hashNode.Kind == yaml.ScalarNode:
		u.PasswordHash, _ = scalar(hashNode)
		if err := u.HashError(); err != nil {
			msg := err.Error()
			l.structural.add(hashPos, "%s%s.", strings.ToUpper(msg[:1]), msg[1:])
		}
	default:
		u.PasswordHashFrom = readSecret(file, dir, "passwordHash", hashPos, hashNode, &l.structural)
	}
	l.cfg.Users = append(l.cfg.Users, u)
}

// roleLessUsers are the problems of users without roles. A user whom a
// worker's USERNAME_PASSWORD lists by name needs none, and with none it may
// use no admin, DSM or NetHSM API: every role grants some of those, so a
// user for a worker alone could not be declared here before, though a
// worker's own user cannot keep its hash in a file. A user that no worker
// lists and no role lets in could do nothing: a mistake.
func roleLessUsers(c *Config) Problems {
	listed := map[string]bool{}
	for _, w := range c.Workers {
		for _, u := range w.Users {
			if u.Shared {
				listed[u.Name] = true
			}
		}
	}
	var ps Problems
	for _, u := range c.Users {
		if len(u.Roles) == 0 && !listed[u.Name] {
			ps.add(u.Pos, "User %q has no roles and no worker lists it: add roles: with one or more of %s, or name it in a worker's users.", u.Name, strings.Join(Roles(), ", "))
		}
	}
	return ps
}

// userCertRules are the rules of users with client certificates: they need
// a TLS listener that asks for them. It returns the problems.
func userCertRules(c *Config) Problems {
	var ps Problems
	if c.Server.TLS != nil && c.Server.TLS.ClientCAs != "" {
		return nil
	}
	for _, u := range c.Users {
		if len(u.AuthorizedClients) > 0 {
			ps.add(u.AuthorizedClients[0].Pos, "User %q has %s, but the server accepts no client certificates: set server tls cert, key and clientCAs, or remove %s.", u.Name, FieldAuthorizedClients, FieldAuthorizedClients)
		}
	}
	return ps
}

// stringList reads a YAML list of plain values, or a single comma-separated
// value.
func stringList(n *yaml.Node) ([]string, bool) {
	n = deref(n)
	if n == nil {
		return nil, false
	}
	if n.Kind == yaml.ScalarNode {
		var out []string
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, true
	}
	if n.Kind != yaml.SequenceNode {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		s, ok := scalar(deref(it))
		if !ok || s == "" {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
