// Package clienttext is how an error sentence repeats what a client sent:
// quoted, and cut after MaxEcho bytes. A request may hold strings of
// megabytes (a JSON field name, an encoding, an identifier); repeated whole
// they would come back in the 4xx answer and in the request log line. Every
// surface (the SignServer endpoints, the vendor key APIs, the admin API)
// quotes client text with Quote, so that the bound is one rule.
package clienttext

import (
	"strconv"
	"unicode/utf8"
)

// MaxEcho is how many bytes of a client's text a sentence quotes: enough to
// recognise a field name, an identifier or a value.
const MaxEcho = 128

// Quote is strconv.Quote of s, cut after MaxEcho bytes (at a character's
// start) with "…" after the closing quote.
func Quote(s string) string {
	if len(s) <= MaxEcho {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cut(s, MaxEcho)]) + "…"
}

// MaxRow is how many bytes of a client's text a field of an audit row of
// a refused client holds: enough for a certificate's serial, issuer and
// subject (the actor of a refused certificate) or a path, not the megabyte
// a request can carry in a header or its path.
const MaxRow = 1024

// Cut is s unquoted, cut after MaxRow bytes (at a character's start) with
// "…" after it: for a field of an audit row that holds a client's text as
// it is, such as the claimed user name and the path of a refused client
// (each row is a durable write an anonymous client can ask for).
func Cut(s string) string {
	if len(s) <= MaxRow {
		return s
	}
	return s[:cut(s, MaxRow)] + "…"
}

// cut is where Quote and Cut end a text longer than max bytes.
func cut(s string, max int) int {
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
