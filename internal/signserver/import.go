package signserver

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/signet-project/signet/config"
)

// Skip is a SignServer property (or a whole worker) that the conversion
// could not carry over, with the reason. Property is empty when the whole
// worker is skipped.
type Skip struct {
	Pos      config.Pos
	Worker   string // the worker's or crypto token's name, or its reference (WORKER5) before it has one
	Property string
	Reason   string // one sentence saying why, and what to do instead
}

// String returns "file:line: Worker.PROPERTY: reason".
func (s Skip) String() string {
	what := s.Worker
	if s.Property != "" {
		what += "." + s.Property
	}
	if p := s.Pos.String(); p != "" {
		return p + ": " + what + ": " + s.Reason
	}
	return what + ": " + s.Reason
}

// Result is what Import made of a set of SignServer property files.
type Result struct {
	// YAML is the Signet configuration: the tokens and workers, in the
	// order the files name them.
	YAML []byte
	// Skipped lists every property the configuration does not carry, with
	// the reason. Nothing else is dropped.
	Skipped []Skip
	// Notes say what a carried property became where it is not the same
	// name and value, such as a keystore password that is now read from an
	// environment variable.
	Notes []string
	// Warnings are what the YAML carries over from the files but will not
	// work as the files meant, such as two crypto tokens on one PKCS#11
	// slot with different PINs: "file:line: sentence".
	Warnings []string
	// Problems are what `signet config check` reports for YAML (cross-
	// property rules between carried properties, a worker whose crypto
	// token is not in the files). Empty when the YAML is ready to serve.
	Problems config.Problems
}

// unit is one SignServer worker as the files describe it.
type unit struct {
	ref   string // WORKERGENID1 or WORKER5, as written
	id    int    // 0 for a WORKERGENID worker
	genid int    // n of WORKERGENIDn, 0 otherwise
	pos   config.Pos
	props []prop // in first-written order; a later line overrides the value
}

type prop struct {
	name, value string
	pos         config.Pos
}

func (u *unit) get(name string) (prop, bool) {
	for _, p := range u.props {
		if p.name == name {
			return p, true
		}
	}
	return prop{}, false
}

func (u *unit) value(name string) string {
	p, _ := u.get(name)
	return strings.TrimSpace(p.value)
}

func (u *unit) set(p prop) {
	for i := range u.props {
		if u.props[i].name == p.name {
			u.props[i].value, u.props[i].pos = p.value, p.pos
			return
		}
	}
	u.props = append(u.props, p)
}

func (u *unit) remove(name string) {
	u.props = slices.DeleteFunc(u.props, func(p prop) bool { return p.name == name })
}

// name is the worker's NAME, or its reference when it has none.
func (u *unit) name() string {
	if n := u.value("NAME"); n != "" {
		return n
	}
	return u.ref
}

// File is one property file to import.
type File struct {
	Name string // shown in positions
	R    io.Reader
}

// Import converts SignServer worker property files into a Signet
// configuration. It returns an error only for a file that cannot be read;
// everything that does not carry over is in the Result.
func Import(files ...File) (*Result, error) {
	var units []*unit
	res := &Result{}
	byRef := map[string]*unit{}
	for _, f := range files {
		entries, err := readProperties(f.Name, f.R)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			collect(e, byRef, &units, res)
		}
	}
	assignIDs(units, files)
	c := &converter{res: res, tokens: map[string]*yaml.Node{}, envs: map[string]bool{}, tokenSrc: map[string]source{}, workerSrc: map[string]source{}, slots: map[[3]string]slotUse{}}
	for _, u := range units {
		if isCryptoWorker(u) {
			c.token(u, u.name(), u.props)
		}
	}
	for _, u := range units {
		if !isCryptoWorker(u) {
			c.worker(u)
		}
	}
	slices.SortStableFunc(res.Skipped, func(a, b Skip) int {
		return cmp.Or(cmp.Compare(fileIndex(files, a.Pos.File), fileIndex(files, b.Pos.File)), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
	out, err := c.yaml()
	if err != nil {
		return nil, err
	}
	res.YAML = out
	if cfg, err := config.Parse(yamlName, out); err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			res.Problems = ps
		} else {
			res.Problems = config.Problems{{Msg: err.Error()}}
		}
	} else {
		res.Problems = c.atSources(cfg, files)
	}
	if len(c.tokenSeq) == 0 && len(c.workers) == 0 {
		// An empty YAML with exit status 0 would read as a clean import
		// of nothing: the wrong file (a global configuration, a database
		// dump), an empty one, or workers of kinds Signet does not have
		// (listed as not imported).
		res.Problems = append(res.Problems, config.Problem{Msg: fmt.Sprintf("Nothing was imported: %s %s no SignServer worker or crypto worker that Signet has (WORKERGENID<n>.<PROPERTY> or WORKER<id>.<PROPERTY> lines); give the file that signserver dumpproperties wrote.", fileNames(files), holds(len(files)))})
	}
	return res, nil
}

