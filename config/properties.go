package config

import (
	"encoding/asn1"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-project/signet/formats/dn"
)

// Properties is an immutable view of a worker's or a token's properties,
// with the schema's defaults for the ones not set. The zero value has no
// properties set and reads the worker schema's defaults.
//
// Code names properties with the Prop* constants. Reading the value of a
// name the schema does not declare is a programming error: in tests it
// panics, in a running server it reads as the zero value. (IsSet and Pos
// take any name.) A value that was set but is invalid
// (and reported as a problem) reads as the default, so a worker built from
// properties with problems still reads values of the right type.
type Properties struct {
	kind string              // worker kind or token type
	defs map[string]Property // the schema that applies
	vals map[string]propValue
}

type propValue struct {
	raw    string // trimmed; Enum values in their declared spelling; Path values resolved
	pos    Pos
	secret Secret
	bad    bool // reported as a problem; reads as the default
}

// NewProperties makes the properties of a worker of the given kind (or of a
// token, when kind is a token type such as "soft") from a map, as a YAML
// file would set them. It returns the problems of unknown names, bad values
// and broken rules between properties; problems have no file position. A
// secret property is written "env:NAME" or "file:PATH".
func NewProperties(kind string, m map[string]string) (Properties, Problems) {
	b := newPropBuilder(kind, "")
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := m[n]
		if def, ok := b.defs[n]; ok && def.Secret {
			s, ok := parseSecretRef(v)
			if !ok {
				b.problems.add(Pos{}, "%s is a secret: write it as env:NAME or file:PATH, never the value itself.", n)
				continue
			}
			b.setSecret(n, Pos{}, s)
			continue
		}
		b.set(n, Pos{}, v)
	}
	return b.finish(Pos{})
}

// parseSecretRef parses "env:NAME" or "file:PATH".
func parseSecretRef(v string) (Secret, bool) {
	if name, ok := strings.CutPrefix(v, "env:"); ok && strings.TrimSpace(name) != "" {
		return Secret{Env: strings.TrimSpace(name)}, true
	}
	if path, ok := strings.CutPrefix(v, "file:"); ok && strings.TrimSpace(path) != "" {
		return Secret{File: strings.TrimSpace(path)}, true
	}
	return Secret{}, false
}

// relativePaths returns where a Path value or a secret's file is relative:
// written so in a file loaded with keepRelative.
func (p Properties) relativePaths() []Pos {
	var out []Pos
	for n, v := range p.vals {
		rel := func(f string) bool { return f != "" && !filepath.IsAbs(f) }
		if (p.defs[n].names(v.raw) && rel(v.raw)) || rel(v.secret.File) {
			out = append(out, v.pos)
		}
	}
	return out
}

// propBuilder collects properties and their problems.
type propBuilder struct {
	kind     string
	token    bool
	dir      string // folder of the YAML file, for Path values
	defs     map[string]Property
	vals     map[string]propValue
	problems Problems
}

func newPropBuilder(kind, dir string) *propBuilder {
	b := &propBuilder{kind: kind, dir: dir, vals: map[string]propValue{}}
	schema, token := tokenSchemas()[kind]
	switch {
	case kind == keyKind:
		schema = keySchema()
	case !token:
		schema = workerSchema()
	}
	b.token = token
	b.defs = make(map[string]Property, len(schema))
	for _, p := range schema {
		b.defs[p.Name] = p
	}
	return b
}

// known reports whether name is declared, and reports it when it is not or
// does not apply to the worker's kind.
func (b *propBuilder) known(name string, pos Pos) (Property, bool) {
	def, ok := b.defs[name]
	if !ok {
		names := make([]string, 0, len(b.defs))
		for n := range b.defs {
			names = append(names, n)
		}
		slices.Sort(names)
		what := "worker"
		if b.kind == keyKind {
			what = "key"
		}
		if b.token {
			what = b.kind + " token"
		}
		// A worker property is named exactly in a key's or a token's
		// section; a worker's unknown name (URL, TIMEOUT) is more likely
		// a typo of its own (TSA_URL) than a token's property.
		s := suggest(name, names, aliases())
		msg := elsewhere(name, what, b.kind == keyKind, names)
		if msg != "" && (what != "worker" || s == "") {
			b.problems.add(pos, "%s", msg)
		} else if s != "" {
			b.problems.add(pos, "Unknown %s property %s: did you mean %s?", what, name, s)
		} else {
			b.problems.add(pos, "Unknown %s property %s: remove it or check its spelling in the property reference.", what, name)
		}
		return def, false
	}
	if _, isKind := lookupKind(b.kind); isKind && !def.AppliesTo(b.kind) {
		b.problems.add(pos, "%s does not apply to %s workers (only to %s): remove it.", name, b.kind, strings.Join(def.Kinds, ", "))
		return def, false
	}
	return def, true
}

