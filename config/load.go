package config

import (
	"bytes"
	"hash/fnv"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dustin/go-humanize"
	"gopkg.in/yaml.v3"
)

// loader builds a Config from one or more YAML files. It walks yaml.Node
// trees rather than decoding into structs so that every value keeps its
// line, and so that one bad worker does not stop the others from loading.
type loader struct {
	cfg         *Config
	structural  Problems
	serverPos   Pos
	workerNames map[string]Pos // lower case
	workerIDs   map[int]Pos
	tokenNames  map[string]Pos
	userNames   map[string]Pos
	// keepRelative leaves relative paths as written instead of resolving
	// them against the file's folder, so that CheckShared can find them.
	keepRelative bool
}

func newLoader() *loader {
	return &loader{
		cfg:         &Config{},
		workerNames: map[string]Pos{},
		workerIDs:   map[int]Pos{},
		tokenNames:  map[string]Pos{},
		userNames:   map[string]Pos{},
	}
}

// yamlErrLine finds the line in a yaml.v3 syntax error.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxErrorLine returns the line and message of a yaml.v3 syntax error.
// yaml.v3 names the line where the enclosing block starts, which may be
// far before the mistake (a bad indentation at line 88 reported at the
// "workers:" of line 14), or no line at all (an alias of no anchor). The
// mistake is on the last line of the shortest prefix of the file, in whole
// lines, that fails with the same message; a prefix that fails otherwise
// (cut inside a multi-line value) does not count. Only a file that does
// not parse pays for the prefixes.
func syntaxErrorLine(data []byte, err error) (int, string, bool) {
	message := func(err error) (int, string) {
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return line, m[2]
		}
		return 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	reported, msg := message(err)
	end := 0
	for n := 1; end < len(data); n++ {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		var v yaml.Node
		perr := yaml.Unmarshal(data[:end], &v)
		if perr == nil {
			continue
		}
		if _, pmsg := message(perr); pmsg == msg {
			return n, msg, true
		}
	}
	return reported, msg, reported > 0
}

// file loads one file's data.
func (l *loader) file(name string, data []byte) {
	l.cfg.Files = append(l.cfg.Files, name)
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		dir = filepath.Dir(name)
	}
	if l.keepRelative {
		dir = ""
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		if line := notUTF8Line(data); line > 0 && encodingError(err) {
			l.structural.add(Pos{name, line}, "The file is not valid YAML (%s): save the file as UTF-8; this line holds the first byte that is not.", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if line, msg, ok := syntaxErrorLine(data, err); ok {
			l.structural.add(Pos{name, line}, "The file is not valid YAML (%s): fix the syntax on this line or just before it.", msg)
			return
		}
		l.structural.add(Pos{File: name}, "The file is not valid YAML (%s): fix the syntax.", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	if line := secondDocument(data); line > 0 {
		l.structural.add(Pos{name, line}, "The file holds a second YAML document here, which would be ignored: remove the --- line to make one document, or move what follows into a file of its own.")
		return
	}
	if len(root.Content) == 0 {
		return // an empty file configures nothing
	}
	if ps := tagProblems(name, &root); len(ps) > 0 {
		l.structural = append(l.structural, ps...)
		return
	}
	doc := deref(root.Content[0])
	if isNull(doc) {
		return
	}
	if doc.Kind != yaml.MappingNode {
		l.structural.add(Pos{name, doc.Line}, "The top level must be a mapping with the keys server, state, tokens, workers and users.")
		return
	}
	for _, e := range entries(name, doc, &l.structural) {
		switch e.key {
		case "server":
			l.server(name, dir, e)
		case "state":
			l.state(name, dir, e)
		case "tokens", "workers", "users":
			if isNull(e.val) {
				continue
			}
			if e.val.Kind != yaml.SequenceNode {
				l.structural.add(e.pos, "The %s section must be a list: start each entry with \"- name: ...\".", e.key)
				continue
			}
			for _, item := range e.val.Content {
				switch e.key {
				case "tokens":
					l.token(name, dir, deref(item))
				case "workers":
					l.worker(name, dir, deref(item))
				default:
					l.user(name, dir, deref(item))
				}
			}
		default:
			l.structural.add(e.pos, "Unknown top-level key %q: %s", e.key, hint(e.key, []string{"server", "state", "tokens", "workers", "users"}))
		}
	}
}

// encodingError reports whether err is yaml.v3's refusal of the file's
// encoding (its reader's errors, which name no line), and not a syntax
// error it met first: a large file is decoded as it is read, so a mistake
// above a byte that is not UTF-8 is the one reported.
func encodingError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "invalid Unicode character")
}

// notUTF8Line returns the line of the first byte of data that is not
// UTF-8, or 0. yaml.v3 names no line for it, and a file saved as Latin-1
// (an accent in a name or a comment) would otherwise be refused without
// saying where. A file that starts with a UTF-16 byte order mark is read
// as UTF-16 by yaml.v3 and is not looked at here.
func notUTF8Line(data []byte) int {
	if bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) {
		return 0
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return bytes.Count(data[:i], []byte{'\n'}) + 1
		}
		i += size
	}
	return 0
}

