package config

import (
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// State says where the run-time state lives (audit log, key usage
// counters): the embedded SQLite database in the data folder by default,
// or the cluster's PostgreSQL database. It belongs in each node's own
// file: `signet config push` refuses a configuration that holds it.
type State struct {
	// Postgres, when set, runs the node in a cluster on PostgreSQL.
	Postgres *Postgres
	Pos      Pos // of the state section; zero when there is none
}

// Postgres is the cluster's database.
type Postgres struct {
	// URL is the connection URL with its password
	// (postgres://user:password@host:5432/db), kept in an environment
	// variable or a file, never in the YAML.
	URL Secret
	// Node names this node in the audit log; the host name and process ID
	// when empty.
	Node string
	// SealKey is the audit seal key file (state.Seal): the same key on
	// every node, kept outside the database. Empty: the head is not
	// sealed.
	SealKey string
	// URLPos and SealKeyPos are where url and sealKey are, for the
	// problems of their files.
	URLPos, SealKeyPos Pos
}

// RestartOnly returns ["state"] when next names another run-time state
// than s (a cluster's database added, removed or changed), and nil when it
// names the same: the state is opened once, at start, so a reload that
// changes it says that it waits for a restart.
func (s State) RestartOnly(next State) []string {
	same := func(a, b *Postgres) bool {
		return a == nil && b == nil || a != nil && b != nil && a.URL == b.URL && a.Node == b.Node && a.SealKey == b.SealKey
	}
	if same(s.Postgres, next.Postgres) {
		return nil
	}
	return []string{"state"}
}

// KeystoreDatabase is the soft token's KEYSTORETYPE whose PKCS#12 files
// live in the cluster's database (no KEYSTOREPATH).
const KeystoreDatabase = "DATABASE"

func (l *loader) state(file, dir string, e entry) {
	if l.cfg.State.Pos != (Pos{}) {
		l.structural.add(e.pos, "The state section is already set at %s: keep one state section.", l.cfg.State.Pos)
		return
	}
	l.cfg.State.Pos = e.pos
	if isNull(e.val) {
		return
	}
	if e.val.Kind != yaml.MappingNode {
		l.structural.add(e.pos, "The state section must be a mapping: state: {postgres: {url: {env: SIGNET_DATABASE_URL}}}, or no state section for the embedded database.")
		return
	}
	for _, f := range entries(file, e.val, &l.structural) {
		if f.key != "postgres" {
			l.structural.add(f.pos, "Unknown state setting %q: %s", f.key, hint(f.key, []string{"postgres"}))
			continue
		}
		if deref(f.val).Kind != yaml.MappingNode {
			l.structural.add(f.pos, "The state postgres setting must be a mapping with url (and node).")
			continue
		}
		pg := &Postgres{}
		for _, g := range entries(file, deref(f.val), &l.structural) {
			switch g.key {
			case "url":
				pg.URL, pg.URLPos = readSecret(file, dir, "the PostgreSQL url", g.pos, deref(g.val), &l.structural), g.pos
			case "sealKey":
				v, ok := scalar(g.val)
				if !ok || strings.TrimSpace(v) == "" {
					l.structural.add(g.pos, "Set the state postgres sealKey to the path of the audit seal key file.")
					continue
				}
				pg.SealKey, pg.SealKeyPos = resolvePath(dir, v), g.pos
			case "node":
				v, ok := scalar(g.val)
				if !ok || strings.TrimSpace(v) == "" {
					l.structural.add(g.pos, "Set the state postgres node to a name, such as node1.")
					continue
				}
				pg.Node = v
			default:
				l.structural.add(g.pos, "Unknown state postgres setting %q: %s", g.key, hint(g.key, []string{"url", "node", "sealKey"}))
			}
		}
		if pg.URL.IsZero() {
			l.structural.add(f.pos, "Set the state postgres url: {env: NAME} or {file: PATH} holding postgres://user:password@host:5432/database.")
			continue
		}
		l.cfg.State.Postgres = pg
	}
}

// Document is configuration data that is not read from a file: the
// cluster's configuration version in force. Name stands for its file in
// problems; relative paths in it are relative to Name's folder.
type Document struct {
	Name string
	Data []byte
}

// LoadWith is Load of the files paths together with the documents docs,
// loaded after them: a node of a cluster runs its own files (server and
// state sections) with the configuration version in force.
func LoadWith(paths []string, docs ...Document) (*Config, error) {
	c := load(paths, docs...)
	if len(c.structural) > 0 {
		ps := slices.Clone(c.structural)
		sortProblems(ps, c.Files)
		return nil, ps
	}
	return c, nil
}

// CheckShared returns the problems of a configuration file meant for every
// node of a cluster (`signet config push`): those of Check and of checks
// (the FileChecks `signet config check` runs, so that a push refuses what
// it refuses), and SharedProblems.
func CheckShared(path string, data []byte, checks ...FileCheck) Problems {
	l := newLoader()
	l.file(path, data)
	c := l.finish()
	ps := c.Problems()
	for _, check := range checks {
		// The checks read the files as config check does: a relative path
		// (refused below) beside the file, not in the working folder.
		ps = append(ps, check(c)...)
	}
	return append(ps, SharedProblems(path, data)...)
}

// SharedProblems returns what a configuration shared by a cluster may not
// hold beyond what Check refuses, whether it is pushed (CheckShared) or
// edited through a node's admin API: a server or state section, which
// belong in each node's own file, and a relative path: each node loads
// the shared text as a document of no folder, so the path would name a
// file below the node's working folder, not the one beside the pushed
// file that config check looked at.
func SharedProblems(path string, data []byte) Problems {
	l := newLoader()
	l.keepRelative = true
	l.file(path, data)
	c := l.finish()
	var rel []Pos
	for _, t := range c.Tokens {
		rel = append(rel, t.Properties.relativePaths()...)
		if t.PIN.File != "" && !filepath.IsAbs(t.PIN.File) {
			rel = append(rel, t.Pos)
		}
		for _, k := range t.Keys {
			rel = append(rel, k.Properties.relativePaths()...)
		}
	}
	for _, w := range c.Workers {
		rel = append(rel, w.Properties.relativePaths()...)
	}
	for _, u := range c.Users {
		if f := u.PasswordHashFrom.File; f != "" && !filepath.IsAbs(f) {
			rel = append(rel, u.Pos)
		}
	}
	slices.SortFunc(rel, func(a, b Pos) int { return a.Line - b.Line })
	var ps Problems
	for _, pos := range rel {
		ps = append(ps, Problem{Pos: pos, Msg: "A configuration shared by the cluster must name files by absolute path: each node would read a relative one from its own working folder."})
	}
	if l.serverPos != (Pos{}) {
		ps = append(ps, Problem{Pos: l.serverPos, Msg: "The server section belongs in each node's own file, not in the configuration shared by the cluster: move it there."})
	}
	if c.State.Pos != (Pos{}) {
		ps = append(ps, Problem{Pos: c.State.Pos, Msg: "The state section belongs in each node's own file, not in the configuration shared by the cluster: move it there."})
	}
	return ps
}
