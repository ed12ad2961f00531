package clienttext

import (
	"strings"
	"testing"
)

// TestQuote: client text in an error sentence is quoted whole up to
// MaxEcho bytes, cut at a character's start after that.
func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"extra", `"extra"`},
		{"a\"b\n", `"a\"b\n"`},
		{strings.Repeat("k", MaxEcho), `"` + strings.Repeat("k", MaxEcho) + `"`},
		{strings.Repeat("k", MaxEcho+1), `"` + strings.Repeat("k", MaxEcho) + `"…`},
		{strings.Repeat("k", MaxEcho-1) + "é", `"` + strings.Repeat("k", MaxEcho-1) + `"…`}, // é's 2 bytes pass the bound: cut before it
		{strings.Repeat("é", 1<<20), `"` + strings.Repeat("é", MaxEcho/2) + `"…`},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%.40q…, %d bytes) = %.60q…, want %.60q…", tc.in, len(tc.in), got, tc.want)
		}
	}
}

// TestCut: Cut bounds text to MaxRow bytes as Quote does to MaxEcho,
// without the quotes.
func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\"b", "a\"b"},
		{strings.Repeat("k", MaxRow), strings.Repeat("k", MaxRow)},
		{strings.Repeat("k", MaxRow+1), strings.Repeat("k", MaxRow) + "…"},
		{strings.Repeat("k", MaxRow-1) + "é", strings.Repeat("k", MaxRow-1) + "…"},
	} {
		if got := Cut(tc.in); got != tc.want {
			t.Errorf("Cut(%.40q…, %d bytes) = %.60q…, want %.60q…", tc.in, len(tc.in), got, tc.want)
		}
	}
}