// secondDocument returns the line where a second, non-empty YAML document
// of data starts, or 0. yaml.Unmarshal reads only the first document of a
// stream, so without this a "---" in the middle of a file would drop the
// rest of the file silently. An empty document after a trailing "---"
// configures nothing and is accepted.
func secondDocument(data []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if dec.Decode(&first) != nil {
		return 0
	}
	for {
		var next yaml.Node
		if err := dec.Decode(&next); err != nil {
			return 0 // io.EOF, or a syntax error reported for the first document
		}
		if len(next.Content) > 0 && !isNull(deref(next.Content[0])) {
			return max(next.Line, next.Content[0].Line)
		}
	}
}

// plainTags are the explicit YAML tags that say no more than the value
// itself: Signet reads every value as text, so !!str 8080 and 8080 are the
// same.
var plainTags = []string{"!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq"}

// tagProblems reports every other explicit tag in the tree under n. The
// loader reads a node's text and not its tag, so !!binary aGk= would be the
// path "aGk=" and a custom tag such as !env NAME the literal NAME: a value
// meaning something other than what the file says, without a word.
func tagProblems(file string, n *yaml.Node) Problems {
	var ps Problems
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || n.Kind == yaml.AliasNode { // walked where its anchor is
			return
		}
		if n.Style&yaml.TaggedStyle != 0 && !slices.Contains(plainTags, n.Tag) {
			ps.add(Pos{file, n.Line}, "The YAML tag %s is not read by Signet, which takes the text after it as the value: remove the tag and write the value itself.", n.Tag)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return ps
}

// validListen reports whether v is a host:port the server can listen on:
// the port a number of 0 to 65535. The same rule for listen and
// healthListen, so that config check refuses the address net.Listen would.
func validListen(v string) bool {
	_, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	return err == nil && perr == nil && n >= 0 && n <= 65535
}

// sameListener reports whether two valid listen addresses take the same
// port: the same number, not 0 (any free port), on the same host or with
// either on every address. A host is compared as net.Listen binds it, so
// that one address written two ways is one: an IP in any of its spellings
// (::ffff:127.0.0.1 is 127.0.0.1), localhost as 127.0.0.1 (the address
// net.Listen takes for it), another name case-insensitively. Other names
// are not looked up: what they resolve to where the server runs is not
// what they resolve to where the configuration is checked.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	na, _ := strconv.Atoi(pa)
	nb, _ := strconv.Atoi(pb)
	ha, hb = listenHost(ha), listenHost(hb)
	return na == nb && na != 0 && (ha == hb || ha == "" || hb == "")
}

