package properties

import (
	"errors"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	in := "# comment\r\n" +
		"  ! also a comment\n" +
		"a=1\n" +
		"b : two words \n" +
		"c three\n" +
		"d=first \\\n   second\n" +
		"e\\=x=\\u00e9\\t\\\\\n" +
		"f=\\uD83D\\uDE00\n" +
		"g=ends in backslash\\\\\n" +
		"h\n" +
		"i=${not.expanded}\n"
	got, err := Parse(in, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{"a", "1", 3}, {"b", "two words ", 4}, {"c", "three", 5}, {"d", "first second", 6},
		{"e=x", "é\t\\", 8}, {"f", "😀", 9}, {"g", `ends in backslash\`, 10}, {"h", "", 11}, {"i", "${not.expanded}", 12},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	var se *SyntaxError
	if _, err := Parse("ok=1\nx=\\u12\n", 0); !errors.As(err, &se) || se.Line != 2 {
		t.Errorf("short \\u escape: %v, want a SyntaxError at line 2", err)
	}
	if _, err := Parse("x=\xff\n", 0); !errors.As(err, &se) {
		t.Errorf("invalid UTF-8: %v, want a SyntaxError", err)
	}
	if _, err := Parse("a=1\nb=2\nc=3\n", 2); !errors.Is(err, ErrTooMany) {
		t.Errorf("3 entries with a bound of 2: %v, want ErrTooMany", err)
	}
}

func TestEscapeReadsBack(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"plain", " leading space", "a=b:c", "#hash", "!bang", "tab\tnew\nline", "é 😀", `back\slash`, ""} {
		line := Escape("K "+v, true) + "=" + Escape(v, false)
		got, err := Parse(line, 0)
		if err != nil || len(got) != 1 || got[0].Key != "K "+v || got[0].Value != v {
			t.Errorf("Escape(%q): %q reads back as %+v, %v", v, line, got, err)
		}
	}
}
