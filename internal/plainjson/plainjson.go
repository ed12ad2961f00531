// Package plainjson reads and writes, without encoding/json, the JSON that
// Signet's hot paths exchange: objects of a few known members whose strings
// are plain, ASCII without escapes, such as base64, key names and
// algorithm names. It is the one definition of that subset for every
// hand-written reader and writer (the DSM batch API, SignServer's batch
// requests, the NetHSM sign request and answer on both sides, the REST
// answer's strings), each of which hands anything else to encoding/json, so
// that what is accepted, refused and written does not change. Value also
// delimits values of any kind, for a reader (the REST request body) that
// checks what is not plain with json.Valid.
//
// Plain means a string that encoding/json reads as exactly its bytes and
// that needs no UTF-8 check: bytes 0x20 to 0x7f (DEL included, which JSON
// does not escape) other than '"' and '\\'. A byte outside that set is not
// an error here: it sends the value to encoding/json.
//
// The package imports nothing of Signet's, so that web/, workers/ and
// tokens/ may all use it.
package plainjson

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// Plain reports whether b, the text of a JSON string between its quotes,
// is plain: encoding/json reads it as exactly these bytes.
func Plain(b []byte) bool {
	for _, c := range b {
		if !plain(c) {
			return false
		}
	}
	return true
}

func plain(c byte) bool { return plainByte[c] }

// plainByte says which bytes a plain string holds: one load per byte in
// the scanning loops.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// safe reports whether encoding/json writes s between quotes as it is:
// plain, and none of the characters its HTML-safe output escapes (<, >, &).
func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !plain(c) || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// AppendString appends s as a JSON string, byte for byte as encoding/json
// writes it (HTML-safe): a plain string is copied between quotes, anything
// else is written by encoding/json.
func AppendString(w []byte, s string) []byte {
	if !safe(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(w, q...)
	}
	w = append(w, '"')
	w = append(w, s...)
	return append(w, '"')
}

// StringLen is len(AppendString(nil, s)), without writing a plain string.
func StringLen(s string) int {
	if safe(s) {
		return len(s) + 2
	}
	q, _ := json.Marshal(s) // a string always marshals
	return len(q)
}

// Exact reports whether the JSON string literal raw (valid JSON, quotes
// included) decodes to exactly the text its writer sent: it is valid UTF-8
// and every \u escape of a surrogate is one of a pair (encoding/json turns
// anything else into U+FFFD). A batch identifier echoed to the client and a
// REST document signed as sent must be exact.
func Exact(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escapedRune(raw, i)
		if !ok {
			i++ // another escape: skip its letter
			continue
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xDC00:
			lo, ok := escapedRune(raw, i+6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 11
		case utf16.IsSurrogate(r):
			return false
		default:
			i += 5
		}
	}
	return true
}