// listenHost is host as sameListener compares it: "" for every address.
func listenHost(host string) string {
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return strings.ToLower(host)
	case ip.Unmap().IsUnspecified():
		return ""
	}
	return ip.Unmap().String()
}

// hint is the end of a sentence about an unknown key, with its own
// punctuation: "did you mean X?" or "use one of A, B.".
func hint(key string, known []string) string {
	if s := suggest(key, known, nil); s != "" {
		return "did you mean " + s + "?"
	}
	return "use one of " + strings.Join(known, ", ") + "."
}

func (l *loader) server(file, dir string, e entry) {
	if l.serverPos != (Pos{}) {
		l.structural.add(e.pos, "The server section is already set at %s: keep one server section.", l.serverPos)
		return
	}
	l.serverPos = e.pos
	if isNull(e.val) {
		return
	}
	if e.val.Kind != yaml.MappingNode {
		l.structural.add(e.pos, "The server section must be a mapping of server settings (listen, maxUploadSize, the timeouts and limits in the README).")
		return
	}
	srv := &l.cfg.Server
	durations, counts, sizes := srv.numbers()
	known := append([]string{"listen", "tls", "healthListen", "trustedProxies", "auditKey"}, slices.Sorted(maps.Keys(durations))...)
	known = append(known, slices.Sorted(maps.Keys(counts))...)
	known = append(known, slices.Sorted(maps.Keys(sizes))...)
	var healthPos Pos
	defer func() {
		switch {
		case srv.HealthListen == "":
		case srv.Listen != "" && sameListener(srv.Listen, srv.HealthListen):
			l.structural.add(healthPos, "The server healthListen address %s is the listen address %s too, on which the server would fail to start: give the health check a port of its own.", srv.HealthListen, srv.Listen)
		}
	}()
	for _, f := range entries(file, e.val, &l.structural) {
		switch f.key {
		case "tls":
			l.serverTLS(file, dir, f)
			continue
		case "trustedProxies":
			l.trustedProxies(f)
			continue
		}
		v, ok := scalar(f.val)
		if !ok {
			l.structural.add(f.pos, "Set server %s to a single value.", f.key)
			continue
		}
		if d, ok := durations[f.key]; ok {
			t, err := time.ParseDuration(v)
			if err != nil || t <= 0 {
				l.structural.add(f.pos, "The server %s must be a positive duration such as 30s or 2m, not %q.", f.key, v)
				continue
			}
			*d = t
			continue
		}
		if c, ok := counts[f.key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				l.structural.add(f.pos, "The server %s must be a whole number of at least 1, not %q.", f.key, v)
				continue
			}
			*c = n
			continue
		}
		if z, ok := sizes[f.key]; ok {
			n, err := humanize.ParseBytes(v)
			if err != nil || n == 0 || n > 1<<62 {
				l.structural.add(f.pos, "The server %s must be a size such as 100MiB, 1GiB or 1048576 (bytes), not %q.", f.key, v)
				continue
			}
			*z = int64(n)
			continue
		}
		switch f.key {
		case "healthListen":
			if !validListen(v) {
				l.structural.add(f.pos, "The server healthListen address must be host:port, such as 127.0.0.1:8081, not %q.", v)
				continue
			}
			l.cfg.Server.HealthListen, healthPos = v, f.pos
		case "auditKey":
			l.cfg.Server.AuditKey, l.cfg.Server.AuditKeyPos = resolvePath(dir, v), f.pos
		case "listen":
			if !validListen(v) {
				l.structural.add(f.pos, "The server listen address must be host:port, such as 127.0.0.1:8080 or :8080, not %q.", v)
				continue
			}
			srv.Listen = v
		default:
			l.structural.add(f.pos, "Unknown server setting %q: %s", f.key, hint(f.key, known))
		}
	}
}

