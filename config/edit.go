package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/signet-project/signet/internal/atomicfile"
)

// This file changes configuration files in place, for the admin web UI and
// API: set or remove a worker property, add a worker. yaml.v3's Node API
// finds where in the file a worker and its properties are; the change is
// then spliced into the file's text at those lines, so that everything else
// — comments, blank lines, key order, quoting, indentation — stays byte for
// byte as the operator wrote it (re-encoding the node tree would drop blank
// lines and re-indent the file).

// ErrNotEditable reports a part of a file that the editor does not change
// (a flow mapping, a multi-line value, an alias): edit it by hand.
var ErrNotEditable = errors.New("this part of the file cannot be edited here")

// Edit changes the text of one configuration file; doc is the file parsed
// with yaml.v3 and lines its text split after each newline.
type Edit struct {
	apply func(doc *yaml.Node, lines []string) ([]string, error)
}

// NewWorker describes a worker to add.
type NewWorker struct {
	Name, Kind, Token, Key string
	ID                     int
	Properties             map[string]string
}

// SetProperty sets property name of worker to value, replacing its value
// where it is set or adding a line to the worker's properties.
func SetProperty(worker, name, value string) Edit {
	return Edit{apply: func(doc *yaml.Node, lines []string) ([]string, error) {
		w, err := findWorker(doc, worker)
		if err != nil {
			return nil, err
		}
		text, err := plainOrQuoted(value)
		if err != nil {
			return nil, err
		}
		key, err := keyText(name)
		if err != nil {
			return nil, err
		}
		props := mapValue(w, "properties")
		if props != nil && props.Kind == yaml.MappingNode && props.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("the properties of worker %s are written as a flow mapping {…}: %w", worker, ErrNotEditable)
		}
		if props != nil && props.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(props.Content); i += 2 {
				k, v := props.Content[i], props.Content[i+1]
				if k.Value != name {
					continue
				}
				return replaceScalar(lines, v, text)
			}
			if len(props.Content) > 0 {
				first := props.Content[0]
				at := lastLine(props)
				return insertAfter(lines, at, strings.Repeat(" ", first.Column-1)+key+": "+text), nil
			}
		}
		indent := strings.Repeat(" ", w.Content[0].Column-1)
		if props != nil { // "properties:" with nothing under it
			k := mapKey(w, "properties")
			out := replaceLine(lines, k.Line, indent+"properties:")
			return insertAfter(out, k.Line, indent+"  "+key+": "+text), nil
		}
		return insertAfter(lines, lastLine(w), indent+"properties:", indent+"  "+key+": "+text), nil
	}}
}

// RemoveProperty removes property name from worker.
func RemoveProperty(worker, name string) Edit {
	return Edit{apply: func(doc *yaml.Node, lines []string) ([]string, error) {
		w, err := findWorker(doc, worker)
		if err != nil {
			return nil, err
		}
		props := mapValue(w, "properties")
		if props != nil && props.Kind == yaml.MappingNode {
			if props.Style&yaml.FlowStyle != 0 {
				return nil, fmt.Errorf("the properties of worker %s are written as a flow mapping {…}: %w", worker, ErrNotEditable)
			}
			for i := 0; i+1 < len(props.Content); i += 2 {
				if k := props.Content[i]; k.Value == name {
					from, to := k.Line, lastLine(props.Content[i+1])
					return slices.Delete(slices.Clone(lines), from-1, to), nil
				}
			}
		}
		return nil, fmt.Errorf("worker %s does not set property %s in its file", worker, name)
	}}
}