// fileNames names files for a sentence: "a", "a and b", "a, b and c".
func fileNames(files []File) string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// holds is the verb of fileNames's subject of n files.
func holds(n int) string {
	if n == 1 {
		return "holds"
	}
	return "hold"
}

// yamlName is the name the import's YAML is checked under, in the
// positions of its problems.
const yamlName = "signet.yaml"

// yamlPos is a position in the YAML, as a problem's sentence names one.
var yamlPos = regexp.MustCompile(regexp.QuoteMeta(yamlName) + `:(\d+)`)

// source is where an imported token or worker comes from: its first
// property line, and the line of each property it was given, by Signet
// property name.
type source struct {
	unit  config.Pos
	props map[string]config.Pos
}

// atSources returns the problems of cfg, those of an imported token or
// worker at the property (or the worker's first line) it comes from, and
// the positions their sentences name too: the YAML is the import's own
// output, the property files are what its user has and edits.
func (c *converter) atSources(cfg *config.Config, files []File) config.Problems {
	at := map[config.Pos]config.Pos{}
	remap := func(start config.Pos, ps config.Problems, props config.Properties, src source, ok bool) {
		if !ok {
			return
		}
		at[start] = src.unit
		for _, p := range ps {
			at[p.Pos] = src.unit
			for name, pos := range src.props {
				if props.Pos(name) == p.Pos {
					at[p.Pos] = pos
					break
				}
			}
		}
	}
	for _, t := range cfg.Tokens {
		src, ok := c.tokenSrc[t.Name]
		remap(t.Pos, t.Problems, t.Properties, src, ok)
	}
	for _, w := range cfg.Workers {
		src, ok := c.workerSrc[w.Name]
		remap(w.Pos, w.Problems, w.Properties, src, ok)
	}
	ps := cfg.Problems()
	for i := range ps {
		if pos, ok := at[ps[i].Pos]; ok {
			ps[i].Pos = pos
		}
		ps[i].Msg = yamlPos.ReplaceAllStringFunc(ps[i].Msg, func(m string) string {
			line, _ := strconv.Atoi(m[len(yamlName)+1:])
			if pos, ok := at[config.Pos{File: yamlName, Line: line}]; ok {
				return pos.String()
			}
			return m
		})
	}
	slices.SortStableFunc(ps, func(a, b config.Problem) int {
		return cmp.Or(cmp.Compare(fileIndex(files, a.Pos.File), fileIndex(files, b.Pos.File)), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
	return ps
}

// collect files one entry under its worker, applying setproperties'
// "-" (remove) form and the GLOB.WORKERn.CLASSPATH form of older dumps.
func collect(e entry, byRef map[string]*unit, units *[]*unit, res *Result) {
	key := strings.ToUpper(strings.TrimSpace(e.key))
	remove := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	if g, ok := strings.CutPrefix(key, "GLOB."); ok {
		switch ref, p, _ := strings.Cut(g, "."); {
		case strings.HasPrefix(ref, "WORKER") && p == "CLASSPATH":
			key = ref + ".IMPLEMENTATION_CLASS"
		case strings.HasPrefix(ref, "WORKER") && p == "SIGNERTOKEN.CLASSPATH":
			key = ref + ".CRYPTOTOKEN_IMPLEMENTATION_CLASS"
		default:
			res.Skipped = append(res.Skipped, Skip{Pos: e.pos, Worker: "GLOB", Property: g,
				Reason: "global SignServer settings have no Signet equivalent: server settings go in the server: section of the YAML."})
			return
		}
	}
	ref, name, ok := strings.Cut(key, ".")
	id, genid := 0, 0
	var err error
	switch {
	case !ok || name == "":
		err = errors.New("no property name")
	case strings.HasPrefix(ref, "WORKERGENID"):
		genid, err = strconv.Atoi(ref[len("WORKERGENID"):])
	case strings.HasPrefix(ref, "WORKER"):
		id, err = strconv.Atoi(ref[len("WORKER"):])
	default:
		err = errors.New("not a worker")
	}
	if err != nil || id < 0 || genid < 0 {
		res.Skipped = append(res.Skipped, Skip{Pos: e.pos, Worker: e.key,
			Reason: "not a worker property: write WORKERGENID<n>.<PROPERTY> or WORKER<id>.<PROPERTY>."})
		return
	}
	// WORKER<id> names one worker across files; WORKERGENID<n> numbers the
	// new workers of one file, as each setproperties run does.
	scope := ref
	if genid > 0 {
		scope = e.pos.File + "\x00" + ref
	}
	u := byRef[scope]
	if u == nil {
		u = &unit{ref: ref, id: id, genid: genid, pos: e.pos}
		byRef[scope] = u
		*units = append(*units, u)
	}
	if remove {
		u.remove(name)
		return
	}
	u.set(prop{name: name, value: e.value, pos: e.pos})
}

// assignIDs gives WORKERGENID workers the next free IDs in the order of n,
// as setproperties does.
func assignIDs(units []*unit, files []File) {
	next := 1
	for _, u := range units {
		next = max(next, u.id+1)
	}
	gen := slices.Clone(units)
	slices.SortStableFunc(gen, func(a, b *unit) int {
		return cmp.Or(cmp.Compare(fileIndex(files, a.pos.File), fileIndex(files, b.pos.File)), cmp.Compare(a.genid, b.genid))
	})
	for _, u := range gen {
		if u.genid > 0 && !isCryptoWorker(u) {
			u.id = next
			next++
		}
	}
}

func fileIndex(files []File, name string) int {
	return slices.IndexFunc(files, func(f File) bool { return f.Name == name })
}

// simpleClass returns the last segment of a Java class name.
func simpleClass(c string) string {
	c = strings.TrimSpace(c)
	return c[strings.LastIndex(c, ".")+1:]
}

func isCryptoWorker(u *unit) bool {
	return strings.EqualFold(u.value("TYPE"), "CRYPTO_WORKER") || simpleClass(u.value("IMPLEMENTATION_CLASS")) == "CryptoWorker"
}

// converter builds the YAML document.
type converter struct {
	res      *Result
	tokenSeq []*yaml.Node
	workers  []*yaml.Node
	tokens   map[string]*yaml.Node // by name
	envs     map[string]bool       // environment variables given to secrets
	// tokenSrc and workerSrc say where each token and worker of the YAML
	// comes from, by name, for the positions of its problems.
	tokenSrc, workerSrc map[string]source
	// slots holds the first pkcs11 token on each module and slot.
	slots map[[3]string]slotUse
}

// slotUse is a pkcs11 token on a slot: its name, PIN and the line that set
// its slot.
type slotUse struct {
	name, pin string
	pos       config.Pos
}

// sharedSlot says what two pkcs11 tokens on one module and slot become. A
// PKCS#11 login belongs to the process, not to a token: the two share it,
// and since a slot has one user PIN, with different PINs one of them is
// refused when it activates (tokens/pkcs11 checks a PIN against the live
// login), which is worth a warning; with the same PIN they work, as one
// login, worth a note.
func (c *converter) sharedSlot(name, pin string, vals map[string]string, pos config.Pos) {
	slot := [3]string{vals[config.PropSharedLibraryName], vals[config.PropSlotLabelType], vals[config.PropSlotLabelValue]}
	if slot[2] == "" {
		return
	}
	prev, ok := c.slots[slot]
	if !ok {
		c.slots[slot] = slotUse{name: name, pin: pin, pos: pos}
		return
	}
	if prev.pin != pin {
		c.res.Warnings = append(c.res.Warnings, fmt.Sprintf("%s: crypto token %s is on the slot of crypto token %s (%s) with another PIN: a slot has one user PIN, so Signet refuses the token whose PIN is not the slot's; give both the slot's PIN, or keep one token for the slot and point the workers of the other at it.", pos, name, prev.name, prev.pos))
		return
	}
	c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: crypto token %s is on the slot of crypto token %s (%s) with the same PIN: the two are one login to the slot, and one token for it does the same.", pos, name, prev.name, prev.pos))
}

// envVar returns name, or name with a number when another secret has it
// already: names that differ only in characters envName replaces (Crypto-A
// and Crypto_A) must not read one variable for two secrets.
func (c *converter) envVar(name string) string {
	v := name
	for n := 2; c.envs[v]; n++ {
		v = name + "_" + strconv.Itoa(n)
	}
	c.envs[v] = true
	return v
}

func (c *converter) skip(u *unit, p prop, format string, args ...any) {
	c.res.Skipped = append(c.res.Skipped, Skip{Pos: p.pos, Worker: u.name(), Property: p.name, Reason: fmt.Sprintf(format, args...)})
}

// tokenType maps a SignServer crypto token class to a Signet token type.
func tokenType(class string) (string, bool) {
	switch simpleClass(class) {
	case "KeystoreCryptoToken", "P12CryptoToken", "JKSCryptoToken":
		return config.TokenSoft, true
	case "PKCS11CryptoToken":
		return config.TokenPKCS11, true
	}
	return "", false
}

// pkcs11Libraries maps SignServer's shared library names (defined in its
// deploy configuration) to the Debian path of the same module.
func pkcs11Libraries() map[string]string {
	return map[string]string{
		"SOFTHSM":  "/usr/lib/softhsm/libsofthsm2.so",
		"SOFTHSM2": "/usr/lib/softhsm/libsofthsm2.so",
		"OPENSC":   "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
	}
}

// token converts a crypto worker (or the crypto token part of an old-style
// signer) into a token entry named name.
func (c *converter) token(u *unit, name string, props []prop) {
	class, _ := u.get("CRYPTOTOKEN_IMPLEMENTATION_CLASS")
	typ, ok := tokenType(class.value)
	if !ok {
		c.res.Skipped = append(c.res.Skipped, Skip{Pos: u.pos, Worker: name,
			Reason: fmt.Sprintf("crypto token %s has no Signet equivalent (Signet has soft and pkcs11 tokens for SignServer's KeystoreCryptoToken and PKCS11CryptoToken, and nethsm and dsm): define the token in the YAML by hand.", cmp.Or(class.value, "(no CRYPTOTOKEN_IMPLEMENTATION_CLASS)"))})
		return
	}
	schema := map[string]config.Property{}
	for _, p := range config.TokenSchema(typ) {
		schema[p.Name] = p
	}
	vals := map[string]string{}
	var order []string
	src := source{unit: u.pos, props: map[string]config.Pos{}}
	var at config.Pos // the line of the property being converted
	setVal := func(n, v string) {
		if _, seen := vals[n]; !seen {
			order = append(order, n)
		}
		vals[n] = v
		src.props[n] = at
	}
	var pin, pinValue string
	for _, p := range props {
		v := strings.TrimSpace(p.value)
		at = p.pos
		switch {
		case p.name == "TYPE" || p.name == "IMPLEMENTATION_CLASS" || p.name == "CRYPTOTOKEN_IMPLEMENTATION_CLASS" || p.name == "NAME":
			continue
		case v == "":
			c.skip(u, p, "empty: SignServer reads an empty value as not set, and so does Signet.")
		case p.name == "KEYSTOREPASSWORD" || p.name == "PIN":
			pin, pinValue = c.envVar("SIGNET_PIN_"+envName(name)), v
			c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.%s is not written to the YAML: token %s reads its pin from the environment variable %s; set it to that secret before starting Signet.", p.pos, u.ref, p.name, name, pin))
		case p.name == "DEFAULTKEY":
			c.skip(u, p, "Signet checks a token by opening it, not by a test key: each worker names its own key.")
		case p.name == "ATTRIBUTES" || p.name == "ATTRIBUTESFILE":
			c.skip(u, p, "Signet takes no PKCS#11 attribute templates: the keys it generates are always sign-only, sensitive and not extractable.")
		case typ == config.TokenSoft && p.name == "KEYSTORETYPE" && !strings.EqualFold(v, "PKCS12"):
			c.skip(u, p, "Signet reads PKCS12 (and PEM) keystores, not %s: convert it with keytool -importkeystore -deststoretype PKCS12 and point KEYSTOREPATH at the result.", v)
		case typ == config.TokenPKCS11 && (p.name == "SHAREDLIBRARYNAME" || p.name == "SHAREDLIBRARY"):
			if path, ok := pkcs11Libraries()[strings.ToUpper(v)]; ok {
				c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.%s=%s is the module %s.", p.pos, u.ref, p.name, v, path))
				v = path
			} else if !strings.Contains(v, "/") {
				c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.%s=%s names a library from SignServer's deploy configuration: set SHAREDLIBRARYNAME to the module's path.", p.pos, u.ref, p.name, v))
			}
			setVal("SHAREDLIBRARYNAME", v)
		case typ == config.TokenPKCS11 && p.name == "SLOT":
			setVal("SLOTLABELTYPE", "SLOT_NUMBER")
			setVal("SLOTLABELVALUE", v)
		default:
			def, known := schema[p.name]
			if !known {
				c.skip(u, p, "not a property of Signet's %s token.", typ)
				continue
			}
			if msg := def.Check(typ, v); msg != "" {
				c.skip(u, p, "%s", msg)
				continue
			}
			setVal(p.name, normalize(def, v))
		}
	}
	if prev, dup := c.tokens[name]; dup && prev != nil {
		c.res.Skipped = append(c.res.Skipped, Skip{Pos: u.pos, Worker: name, Reason: "a second crypto token with this name: give each crypto worker its own NAME."})
		return
	}
	n := mapping("name", name, "type", typ)
	if len(order) > 0 {
		pm := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range order {
			pm.Content = append(pm.Content, scalarNode(k), scalarNode(vals[k]))
		}
		n.Content = append(n.Content, scalarNode("properties"), pm)
	}
	if pin != "" {
		n.Content = append(n.Content, scalarNode("pin"), mapping("env", pin))
	}
	if typ == config.TokenPKCS11 {
		c.sharedSlot(name, pinValue, vals, src.props[config.PropSlotLabelValue])
	}
	c.tokens[name] = n
	c.tokenSrc[name] = src
	c.tokenSeq = append(c.tokenSeq, n)
}

// tokenProperty reports whether a property of an old-style signer belongs
// to its embedded crypto token.
func tokenProperty(typ, name string) bool {
	switch name {
	case "KEYSTOREPASSWORD", "PIN", "ATTRIBUTES", "ATTRIBUTESFILE", "SHAREDLIBRARY", "SLOT":
		return true
	}
	return slices.ContainsFunc(config.TokenSchema(typ), func(p config.Property) bool { return p.Name == name })
}

// worker converts a processable worker.
func (c *converter) worker(u *unit) {
	cls := simpleClass(u.value("IMPLEMENTATION_CLASS"))
	if !slices.Contains(config.Kinds(), cls) {
		reason := fmt.Sprintf("Signet has no %s worker (it has %s): the worker and its %d properties are not imported.", cmp.Or(cls, "(no IMPLEMENTATION_CLASS)"), strings.Join(config.Kinds(), ", "), len(u.props))
		c.res.Skipped = append(c.res.Skipped, Skip{Pos: u.pos, Worker: u.name(), Reason: reason})
		return
	}
	tokenName := u.value("CRYPTOTOKEN")
	props := u.props
	if class := u.value("CRYPTOTOKEN_IMPLEMENTATION_CLASS"); class != "" && tokenName == "" {
		// An older configuration keeps the crypto token inside the signer.
		typ, _ := tokenType(class)
		tokenName = u.name() + "Token"
		var tp, wp []prop
		for _, p := range u.props {
			if p.name == "CRYPTOTOKEN_IMPLEMENTATION_CLASS" || tokenProperty(typ, p.name) {
				tp = append(tp, p)
			} else {
				wp = append(wp, p)
			}
		}
		c.token(u, tokenName, tp)
		props = wp
	}
	n := mapping("name", u.name(), "id", strconv.Itoa(u.id), "kind", cls)
	if tokenName != "" {
		n.Content = append(n.Content, scalarNode("token"), scalarNode(tokenName))
	}
	if key := u.value("DEFAULTKEY"); key != "" {
		n.Content = append(n.Content, scalarNode("key"), scalarNode(key))
	}
	pm := &yaml.Node{Kind: yaml.MappingNode}
	src := source{unit: u.pos, props: map[string]config.Pos{}}
	for _, p := range props {
		v := strings.TrimSpace(p.value)
		switch p.name {
		case "TYPE", "IMPLEMENTATION_CLASS", "NAME", "CRYPTOTOKEN", "DEFAULTKEY", "CRYPTOTOKEN_IMPLEMENTATION_CLASS":
			continue
		}
		if v == "" {
			c.skip(u, p, "empty: SignServer reads an empty value as not set, and so does Signet.")
			continue
		}
		if name, value, reason, ok := archiving(u, p.name, v); ok {
			if reason != "" {
				c.skip(u, p, "%s", reason)
				continue
			}
			if p.name != name || value != v {
				c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.%s=%s is %s %s in Signet.", p.pos, u.ref, p.name, v, name, value))
			}
			p.name, v = name, value
		}
		def, known := config.LookupProperty(p.name)
		if p.name == config.PropAuthType && simpleClass(v) == simpleClass(usernamePasswordAuthorizer) {
			// SignServer names its authorizer class; Signet the same rule.
			c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.AUTHTYPE=%s is AUTHTYPE %s: give the worker its users (users: in the worker, or names from the users: section).", p.pos, u.ref, v, config.AuthUsernamePassword))
			v = config.AuthUsernamePassword
		}
		if p.name == "ACCEPTANYPOLICY" && strings.EqualFold(v, "false") {
			c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.ACCEPTANYPOLICY=false is what Signet does: only ACCEPTEDPOLICIES are accepted.", p.pos, u.ref))
			continue
		}
		if !known || !def.AppliesTo(cls) {
			c.skip(u, p, "%s", unsupportedReason(cls, p.name))
			continue
		}
		if def.Secret {
			env := c.envVar("SIGNET_" + envName(u.name()) + "_" + p.name)
			c.res.Notes = append(c.res.Notes, fmt.Sprintf("%s: %s.%s is not written to the YAML: worker %s reads it from the environment variable %s; set it to that secret before starting Signet.", p.pos, u.ref, p.name, u.name(), env))
			pm.Content = append(pm.Content, scalarNode(p.name), mapping("env", env))
			src.props[p.name] = p.pos
			continue
		}
		if msg := def.Check(cls, v); msg != "" {
			c.skip(u, p, "%s", msg)
			continue
		}
		pm.Content = append(pm.Content, scalarNode(p.name), scalarNode(normalize(def, v)))
		src.props[p.name] = p.pos
	}
	if len(pm.Content) > 0 {
		n.Content = append(n.Content, scalarNode("properties"), pm)
	}
	c.workerSrc[u.name()] = src
	c.workers = append(c.workers, n)
}

// archiving maps SignServer's archiving properties to Signet's: the legacy
// ARCHIVE=true and the database archivers of ARCHIVERS (OldDatabaseArchiver,
// and Base64DatabaseArchiver, which differs only in how it encodes the
// data) become ARCHIVERS: OldDatabaseArchiver, and that archiver's
// ARCHIVERn.ARCHIVE_OF_TYPE becomes ARCHIVE_OF_TYPE. ok is false for a
// property that is not one of these; reason says why one is not imported.
func archiving(u *unit, name, v string) (newName, value, reason string, ok bool) {
	db := -1 // the index of the database archiver in ARCHIVERS
	for i, c := range strings.Split(u.value("ARCHIVERS"), ",") {
		if sc := simpleClass(c); db < 0 && (sc == config.ArchiverDatabase || sc == "Base64DatabaseArchiver") {
			db = i
		}
	}
	switch {
	case name == "ARCHIVE":
		if !strings.EqualFold(v, "true") {
			return "", "", "ARCHIVE=" + v + " archives nothing, as Signet without ARCHIVERS.", true
		}
		if db >= 0 {
			return "", "", "ARCHIVE=true is superseded by ARCHIVERS, as in SignServer.", true
		}
		return config.PropArchivers, config.ArchiverDatabase, "", true
	case name == config.PropArchivers:
		if db < 0 {
			return "", "", "Signet archives with OldDatabaseArchiver only (into its state database): set ARCHIVERS: OldDatabaseArchiver to archive there.", true
		}
		return config.PropArchivers, config.ArchiverDatabase, "", true
	case db >= 0 && name == fmt.Sprintf("ARCHIVER%d.%s", db, config.PropArchiveOfType):
		return config.PropArchiveOfType, v, "", true
	}
	return "", "", "", false
}

// unsupportedReason says why a SignServer worker property has no Signet
// counterpart, for the ones SignServer's sample configurations set.
func unsupportedReason(kind, name string) string {
	switch {
	case name == "ARCHIVERS" || strings.HasPrefix(name, "ARCHIVER"):
		return "Signet's archiver has ARCHIVE_OF_TYPE and ARCHIVE_RETENTION, and no other ARCHIVERn settings: the signing log records every request's client address (from X-Forwarded-For only when the proxy is in server trustedProxies) with the hash signed."
	case strings.HasPrefix(name, "DO_LOG") || strings.HasPrefix(name, "LOGREQUEST_") || strings.HasPrefix(name, "LOGRESPONSE_"):
		return "Signet does not log request or response digests: its audit log records the hash signed."
	case name == "ACCEPTANYPOLICY":
		return "Signet accepts only the policies in ACCEPTEDPOLICIES (a request naming none gets DEFAULTTSAPOLICYOID): list the policies your clients ask for."
	case name == "TIMESOURCE":
		return "Signet takes the time from the system clock: keep it synchronised (NTP)."
	case name == "SIGNERCERTCHAIN" || name == "SIGNERCERT":
		return "Signet keeps the certificate chain with the key in its token: upload it with signet admin keys chain."
	case name == "EMBED_CRL" || name == "EMBED_OCSP_RESPONSE":
		return "Signet embeds revocation data at PAdES BASELINE-LT: set SIGNATURE_LEVEL: BASELINE-LT (with TSA_WORKER or TSA_URL)."
	}
	if def, ok := config.LookupProperty(name); ok {
		return fmt.Sprintf("a property of %s, not of %s.", strings.Join(def.Kinds, " and "), kind)
	}
	return "Signet has no such property."
}

// normalize writes a value as Signet's documentation does: booleans in
// lower case; everything else as given.
func normalize(def config.Property, v string) string {
	if def.Type == config.Bool {
		return strings.ToLower(v)
	}
	return v
}

// envName turns a name into the letters, digits and underscores of an
// environment variable name.
func envName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// scalarNode is a plain scalar; a value YAML would read as null is quoted,
// since Signet reads every other scalar as text.
func scalarNode(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	switch strings.ToLower(v) {
	case "", "~", "null":
		n.Tag = "!!str"
	}
	return n
}

func mapping(kv ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, scalarNode(kv[i]), scalarNode(kv[i+1]))
	}
	return n
}

func (c *converter) yaml() ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	doc.HeadComment = "Signet configuration imported from SignServer worker properties\n(signet config import-signserver). Check it with: signet config check FILE"
	doc.Content = append(doc.Content,
		scalarNode("tokens"), &yaml.Node{Kind: yaml.SequenceNode, Content: c.tokenSeq},
		scalarNode("workers"), &yaml.Node{Kind: yaml.SequenceNode, Content: c.workers})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return buf.Bytes(), nil
}