func (l *loader) token(file, dir string, n *yaml.Node) {
	pos := Pos{file, n.Line}
	if n.Kind != yaml.MappingNode {
		l.structural.add(pos, "Each token must be a mapping with name, type, properties and pin.")
		return
	}
	t := Token{Pos: pos}
	var props, pin, keys *yaml.Node
	var propsPos, pinPos, keysPos Pos
	var fieldProblems Problems
	for _, e := range entries(file, n, &fieldProblems) {
		switch e.key {
		case "name":
			t.Name, _ = scalar(e.val)
		case "type":
			t.Type, _ = scalar(e.val)
		case "properties":
			props, propsPos = e.val, e.pos
		case "pin":
			pin, pinPos = e.val, e.pos
		case "keys":
			keys, keysPos = e.val, e.pos
		default:
			fieldProblems.add(e.pos, "Unknown token field %q: %s", e.key, hint(e.key, []string{"name", "type", "properties", "pin", "keys"}))
		}
	}
	if t.Name == "" {
		l.structural.add(pos, "A token has no name: add name: to it.")
		return
	}
	if prev, dup := l.tokenNames[t.Name]; dup {
		l.structural.add(pos, "Token name %q is already used at %s: give each token its own name.", t.Name, prev)
		return
	}
	l.tokenNames[t.Name] = pos
	t.Problems = fieldProblems
	switch _, known := tokenSchemas()[t.Type]; {
	case t.Type == "":
		t.Problems.add(pos, "Set type to one of %s.", strings.Join(TokenTypes(), ", "))
	case !known:
		t.Problems.add(pos, "Unknown token type %q: %s", t.Type, hint(t.Type, TokenTypes()))
	default:
		b := newPropBuilder(t.Type, dir)
		readProperties(b, file, propsPos, props)
		var ps Problems
		t.Properties, ps = b.finish(pos)
		t.Problems = append(t.Problems, ps...)
	}
	if pin != nil && !isNull(pin) {
		t.PIN, t.PINPos = readSecret(file, dir, "pin", pinPos, pin, &t.Problems), pinPos
	}
	t.Keys = tokenKeys(file, dir, keysPos, keys, &t.Problems)
	l.cfg.Tokens = append(l.cfg.Tokens, t)
}

func (l *loader) worker(file, dir string, n *yaml.Node) {
	pos := Pos{file, n.Line}
	if n.Kind != yaml.MappingNode {
		l.structural.add(pos, "Each worker must be a mapping with name, id, kind, token, key and properties.")
		return
	}
	w := Worker{Pos: pos}
	var props, id *yaml.Node
	var propsPos Pos
	var fieldProblems Problems
	for _, e := range entries(file, n, &fieldProblems) {
		switch e.key {
		case "name":
			w.Name, _ = scalar(e.val)
		case "id":
			id = e.val
		case "kind":
			w.Kind, _ = scalar(e.val)
		case "token":
			w.Token, _ = scalar(e.val)
		case "key":
			w.Key, _ = scalar(e.val)
		case "properties":
			props, propsPos = e.val, e.pos
		case FieldAuthorizedClients:
			w.AuthorizedClients = authorizedClients(file, e.pos, e.val, &fieldProblems)
		case "users":
			w.Users = workerUsers(file, e.pos, e.val, &fieldProblems)
		default:
			fieldProblems.add(e.pos, "Unknown worker field %q: %s", e.key, hint(e.key, []string{"name", "id", "kind", "token", "key", "properties", FieldAuthorizedClients, "users"}))
		}
	}
	if w.Name == "" {
		l.structural.add(pos, "A worker has no name: add name: to it.")
		return
	}
	if strings.TrimLeft(w.Name, "0123456789") == "" {
		l.structural.add(pos, "Worker name %q is all digits and would read as a worker ID: give it a name with a letter.", w.Name)
		return
	}
	if strings.ContainsFunc(w.Name, func(r rune) bool { return r == '/' || unicode.IsControl(r) }) {
		l.structural.add(pos, "Worker name %q holds a '/' or a control character and could not be named in a URL (/signserver/worker/NAME): give it a name without them.", w.Name)
		return
	}
	if prev, dup := l.workerNames[strings.ToLower(w.Name)]; dup {
		l.structural.add(pos, "Worker name %q is already used at %s: give each worker its own name.", w.Name, prev)
		return
	}
	l.workerNames[strings.ToLower(w.Name)] = pos
	if idStr, _ := scalar(id); id != nil && idStr != "" {
		var err error
		if w.ID, err = strconv.Atoi(idStr); err != nil || w.ID <= 0 {
			l.structural.add(Pos{file, id.Line}, "Worker %q has id %q: use a whole number of 1 or more.", w.Name, idStr)
			return
		}
		if prev, dup := l.workerIDs[w.ID]; dup {
			l.structural.add(Pos{file, id.Line}, "Worker id %d is already used at %s: give each worker its own id.", w.ID, prev)
			return
		}
		l.workerIDs[w.ID] = pos
	} // else: finish derives one from the name (see derivedIDs)
	b := newPropBuilder(w.Kind, dir)
	readProperties(b, file, propsPos, props)
	var ps Problems
	w.Properties, ps = b.finish(pos)
	w.Problems = append(fieldProblems, ps...)
	l.cfg.Workers = append(l.cfg.Workers, w)
}