// AddWorker appends a worker to the file's workers list (or starts one).
func AddWorker(nw NewWorker) Edit {
	return Edit{apply: func(doc *yaml.Node, lines []string) ([]string, error) {
		root := doc
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		var body []string
		field := func(indent, k, v string) error {
			t, err := plainOrQuoted(v)
			if err == nil {
				body = append(body, indent+k+": "+t)
			}
			return err
		}
		build := func(dash, indent string) error {
			if err := field(dash, "- name", nw.Name); err != nil {
				return err
			}
			body = append(body, indent+"id: "+strconv.Itoa(nw.ID))
			for _, kv := range [][2]string{{"kind", nw.Kind}, {"token", nw.Token}, {"key", nw.Key}} {
				if kv[1] == "" {
					continue
				}
				if err := field(indent, kv[0], kv[1]); err != nil {
					return err
				}
			}
			if len(nw.Properties) > 0 {
				body = append(body, indent+"properties:")
				names := make([]string, 0, len(nw.Properties))
				for n := range nw.Properties {
					names = append(names, n)
				}
				slices.Sort(names)
				for _, n := range names {
					k, err := keyText(n)
					if err != nil {
						return err
					}
					if err := field(indent+"  ", k, nw.Properties[n]); err != nil {
						return err
					}
				}
			}
			return nil
		}
		ws := (*yaml.Node)(nil)
		if root != nil && root.Kind == yaml.MappingNode {
			ws = mapValue(root, "workers")
		}
		switch {
		case ws != nil && ws.Kind == yaml.SequenceNode && len(ws.Content) > 0:
			if ws.Style&yaml.FlowStyle != 0 {
				return nil, fmt.Errorf("the workers list is written as a flow list […]: %w", ErrNotEditable)
			}
			item := ws.Content[0]
			line := lines[item.Line-1]
			dash := line[:len(line)-len(strings.TrimLeft(line, " "))]
			if err := build(dash, strings.Repeat(" ", item.Column-1)); err != nil {
				return nil, err
			}
			return insertAfter(lines, lastLine(ws), append([]string{""}, body...)...), nil
		case ws != nil: // "workers:" and nothing under it
			if err := build("  ", "    "); err != nil {
				return nil, err
			}
			k := mapKey(root, "workers")
			out := replaceLine(lines, k.Line, "workers:")
			return insertAfter(out, k.Line, body...), nil
		}
		if err := build("  ", "    "); err != nil {
			return nil, err
		}
		out := slices.Clone(lines)
		if n := len(out); n > 0 && !strings.HasSuffix(out[n-1], "\n") {
			out[n-1] += "\n"
		}
		for _, l := range append([]string{"", "workers:"}, body...) {
			out = append(out, l+"\n")
		}
		return out, nil
	}}
}

// Refused is the error of Apply when the changed configuration has
// problems: they name the file and line as the file would be after the
// change, and nothing was written.
type Refused struct {
	Problems Problems
}

func (r *Refused) Error() string {
	return "The change was refused and nothing was written: " + r.Problems.Error()
}

// FileCheck is a check of a loaded configuration that config cannot make
// itself: one that reads what the configuration's files name (TLS
// certificates, a validator's trust anchors), supplied by the layer that
// reads them, so that `signet config check` and an edit through the admin
// API refuse the same.
type FileCheck func(*Config) Problems

// Apply makes edit to file, one of the configuration files paths (which
// are loaded together), checks the whole configuration as `signet config
// check` does (config's own checks and checks), and writes file when the
// change adds no problem: to a temporary file in the same folder, then
// renamed over it, after copying the previous version to file.bak. It
// returns a *Refused, and writes nothing, when the change adds problems.
// The caller serialises calls for the same files.
func Apply(paths []string, file string, edit Edit, checks ...FileCheck) error {
	if !slices.Contains(paths, file) {
		return fmt.Errorf("%s is not one of the configuration files %s", file, strings.Join(paths, ", "))
	}
	old, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read the configuration: %w", err)
	}
	data, err := ApplyData(paths, file, old, edit, checks...)
	if err != nil {
		return err
	}
	return writeAtomic(file, old, data)
}

// ApplyData is Apply to old, the contents of file, without writing: it
// returns the changed contents, or a *Refused when the change adds
// problems. A cluster node edits the configuration version in force, which
// is not a file, with it.
func ApplyData(paths []string, file string, old []byte, edit Edit, checks ...FileCheck) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(old, &doc); err != nil {
		return nil, &Refused{Problems: checkWith(paths, file, old, checks)}
	}
	lines := strings.SplitAfter(string(old), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	out, err := edit.apply(&doc, lines)
	var bad badEdit
	if errors.As(err, &bad) {
		return nil, &Refused{Problems: Problems{{Pos: Pos{File: file}, Msg: string(bad)}}}
	}
	if err != nil {
		return nil, err
	}
	data := []byte(strings.Join(out, ""))
	before := checkWith(paths, file, old, checks)
	after := checkWith(paths, file, data, checks)
	if added := newProblems(before, after); len(added) > 0 {
		return nil, &Refused{Problems: added}
	}
	return data, nil
}

