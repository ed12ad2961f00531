package plainjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPlain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"MEUCIQ+/==", true},
		{"a b~\x7f", true}, // DEL is not escaped in JSON
		{"<&>", true},      // read as they are; only written escaped
		{`a"b`, false},
		{`a\nb`, false},
		{"a\x1fb", false},
		{"a\tb", false},
		{"é", false}, // valid, but not ASCII: encoding/json checks it
		{"\xff", false},
	} {
		if got := Plain([]byte(tc.in)); got != tc.want {
			t.Errorf("Plain(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"doc-1", `"doc-1"`},
		{"a\x7fb", "\"a\x7fb\""},
		{`a"b\c`, `"a\"b\\c"`},
		{"<a&b>", `"\u003ca\u0026b\u003e"`},
		{"tab\there", `"tab\there"`},
		{"é", `"é"`},
		{"\xff", `"\ufffd"`},
		{"\u2028", `"\u2028"`},
	} {
		got := AppendString([]byte("x"), tc.in)
		if string(got) != "x"+tc.want {
			t.Errorf("AppendString(%q) = %s, want x%s", tc.in, got, tc.want)
		}
		if n := StringLen(tc.in); n != len(tc.want) {
			t.Errorf("StringLen(%q) = %d, want %d", tc.in, n, len(tc.want))
		}
	}
}

func TestScanner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // the string read; "!" when Str fails
		end  bool   // nothing but white space after it
	}{
		{`"abc"`, "abc", true},
		{" \t\r\n\"abc\" \n", "abc", true},
		{`""`, "", true},
		{`"abc" ,`, "abc", false},
		{`"a\"bc"`, "!", false},
		{`"a\u0041"`, "!", false},
		{"\"a\x01\"", "!", false},
		{`"é"`, "!", false},
		{`"abc`, "!", false},
		{`abc"`, "!", false},
		{` `, "!", true},
		{`null`, "!", false},
	} {
		s := NewScanner([]byte(tc.in))
		v, ok := s.Str()
		got := string(v)
		if !ok {
			got = "!"
		} else if v == nil {
			t.Errorf("Str(%q) is nil", tc.in)
		}
		if got != tc.want {
			t.Errorf("Str(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if ok && s.End() != tc.end {
			t.Errorf("%q: End after Str = %v, want %v", tc.in, !tc.end, tc.end)
		}
	}
	s := NewScanner([]byte(" [ 1"))
	if !s.Byte('[') || s.Byte(']') || !s.Byte('1') || !s.End() {
		t.Error("Byte does not skip white space and consume the byte")
	}
}

var objectNames = []string{"mode", "message"}

var objectSeeds = []string{
	`{"mode":"ECDSA","message":"AAAA"}`,
	`{"message":"AAAA","mode":"PKCS1"}`,
	" {\n \"mode\" : \"ECDSA\" , \"message\" : \"\" } \n",
	`{"mode":"ECDSA"}`,
	`{}`,
	`{ }`,
	`{"mode":"a","mode":"b"}`,
	`{"Mode":"a"}`,
	`{"mode":"a","other":"b"}`,
	`{"mode":"a\u0041"}`,
	`{"mode":"é"}`,
	`{"mode":1}`,
	`{"mode":null}`,
	`{"mode":"a",}`,
	`{"mode":"a"} x`,
	`{"mode":"a"`,
	`[]`,
	``,
}

func TestObject(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in        string
		ok        bool
		mode, msg string // "-" absent
	}{
		{`{"mode":"ECDSA","message":"AAAA"}`, true, "ECDSA", "AAAA"},
		{`{"message":"AAAA","mode":"PKCS1"}`, true, "PKCS1", "AAAA"},
		{" {\n \"mode\" : \"ECDSA\" , \"message\" : \"\" } \n", true, "ECDSA", ""},
		{`{"mode":"ECDSA"}`, true, "ECDSA", "-"},
		{`{}`, true, "-", "-"},
		{`{"mode":"a","mode":"b"}`, false, "", ""},  // encoding/json keeps the last
		{`{"Mode":"a"}`, false, "", ""},             // encoding/json matches it to mode
		{`{"mode":"a","other":"b"}`, false, "", ""}, // the caller's rule
		{`{"mode":"a\u0041"}`, false, "", ""},       // an escape
		{`{"mode":1}`, false, "", ""},               // not a string
		{`{"mode":"a",}`, false, "", ""},            // a syntax error
		{`{"mode":"a"} x`, false, "", ""},           // more after it
		{`{"mode":"a"`, false, "", ""},              // cut short
		{`[]`, false, "", ""},
	} {
		vals := make([][]byte, 2)
		ok := Object([]byte(tc.in), objectNames, vals)
		if ok != tc.ok {
			t.Errorf("Object(%q) = %v, want %v", tc.in, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		for i, want := range []string{tc.mode, tc.msg} {
			got := "-"
			if vals[i] != nil {
				got = string(vals[i])
			}
			if got != want {
				t.Errorf("Object(%q): %s = %q, want %q", tc.in, objectNames[i], got, want)
			}
		}
	}
}

// FuzzObject holds Object to encoding/json: what it reads, encoding/json
// reads as the same members with the same values.
func FuzzObject(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vals := make([][]byte, len(objectNames))
		if !Object(b, objectNames, vals) {
			return
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			t.Fatalf("Object read %q, encoding/json refuses it: %v", b, err)
		}
		n := 0
		for i, name := range objectNames {
			v, present := m[name]
			if present != (vals[i] != nil) || v != string(vals[i]) {
				t.Fatalf("%q: Object %s = %q (present %v), encoding/json %q (present %v)", b, name, vals[i], vals[i] != nil, v, present)
			}
			if present {
				n++
			}
		}
		if n != len(m) {
			t.Fatalf("%q: encoding/json read members %q, Object %d of them", b, m, n)
		}
	})
}