// finish applies the rules that need the whole configuration.
func (l *loader) finish() *Config {
	c := l.cfg
	l.derivedIDs()
	if c.Server.MaxUploadSize == 0 {
		c.Server.MaxUploadSize = DefaultMaxUploadSize
	}
	rules := append(workerRules(), accessRules()...)
	for i := range c.Workers {
		w := &c.Workers[i]
		for _, r := range rules {
			if pos, msg := r(w, c); msg != "" {
				w.Problems.add(pos, "%s", msg)
			}
		}
		sortProblems(w.Problems, c.Files)
	}
	for i := range c.Tokens {
		sortProblems(c.Tokens[i].Problems, c.Files)
	}
	c.structural = slices.Concat(l.structural, userCertRules(c), roleLessUsers(c))
	return c
}

// readProperties adds the properties mapping n, whose key is at pos, to b.
func readProperties(b *propBuilder, file string, pos Pos, n *yaml.Node) {
	if n == nil || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		b.problems.add(pos, "The properties must be a mapping of NAME: value lines.")
		return
	}
	for _, e := range entries(file, n, &b.problems) {
		switch v := e.val; v.Kind {
		case yaml.ScalarNode:
			b.set(e.key, e.pos, v.Value)
		case yaml.MappingNode:
			if def, ok := b.defs[e.key]; ok && def.Secret {
				s := readSecret(file, "", e.key, e.pos, v, &b.problems)
				if !s.IsZero() {
					b.setSecret(e.key, e.pos, s)
				}
				continue
			}
			if _, ok := b.known(e.key, e.pos); ok {
				b.problems.add(e.pos, "%s must be a single value, not a mapping.", e.key)
			}
		case yaml.SequenceNode:
			// A YAML list is accepted for a List property: [SHA-256, SHA-384].
			def, ok := b.known(e.key, e.pos)
			if !ok {
				continue
			}
			var items []string
			for _, it := range v.Content {
				s, ok := scalar(deref(it))
				if !ok || def.Type != List {
					items = nil
					break
				}
				items = append(items, s)
			}
			if items == nil {
				b.problems.add(e.pos, "%s must be a single value, not a list.", e.key)
				continue
			}
			b.set(e.key, e.pos, strings.Join(items, ","))
		}
	}
}