// elsewhere returns the sentence for a property that belongs to another
// section than the one it is in, what (a worker, a key of a token, a
// token of some type) whose own property names are here: where it goes.
// "" when name is no property of another section.
func elsewhere(name, what string, key bool, here []string) string {
	if def, ok := LookupProperty(name); ok && what != "worker" {
		switch {
		case key:
			return fmt.Sprintf("%s is a worker property, not a key's: set it on the workers that sign with the key (a key takes %s).", name, strings.Join(here, ", "))
		case def.Key:
			return fmt.Sprintf("%s is a worker property, not a %s's: set it on the workers that sign with the token's keys, or per key under the token's keys.", name, what)
		default:
			return fmt.Sprintf("%s is a worker property, not a %s's: set it on the workers that use the token.", name, what)
		}
	}
	var types []string
	for _, typ := range TokenTypes() {
		if what == "worker" && slices.ContainsFunc(TokenSchema(typ), func(p Property) bool { return p.Name == name }) {
			types = append(types, typ)
		}
	}
	if len(types) > 0 {
		return fmt.Sprintf("%s is a property of %s tokens, not of a worker: set it in the token's properties.", name, strings.Join(types, " and "))
	}
	return ""
}

// set records a scalar value.
func (b *propBuilder) set(name string, pos Pos, raw string) {
	def, ok := b.known(name, pos)
	if !ok {
		return
	}
	if def.Secret {
		b.problems.add(pos, "%s is a secret: give it as {env: NAME} or {file: PATH}, never the value itself.", name)
		return
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return // an empty value is the same as leaving the property out
	}
	v := propValue{raw: raw, pos: pos}
	if msg := def.validate(b.kind, raw); msg != "" {
		b.problems.add(pos, "%s", msg)
		v.bad = true
	}
	switch def.Type {
	case Enum:
		if c, ok := canonical(def.Values, raw); ok {
			v.raw = c
		}
	case Path:
		if def.names(raw) {
			v.raw = resolvePath(b.dir, raw)
		}
	}
	b.vals[name] = v
}

// setSecret records a secret reference.
func (b *propBuilder) setSecret(name string, pos Pos, s Secret) {
	def, ok := b.known(name, pos)
	if !ok {
		return
	}
	if !def.Secret {
		b.problems.add(pos, "%s is not a secret: write its value directly, not an env or file reference.", name)
		return
	}
	if s.File != "" {
		s.File = resolvePath(b.dir, s.File)
	}
	b.vals[name] = propValue{pos: pos, secret: s}
}

// finish checks required properties and the rules between properties.
// owner is the position of the worker or token, for what is missing.
func (b *propBuilder) finish(owner Pos) (Properties, Problems) {
	p := Properties{kind: b.kind, defs: b.defs, vals: b.vals}
	names := make([]string, 0, len(b.defs))
	for n := range b.defs {
		names = append(names, n)
	}
	slices.Sort(names)
	_, isKind := lookupKind(b.kind)
	for _, n := range names {
		def := b.defs[n]
		if def.Required && (b.token || (isKind && def.AppliesTo(b.kind))) && !p.IsSet(n) {
			b.problems.add(owner, "Set %s: %s", n, lowerFirst(def.Doc))
		}
	}
	if b.token || isKind {
		b.problems = append(b.problems, propertyRuleProblems(p, owner, b.token)...)
	}
	return p, b.problems
}