// FuzzStr holds Scanner.Str to encoding/json on one string value.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`"abc"`, ` "a b" `, `""`, `"a\"b"`, `"\u0041"`, "\"\x7f\"", "\"\x01\"", `"é"`, `"abc`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewScanner(b)
		v, ok := s.Str()
		if !ok || !s.End() {
			return
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil || want != string(v) {
			t.Fatalf("Str(%q) = %q, encoding/json %q, %v", b, v, want, err)
		}
	})
}

// FuzzAppendString holds AppendString and StringLen to encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "doc-1", "a\x7f", `a"b`, "<&>", "é", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if n := StringLen(s); n != len(want) {
			t.Fatalf("StringLen(%q) = %d, encoding/json writes %d bytes", s, n, len(want))
		}
	})
}

func TestValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want: the value's text; "!" when none is found
		valid    bool
		rest     string // what follows it
	}{
		{` "abc" ,`, `"abc"`, true, " ,"},
		{`"a\"b\\" }`, `"a\"b\\"`, false, " }"},
		{`"a\\\"b"`, `"a\\\"b"`, false, ""},
		{`"é"`, `"é"`, false, ""},
		{`{"a":[1,"]}",{"b":null}]},`, `{"a":[1,"]}",{"b":null}]}`, false, ","},
		{`[]`, `[]`, false, ""},
		{`-1.5e3}`, `-1.5e3`, false, "}"},
		{`true,`, `true`, false, ","},
		{"null\n", `null`, false, "\n"},
		{`}`, "!", false, ""},
		{``, "!", false, ""},
		{`"abc`, "!", false, ""},
		{`"abc\"`, "!", false, ""},
		{`{"a":1`, "!", false, ""},
	} {
		s := NewScanner([]byte(tc.in))
		raw, valid, ok := s.Value()
		got := string(raw)
		if !ok {
			got = "!"
		}
		if got != tc.want || (ok && (valid != tc.valid || string(s.b[s.i:]) != tc.rest)) {
			t.Errorf("Value(%q) = %q, valid %v, rest %q; want %q, %v, %q", tc.in, got, valid, s.b[s.i:], tc.want, tc.valid, tc.rest)
		}
	}
}

// FuzzValue: Value finds exactly the value of valid JSON, and what it
// calls valid is.
func FuzzValue(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\"b"`, `{"a":[1,"]"]}`, ` -1 `, `[`, `"\\"`, `{"data":"x","metaData":{"a":"b"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewScanner(b)
		raw, valid, ok := s.Value()
		if valid && !json.Valid(raw) {
			t.Fatalf("Value(%q) = %q, valid, but encoding/json says it is not", b, raw)
		}
		if json.Valid(b) && (!ok || !s.End() || !bytes.Equal(raw, bytes.Trim(b, " \t\r\n"))) {
			t.Fatalf("Value(%q) = %q, %v and end %v on valid JSON", b, raw, ok, s.End())
		}
	})
}

func TestExact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lit  string
		want bool
	}{
		{`"plain"`, true},
		{`"tab\there \"q\" \\ \/"`, true},
		{`"\u00fc ü"`, true},
		{`"\ud83d\ude00"`, true},
		{`"\uD83D\uDE00"`, true},
		{`"\ufffd"`, true},
		{`"\\ud800"`, true}, // an escaped backslash, then text
		{"\"a\xffb\"", false},
		{`"\ud800"`, false},
		{`"\ud800x"`, false},
		{`"\ud800\u0041"`, false},
		{`"\ude00"`, false},
		{`"\ud83d\ud83d"`, false},
	} {
		if got := Exact([]byte(tc.lit)); got != tc.want {
			t.Errorf("Exact(%s) = %v, want %v", tc.lit, got, tc.want)
		}
	}
}

// FuzzExact holds Exact to encoding/json both ways: a string literal is
// exact when decoding it adds no U+FFFD (encoding/json's replacement for
// invalid UTF-8 and lone surrogate escapes) to those its writer sent,
// as the character or as a \ufffd escape.
func FuzzExact(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ude00\ud800"`, `"\ud83d\ud83d\ude00"`, "\"a\xffb\"", `"\ufffd"`, "\"\uFFFD\"", `"\\ufffd"`, `"\\\ud800"`, "\"\xed\xa0\x80\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s string
		if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &s) != nil {
			return
		}
		sent := bytes.Count(b, []byte("\uFFFD"))
		for i := 0; i < len(b); i++ {
			if b[i] != '\\' {
				continue
			}
			if b[i+1] == 'u' && bytes.EqualFold(b[i+2:i+6], []byte("fffd")) {
				sent++
			}
			i++ // the escape's letter; hex digits are not backslashes
		}
		want := strings.Count(s, "\uFFFD") == sent
		if got := Exact(b); got != want {
			t.Fatalf("Exact(%q) = %v; encoding/json reads %q, %d U+FFFD of %d sent", b, got, s, strings.Count(s, "\uFFFD"), sent)
		}
	})
}

// FuzzUnescapeInPlace: an exact string literal unescaped in place is what
// encoding/json reads.
func FuzzUnescapeInPlace(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC\ud83d\ude00"`, `"\\u0041"`, `"\u0000x"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s string
		// A literal alone: no white space around it.
		if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' || json.Unmarshal(b, &s) != nil || !Exact(b) {
			return
		}
		if got := UnescapeInPlace(bytes.Clone(b)); string(got) != s {
			t.Fatalf("UnescapeInPlace(%q) = %q, encoding/json reads %q", b, got, s)
		}
	})
}