// readSecret reads {env: NAME} or {file: PATH}; what names the field in
// messages and pos is where its key is. A relative file is resolved against dir (when dir is not empty;
// properties resolve their own paths). The secret itself never appears in a
// message.
func readSecret(file, dir, what string, pos Pos, n *yaml.Node, ps *Problems) Secret {
	if n.Kind != yaml.MappingNode {
		ps.add(pos, "The value of %s must not be the secret itself: write {env: NAME} or {file: PATH} and keep the secret there.", what)
		return Secret{}
	}
	var s Secret
	for _, e := range entries(file, n, ps) {
		v, ok := scalar(e.val)
		if !ok || v == "" {
			ps.add(e.pos, "Set %s of %s to a single non-empty value.", e.key, what)
			continue
		}
		switch e.key {
		case "env":
			s.Env = v
		case "file":
			s.File = resolvePath(dir, v)
		default:
			ps.add(e.pos, "Unknown field %q in %s: %s", e.key, what, hint(e.key, []string{"env", "file"}))
		}
	}
	switch {
	case s.Env != "" && s.File != "":
		ps.add(pos, "Both env and file are set for %s: keep one.", what)
		return Secret{}
	case s.IsZero():
		ps.add(pos, "Set env: NAME (an environment variable) or file: PATH for %s.", what)
	}
	return s
}

// entry is one key and value of a YAML mapping.
type entry struct {
	key string
	pos Pos // of the key
	val *yaml.Node
}

// entries returns a mapping's entries with aliases resolved and merge keys
// (<<: *anchor) expanded; keys set explicitly override merged ones. A key
// set twice explicitly, or a key that is not a plain value, is a problem.
func entries(file string, n *yaml.Node, ps *Problems) []entry {
	var merged, own []entry
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		pos := Pos{file, k.Line}
		if k.Kind != yaml.ScalarNode {
			ps.add(pos, "A key must be a plain name, not a list or mapping.")
			continue
		}
		if k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, src := range srcs {
				if src = deref(src); src.Kind == yaml.MappingNode {
					merged = append(merged, entries(file, src, ps)...)
				} else {
					ps.add(pos, "A merge key (<<) takes a mapping or a list of mappings, such as <<: *defaults: merge the anchor of a mapping.")
				}
			}
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			ps.add(pos, "The key %s is set twice (first at %s): keep one.", k.Value, prev)
			continue
		}
		seen[k.Value] = pos
		own = append(own, entry{key: k.Value, pos: pos, val: v})
	}
	out := own[:len(own):len(own)]
	for _, m := range merged {
		if _, overridden := seen[m.key]; !overridden {
			seen[m.key] = m.pos
			out = append(out, m)
		}
	}
	return out
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalar returns a scalar's value; null reads as "".
func scalar(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return strings.TrimSpace(n.Value), true
}

// Worker IDs derived from names lie in [derivedIDBase, derivedIDBase+derivedIDSpan).
const (
	derivedIDBase = 100_000
	derivedIDSpan = 900_000
)

// derivedIDs gives each worker without an id: one derived from its name
// (FNV-1a of the name in lower case, in a range above the small numbers
// people choose), so that it is the same at every start and does not move
// when other workers are added or removed: users type names, but
// SignServer clients may send workerId. Two names that land on the same
// number, or on an id a worker sets, take the next free one, in the order of
// their names.
func (l *loader) derivedIDs() {
	var auto []*Worker
	for i := range l.cfg.Workers {
		if l.cfg.Workers[i].ID == 0 {
			auto = append(auto, &l.cfg.Workers[i])
		}
	}
	slices.SortFunc(auto, func(a, b *Worker) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	for _, w := range auto {
		h := fnv.New32a()
		h.Write([]byte(strings.ToLower(w.Name)))
		id := derivedIDBase + int(h.Sum32()%derivedIDSpan)
		for {
			if _, used := l.workerIDs[id]; !used {
				break
			}
			id = derivedIDBase + (id-derivedIDBase+1)%derivedIDSpan
		}
		w.ID = id
		l.workerIDs[id] = w.Pos
	}
}