// checkWith checks the configuration files paths with data in place of
// file's contents, then with checks.
func checkWith(paths []string, file string, data []byte, checks []FileCheck) Problems {
	l := newLoader()
	for _, p := range paths {
		if p == file {
			l.file(p, data)
			continue
		}
		d, err := os.ReadFile(p)
		if err != nil {
			l.cfg.Files = append(l.cfg.Files, p)
			l.structural.add(Pos{File: p}, "The file cannot be read (%s): check the path and its permissions.", describeFileError(err))
			continue
		}
		l.file(p, d)
	}
	cfg := l.finish()
	ps := cfg.Problems()
	for _, c := range checks {
		ps = append(ps, c(cfg)...)
	}
	return ps
}

// newProblems returns the problems of after that before did not have (by
// message: lines move when a line is added).
func newProblems(before, after Problems) Problems {
	seen := map[string]int{}
	for _, p := range before {
		seen[p.Msg]++
	}
	var out Problems
	for _, p := range after {
		if seen[p.Msg] > 0 {
			seen[p.Msg]--
			continue
		}
		out = append(out, p)
	}
	return out
}

func writeAtomic(file string, old, data []byte) error {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.WriteFile(file+".bak", old, mode); err != nil {
		return fmt.Errorf("keep the previous configuration: %w", err)
	}
	if err := atomicfile.Write(file, data, mode); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	return nil
}

// NextWorkerID returns the smallest worker ID above every ID in use.
func (c *Config) NextWorkerID() int {
	n := 0
	for _, w := range c.Workers {
		n = max(n, w.ID)
	}
	return n + 1
}

