// Package signserver reads and writes SignServer worker property files, the
// form that `signserver dumpproperties` writes and `signserver
// setproperties` reads, so that an organisation running SignServer can bring
// its workers and crypto tokens to Signet (Import) and take them back
// (Export).
//
// A property file is a Java properties file whose keys name a worker and a
// property: WORKERGENID<n>.<PROPERTY> for a worker that setproperties creates
// with the next free ID, WORKER<id>.<PROPERTY> for a worker with a known ID,
// a leading "-" to remove a property, and GLOB.<...> for global settings.
// Signet's property names are SignServer's, so most properties carry over as
// they are; every one that does not is reported with the reason, never
// dropped silently.
package signserver

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/signet-project/signet/config"
)

// entry is one key=value of a properties file, with where it was written.
type entry struct {
	key, value string
	pos        config.Pos
}

// readProperties parses a Java properties file (java.util.Properties.load):
// comment lines start with # or !, a line ending in an odd number of
// backslashes continues on the next, the key ends at the first unescaped
// '=', ':' or white space, and \t \n \r \f \uXXXX and \<any> are escapes.
// Hand-written: no Go library in the module graph reads this format with
// line numbers, and the format is small.
func readProperties(name string, r io.Reader) ([]entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var out []entry
	line := 0
	for sc.Scan() {
		line++
		start := line
		text := strings.TrimLeft(sc.Text(), " \t\f")
		if text == "" || text[0] == '#' || text[0] == '!' {
			continue
		}
		for continues(text) && sc.Scan() {
			line++
			text = text[:len(text)-1] + strings.TrimLeft(sc.Text(), " \t\f")
		}
		key, value, err := splitEntry(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, start, err)
		}
		out = append(out, entry{key: key, value: value, pos: config.Pos{File: name, Line: start}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// continues reports whether a logical line goes on: it ends in an odd number
// of backslashes.
func continues(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitEntry splits a logical line into its unescaped key and value.
func splitEntry(s string) (key, value string, err error) {
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '=' || s[i] == ':' || s[i] == ' ' || s[i] == '\t' || s[i] == '\f' {
			end = i
			break
		}
	}
	rest := strings.TrimLeft(s[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	if key, err = unescape(s[:end]); err != nil {
		return "", "", err
	}
	if value, err = unescape(rest); err != nil {
		return "", "", err
	}
	return key, value, nil
}

// unescape resolves the escapes of a properties file.
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
			if i+4 >= len(s) {
				return "", fmt.Errorf(`\u needs four hexadecimal digits: write \u0041 for A`)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf(`\u%s is not four hexadecimal digits: write \u0041 for A`, s[i+1:i+5])
			}
			i += 4
			if utf16.IsSurrogate(rune(r)) && i+6 < len(s) && s[i+1:i+3] == `\u` {
				if lo, err := strconv.ParseUint(s[i+3:i+7], 16, 32); err == nil {
					r = uint64(utf16.DecodeRune(rune(r), rune(lo)))
					i += 6
				}
			}
			b.WriteRune(rune(r))
		default:
			b.WriteByte(s[i])
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("the value is not valid UTF-8: save the file as UTF-8 or ISO-8859-1 with \\u escapes")
	}
	return b.String(), nil
}

// escape writes a value for a properties file: the escapes readProperties
// undoes, so that Export's output reads back to the same values.
func escape(s string, key bool) string {
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