// escapedRune is the code unit of the \u escape at raw[i:], if one is
// there.
func escapedRune(raw []byte, i int) (rune, bool) {
	if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
		return 0, false
	}
	var v rune
	for _, c := range raw[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// UnescapeInPlace turns a valid JSON string literal (quotes included) whose
// text is Exact into its bytes, written over the literal: every escape is
// at least as long as what it stands for. The REST API reads a document
// this way in the request's own buffer.
func UnescapeInPlace(lit []byte) []byte {
	src := lit[1 : len(lit)-1]
	w := 0
	for r := 0; r < len(src); {
		c := src[r]
		if c != '\\' {
			src[w] = c
			w, r = w+1, r+1
			continue
		}
		if cp, ok := escapedRune(src, r); ok {
			r += 6
			if utf16.IsSurrogate(cp) { // paired: exactness was checked
				lo, _ := escapedRune(src, r)
				cp = utf16.DecodeRune(cp, lo)
				r += 6
			}
			w += utf8.EncodeRune(src[w:], cp)
			continue
		}
		src[w] = jsonEscapes[src[r+1]]
		w, r = w+1, r+2
	}
	return src[:w]
}

// jsonEscapes maps the letter of a one-letter JSON escape to its byte.
var jsonEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// Scanner reads JSON of a fixed shape from a byte slice: the caller says
// what comes next (Byte, Str), and every method reports false, consuming
// what it read, when the input is not that. White space is JSON's (space,
// tab, CR, LF) and is allowed wherever JSON allows it.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a Scanner at the start of b.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

// Space skips white space.
func (s *Scanner) Space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Byte consumes c, after white space, if it is next.
func (s *Scanner) Byte(c byte) bool {
	s.Space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// End reports whether nothing but white space is left.
func (s *Scanner) End() bool {
	s.Space()
	return s.i == len(s.b)
}

// Str reads a plain string, after white space, and returns its text
// between the quotes: a slice of the input, which the caller copies if it
// keeps it. An empty string is an empty slice, not nil.
func (s *Scanner) Str() ([]byte, bool) {
	if !s.Byte('"') {
		return nil, false
	}
	b := s.b[s.i:]
	for i, c := range b {
		if plainByte[c] {
			continue
		}
		if c == '"' {
			s.i += i + 1
			return b[:i:i], true
		}
		return nil, false
	}
	return nil, false
}

// Value reads one JSON value of any kind, after white space, and returns
// its text. A plain string is read as Str reads it and reported valid; any
// other value is only delimited, not checked (strings to their closing
// quote, past escapes; objects and arrays by the nesting of their brackets;
// literals up to the next delimiter), and valid is false: the caller checks
// it with json.Valid if it has not. ok is false when no value ends before
// the input does.
func (s *Scanner) Value() (raw []byte, valid, ok bool) {
	s.Space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '"' {
		if _, ok := s.Str(); ok {
			return s.b[start:s.i], true, true
		}
		s.i = start
	}
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			if !s.skipString() {
				return nil, false, false
			}
			if depth == 0 {
				return s.b[start:s.i], false, true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the enclosing object or array
				return s.b[start:s.i], false, s.i > start
			}
			if depth--; depth == 0 {
				s.i++
				return s.b[start:s.i], false, true
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.b[start:s.i], false, s.i > start
			}
		}
		s.i++
	}
	return s.b[start:], false, depth == 0 && s.i > start
}

// skipString moves past the string whose opening quote is at s.i: to the
// first quote after it that an even number of backslashes precede.
func (s *Scanner) skipString() bool {
	i := s.i + 1
	for {
		j := bytes.IndexByte(s.b[i:], '"')
		if j < 0 {
			return false
		}
		i += j
		n := 0
		for k := i - 1; s.b[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			s.i = i
			return true
		}
	}
}

// Object reads b as one JSON object of plain string members, and nothing
// after it but white space. Each key must be one of names, spelt exactly
// (encoding/json would also match other cases), and appear at most once
// (encoding/json would keep the last); vals[i] is set to the text of
// names[i]'s value, a slice of b, or nil when the member is absent. It
// reports false for any other input, which the caller hands to
// encoding/json: an unknown key, whether encoding/json ignores or refuses
// it, is the caller's rule. vals must be as long as names.
func Object(b []byte, names []string, vals [][]byte) bool {
	clear(vals)
	s := Scanner{b: b}
	if !s.Byte('{') {
		return false
	}
	if s.Byte('}') {
		return s.End()
	}
	for {
		k, ok := s.Str()
		if !ok || !s.Byte(':') {
			return false
		}
		v, ok := s.Str()
		if !ok {
			return false
		}
		i := index(names, k)
		if i < 0 || vals[i] != nil {
			return false
		}
		vals[i] = v
		if s.Byte('}') {
			return s.End()
		}
		if !s.Byte(',') {
			return false
		}
	}
}

// index is the index of k in names, or -1; the comparison does not
// allocate.
func index(names []string, k []byte) int {
	for i, n := range names {
		if n == string(k) {
			return i
		}
	}
	return -1
}