func findWorker(doc *yaml.Node, name string) (*yaml.Node, error) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.MappingNode {
		if ws := mapValue(root, "workers"); ws != nil && ws.Kind == yaml.SequenceNode {
			for _, w := range ws.Content {
				if w.Kind != yaml.MappingNode || len(w.Content) == 0 {
					continue
				}
				if n := mapValue(w, "name"); n != nil && strings.EqualFold(n.Value, name) {
					if w.Style&yaml.FlowStyle != 0 {
						return nil, fmt.Errorf("worker %s is written as a flow mapping {…}: %w", name, ErrNotEditable)
					}
					return w, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("worker %s is not in this file", name)
}

func mapKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// lastLine returns the last line holding part of n.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	if n.Kind == yaml.ScalarNode && (n.Style&(yaml.LiteralStyle|yaml.FoldedStyle)) != 0 {
		last += strings.Count(strings.TrimRight(n.Value, "\n"), "\n") + 1
	}
	return last
}

// insertAfter returns lines with new lines after line number at (1-based).
func insertAfter(lines []string, at int, add ...string) []string {
	out := slices.Clone(lines[:at])
	if n := len(out); n > 0 && !strings.HasSuffix(out[n-1], "\n") {
		out[n-1] += "\n"
	}
	for _, l := range add {
		out = append(out, l+"\n")
	}
	return append(out, lines[at:]...)
}

// replaceLine replaces line number n (1-based), keeping a trailing comment.
func replaceLine(lines []string, n int, text string) []string {
	out := slices.Clone(lines)
	old := strings.TrimRight(out[n-1], "\n")
	if i := strings.Index(old, " #"); i >= 0 {
		text += old[i:]
	}
	out[n-1] = text + "\n"
	return out
}

// replaceScalar replaces the text of the one-line scalar v.
func replaceScalar(lines []string, v *yaml.Node, text string) ([]string, error) {
	if v.Kind != yaml.ScalarNode || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || v.Line < 1 || v.Line > len(lines) {
		return nil, fmt.Errorf("the value is not a one-line value: %w", ErrNotEditable)
	}
	line := lines[v.Line-1]
	start := v.Column - 1
	if start > len(line) {
		return nil, ErrNotEditable
	}
	rest := line[start:]
	var end int
	switch {
	case v.Tag == "!!null" && (rest == "" || rest[0] == '\n' || rest[0] == '#'):
		// "KEY:" with no value: the column is past the colon.
		text = " " + text
		if start > 0 && line[start-1] == ' ' {
			text = text[1:]
		}
		end = 0
	case v.Style&yaml.DoubleQuotedStyle != 0:
		end = closing(rest, '"')
	case v.Style&yaml.SingleQuotedStyle != 0:
		end = closing(rest, '\'')
	default:
		end = len(strings.TrimRight(strings.SplitN(strings.TrimRight(rest, "\n"), " #", 2)[0], " \t"))
		if rest[:end] != v.Value {
			return nil, fmt.Errorf("the value spans several lines: %w", ErrNotEditable)
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("the quoted value spans several lines: %w", ErrNotEditable)
	}
	out := slices.Clone(lines)
	out[v.Line-1] = line[:start] + text + rest[end:]
	return out, nil
}

// closing returns the index after the quote that closes s (s starts with
// the opening quote), or -1 when it is not on this line.
func closing(s string, q byte) int {
	for i := 1; i < len(s) && s[i] != '\n'; i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case s[i] == q && q == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return -1
}

// keyText is how a property name is written as a YAML key: as
// plainOrQuoted writes a value, so that a name that is YAML syntax (#X, a
// comment; *A, an alias; "A: B") is the key it names, which the check
// then refuses as an unknown property, instead of being written raw.
func keyText(name string) (string, error) {
	if strings.ContainsAny(name, "\n\r") {
		return "", badEdit("A property name must be one line: send it without line breaks.")
	}
	return plainOrQuoted(name)
}

// badEdit is a change the editor cannot write whatever the file holds (a
// value of several lines): ApplyData refuses it as a *Refused, as it does
// a change the check refuses, so that the client is told what to fix.
type badEdit string

func (e badEdit) Error() string { return string(e) }

// plainOrQuoted returns v as a one-line YAML scalar that reads back as v:
// plain when that is safe, otherwise double-quoted. Text that is not
// UTF-8 is refused: encoding/json would write U+FFFD in its place.
func plainOrQuoted(v string) (string, error) {
	if strings.ContainsAny(v, "\n\r") {
		return "", badEdit("A value must be one line: send it without line breaks.")
	}
	if !utf8.ValidString(v) {
		return "", badEdit("A name or value is not valid UTF-8 text: send it in UTF-8.")
	}
	if v != "" && v == strings.TrimSpace(v) && !strings.ContainsAny(v[:1], "!&*-?{}[],#|>@`\"'%:") &&
		!strings.Contains(v, ": ") && !strings.Contains(v, " #") && !strings.HasSuffix(v, ":") {
		var n yaml.Node
		if yaml.Unmarshal([]byte("k: "+v), &n) == nil && len(n.Content) == 1 && len(n.Content[0].Content) == 2 {
			if s := n.Content[0].Content[1]; s.Kind == yaml.ScalarNode && s.Value == v && s.Tag != "!!null" {
				return v, nil
			}
		}
	}
	b, _ := json.Marshal(v) // a JSON string is a YAML double-quoted scalar
	return yamlEscape(string(b)), nil
}

// yamlEscape escapes, in a JSON string, the characters encoding/json
// writes raw that YAML does not take raw (its printable set, YAML 1.2
// section 5.1): DEL, the C1 controls and the noncharacters U+FFFE and
// U+FFFF. Raw, NEL (U+0085), a line break to YAML, was read back as a
// space, with every later line one further in yaml.v3's count than in the
// editor's; the others left a file that does not parse.
func yamlEscape(s string) string {
	if !strings.ContainsFunc(s, notYAMLPrintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if notYAMLPrintable(r) {
			fmt.Fprintf(&b, `\u%04X`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func notYAMLPrintable(r rune) bool {
	return r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff
}
