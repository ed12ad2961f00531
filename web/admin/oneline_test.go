package admin

import "testing"

// TestOneLine: a multi-line error becomes one line, its sentences joined by
// a space and other lines by "; " (a refused reload read "….; …").
func TestOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"one", "one"},
		{"a.yaml:3: unknown property FOO.\na.yaml:9: BAR must be a number.\n", "a.yaml:3: unknown property FOO. a.yaml:9: BAR must be a number."},
		{"first problem\nsecond problem", "first problem; second problem"},
		{"  spaced   out  \n\n\tand tabbed\n", "spaced out; and tabbed"},
		{"", ""},
	} {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