func resolvePath(dir, p string) string {
	if dir == "" || p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (p Properties) def(name string) (Property, bool) {
	var d Property
	var ok bool
	if p.defs != nil {
		d, ok = p.defs[name]
	} else {
		d, ok = LookupProperty(name)
	}
	if !ok && testing.Testing() {
		panic(fmt.Sprintf("config: property %s is not declared in the schema of %q: declare it in schema.go and read it by its Prop constant", name, p.kind))
	}
	return d, ok
}

// get returns the value in force: the one set, or the default.
func (p Properties) get(name string) string {
	d, _ := p.def(name)
	if v, ok := p.vals[name]; ok && !v.bad {
		return v.raw
	}
	return d.Default
}

// String returns the value of a property, or its default. Enum values come
// in the schema's spelling, Path values resolved against the YAML file's
// folder. A secret property reads as "": use Secret.
func (p Properties) String(name string) string { return p.get(name) }

// Bool returns a Bool property.
func (p Properties) Bool(name string) bool { return strings.EqualFold(p.get(name), "true") }

// Int returns an Int property, or 0 when it is not set and has no default.
func (p Properties) Int(name string) int {
	n, _ := strconv.Atoi(p.get(name))
	return n
}

// List returns a List property's items: split on commas (and semicolons),
// trimmed, empty items dropped. Items of a List with declared Values come in
// the schema's spelling.
func (p Properties) List(name string) []string {
	items := splitList(p.get(name))
	if d, ok := p.def(name); ok && d.Values != nil {
		for i, it := range items {
			if c, ok := canonical(d.Values, it); ok {
				items[i] = c
			}
		}
	}
	return items
}

// Duration returns a Duration property, or 0 when it is not set and has no
// default.
func (p Properties) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(p.get(name))
	return d
}

// OID returns an OID property, or nil when it is not set and has no
// default. The value was validated with the same parser when it was loaded.
func (p Properties) OID(name string) asn1.ObjectIdentifier {
	oid, _ := dn.ParseOID(p.get(name))
	return oid
}

// OIDs returns a List property of OIDs (items that are not OIDs were
// reported when the value was loaded, and the value reads as its default).
func (p Properties) OIDs(name string) []asn1.ObjectIdentifier {
	var oids []asn1.ObjectIdentifier
	for _, item := range p.List(name) {
		if oid, err := dn.ParseOID(item); err == nil {
			oids = append(oids, oid)
		}
	}
	return oids
}

// Secret returns the reference of a secret property (zero when not set).
func (p Properties) Secret(name string) Secret {
	p.def(name)
	return p.vals[name].secret
}

// IsSet reports whether the configuration sets the property (to a non-empty
// value, valid or not). Unlike the readers of values it takes any name,
// such as one a user typed: an undeclared property is not set.
func (p Properties) IsSet(name string) bool {
	_, ok := p.vals[name]
	return ok
}

// Pos returns where the property is set, or the zero Pos. Like IsSet it
// takes any name.
func (p Properties) Pos(name string) Pos { return p.vals[name].pos }

// Names returns the names of the properties set, sorted.
func (p Properties) Names() []string {
	names := make([]string, 0, len(p.vals))
	for n := range p.vals {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Map returns the properties set, for display: secrets appear as their
// reference (env:NAME or file:PATH), never as a value.
func (p Properties) Map() map[string]string {
	m := make(map[string]string, len(p.vals))
	for n, v := range p.vals {
		if v.secret != (Secret{}) {
			m[n] = v.secret.String()
			continue
		}
		m[n] = v.raw
	}
	return m
}

// aliases maps names people write by mistake, which edit distance would not
// find, to the property they mean.
func aliases() map[string]string {
	return map[string]string{
		"DEFAULTTIMESTAMPPOLICY": "DEFAULTTSAPOLICYOID",
		"DEFAULTTSAPOLICY":       "DEFAULTTSAPOLICYOID",
		"KEYSTOREPASSWORD":       "the token's pin (pin: {env: NAME} or {file: PATH})",
		"PIN":                    "the token's pin (pin: {env: NAME} or {file: PATH})",
		"DEFAULTKEY":             "the worker's key field",
		"CRYPTOTOKEN":            "the worker's token field",
	}
}

// Suggest returns the candidate closest to name (a command, a flag, a
// property), as config's "did you mean" picks it, or "" when none is
// close: one rule of closeness for the configuration and the command line.
func Suggest(name string, candidates []string) string {
	return suggest(name, candidates, nil)
}

// suggest returns the candidate closest to name: an alias, then a match
// ignoring letter case, then the nearest by edit distance if it is close.
func suggest(name string, candidates []string, alias map[string]string) string {
	up := strings.ToUpper(name)
	if a, ok := alias[up]; ok {
		return a
	}
	for _, c := range candidates {
		if strings.ToUpper(c) == up {
			return c
		}
	}
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(up, strings.ToUpper(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(up)/4) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes; property
// names are ASCII). Hand-written: it is a dozen lines and no library in the
// module graph offers it.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// add appends a problem with a formatted message.
func (ps *Problems) add(pos Pos, format string, args ...any) {
	*ps = append(*ps, Problem{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}
