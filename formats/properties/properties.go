// Package properties reads and writes Java properties text, the syntax of
// java.util.Properties.load that SignServer uses for the REQUEST_METADATA
// field of its process servlet and for its worker property files: one
// KEY=VALUE (or KEY:VALUE, or KEY VALUE) per logical line, '#' and '!'
// comments, backslash escapes (\t \n \r \f \uXXXX, \<any>) and lines
// continued by an odd number of trailing backslashes.
//
// Hand-written: the Go properties libraries expand ${…}, which would change
// values that contain "${", and none reports the line of an entry.
package properties

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entry is one key and value, with the line its logical line starts on
// (from 1).
type Entry struct {
	Key, Value string
	Line       int
}

// SyntaxError is text that is not properties syntax, at a line (0 for the
// whole text).
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return e.Msg
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ErrTooMany is returned by Parse when the text holds more entries than
// its bound.
var ErrTooMany = errors.New("too many entries")

// Parse returns the entries of text in order; max > 0 bounds their number
// (ErrTooMany past it). Text that is not UTF-8, or a malformed \u escape, is
// a *SyntaxError.
func Parse(text string, max int) ([]Entry, error) {
	if !utf8.ValidString(text) {
		return nil, &SyntaxError{Msg: "the text is not valid UTF-8"}
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	var out []Entry
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for continues(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if continues(line) {
			line = line[:len(line)-1]
		}
		key, value, err := split(line)
		if err != nil {
			return nil, &SyntaxError{Line: start, Msg: err.Error()}
		}
		if max > 0 && len(out) == max {
			return nil, ErrTooMany
		}
		out = append(out, Entry{Key: key, Value: value, Line: start})
	}
	return out, nil
}

// continues reports whether a logical line goes on: it ends in an odd
// number of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// split splits a logical line into its unescaped key and value: the key
// ends at the first unescaped '=', ':' or white space.
func split(line string) (key, value string, err error) {
	end := len(line)
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if strings.IndexByte("=: \t\f", line[i]) >= 0 {
			end = i
			break
		}
	}
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	if key, err = unescape(line[:end]); err != nil {
		return "", "", err
	}
	if value, err = unescape(rest); err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape resolves the escapes of a key or value; a surrogate pair of
// \u escapes is one character.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s, i+1)
			if !ok {
				return "", errors.New(`a \u escape needs four hexadecimal digits, such as \u00e9`)
			}
			i += 4
			if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1:i+3] == `\u` {
				if lo, ok := hex4(s, i+3); ok {
					r = utf16.DecodeRune(r, lo)
					i += 6
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// hex4 reads four hexadecimal digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return rune(v), err == nil
}

// Escape writes a key (key true) or a value so that Parse reads it back
// unchanged: separators and comment characters where they would be read as
// such, control characters and everything outside printable ASCII as \u
// escapes (as java.util.Properties.store does).
func Escape(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '=' || r == ':' || r == '#' || r == '!':
			if key || i == 0 {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case r < 0x20 || r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
