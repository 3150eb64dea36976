package strictjson

import (
	"errors"
	"strings"
	"testing"
)

// TestStringEndEdges pins lexical rules that the broader tables left
// unchecked: a control character inside a whole eight-byte word, U+001F,
// a control character before an escape, a lone low surrogate escape, an
// escape letter RFC 8259 does not have, and a hex digit past 'F'.
func TestStringEndEdges(t *testing.T) {
	for _, in := range []string{
		`"ab` + "\x01" + `defghij"`, // control byte inside the word-at-a-time check
		`"abcdefgh` + "\x1f" + `"`,  // the highest control character
		`"a` + "\x01" + `\n"`,       // control byte before an escape
		`"` + "\x1f" + `\n"`,        // ditto, the highest control character
		`"\udc00"`, `"\udfff"`,      // lone low surrogates: left to the decoder
		`"\v"`, `"\a"`, `"\0"`, // not RFC 8259 escapes
		`"\u00G0"`, `"\u00g0"`, // not hex digits
	} {
		if end, _ := stringEnd([]byte(in), 0); end != -1 {
			t.Errorf("stringEnd(%q) = %d, want -1", in, end)
		}
	}
	for _, c := range []struct {
		in  string
		end int
	}{
		{`"abcdefgh ~"`, 12}, // U+0020 and U+007E are plain text
		{`"\u00AF\uFFFF"`, 14},
		{`"\uDBFF` + "x" + `"`, -1},
	} {
		if end, _ := stringEnd([]byte(c.in), 0); end != c.end {
			t.Errorf("stringEnd(%q) = %d, want %d", c.in, end, c.end)
		}
	}
}

// TestNumberEndExponent: an exponent sign is '+' or '-' only.
func TestNumberEndExponent(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
	}{
		{"1e.5", -1}, {"1e,5", -1}, {"1e-5", 4}, {"1E+05", 5},
	} {
		if end := numberEnd([]byte(c.in), 0); end != c.end {
			t.Errorf("numberEnd(%q) = %d, want %d", c.in, end, c.end)
		}
	}
}

// TestScannerBoundsAndLiterals: the depth bound applies to objects nested
// in objects (each level counted), and a literal must match whole, not by
// its first byte.
func TestScannerBoundsAndLiterals(t *testing.T) {
	for _, c := range []struct {
		in string
		o  Options
	}{
		{`{"a":{"b":{}}}`, Options{MaxDepth: 2}},
		{`{"a":{"b":{"c":1}}}`, Options{MaxDepth: 2}},
		{`[{"a":{}}]`, Options{MaxDepth: 2}},
		{`trux`, Options{}}, {`nulx`, Options{}}, {`falsx`, Options{}},
		{`[tree]`, Options{}}, {`{"a":nill}`, Options{}}, {`[fa1se]`, Options{}},
	} {
		if _, ok := scanAll([]byte(c.in), c.o); ok {
			t.Errorf("%q (max depth %d): scanner accepted", c.in, c.o.MaxDepth)
		}
		if _, err := decodeAll([]byte(c.in), c.o); err == nil {
			t.Errorf("%q: decoder accepted", c.in)
		}
	}
	if _, ok := scanAll([]byte(`{"a":{"b":{}}}`), Options{MaxDepth: 3}); !ok {
		t.Error("three levels under a bound of three: scanner gave up")
	}
}

// TestSizeBoundExact: an input exactly as large as MaxBytes is decoded,
// one byte more is ErrTooLarge (Unmarshal, Decode and the Scanner).
func TestSizeBoundExact(t *testing.T) {
	at := []byte(`"` + strings.Repeat("a", 8) + `"`) // 10 bytes
	over := []byte(`"` + strings.Repeat("a", 9) + `"`)
	o := Options{MaxBytes: 10}
	var s string
	if err := Unmarshal(at, &s, o); err != nil {
		t.Errorf("10 bytes under a bound of 10: %v", err)
	}
	if err := Unmarshal(over, &s, o); !errors.Is(err, ErrTooLarge) {
		t.Errorf("11 bytes under a bound of 10: %v, want ErrTooLarge", err)
	}
	if _, err := decodeAll(over, o); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode, 11 bytes under a bound of 10: %v, want ErrTooLarge", err)
	}
	if _, ok := scanAll(at, o); !ok {
		t.Error("scanner gave up on 10 bytes under a bound of 10")
	}
	if _, ok := scanAll(over, o); ok {
		t.Error("scanner accepted 11 bytes under a bound of 10")
	}
}

// Types for TestUnknownCaseVariantEmbedded: an embedded struct's members
// are the outer struct's members, and an unexported field names none.
type (
	// EmbeddedInner is exported so that its embedding is an exported field.
	EmbeddedInner struct {
		Name string `json:"name"`
	}
	withEmbedded struct {
		EmbeddedInner
		Count int `json:"count"`
		//lint:ignore SA5008 "embed" is a go-json-experiment tag option
		Unknown Unknown[withEmbedded] `json:",embed"`
	}
	withUnexported struct {
		Count  int `json:"count"`
		secret int
		Skip   int `json:"-"`
		//lint:ignore SA5008 "embed" is a go-json-experiment tag option
		Unknown Unknown[withUnexported] `json:",embed"`
	}
)

// TestUnknownCaseVariantEmbedded: a case variant of an embedded struct's
// member is ErrCaseMismatch; a member named like an unexported field or a
// `json:"-"` field is an ordinary unknown member.
func TestUnknownCaseVariantEmbedded(t *testing.T) {
	var e withEmbedded
	checkErr(t, Unmarshal([]byte(`{"NAME":"x"}`), &e, Options{}), ErrCaseMismatch, "/NAME")
	if err := Unmarshal([]byte(`{"name":"x","count":1}`), &e, Options{}); err != nil || e.Name != "x" {
		t.Errorf("embedded member: %v %+v", err, e)
	}
	var u withUnexported
	for _, in := range []string{`{"Secret":1}`, `{"secret":1}`, `{"SKIP":1}`} {
		if err := Unmarshal([]byte(in), &u, Options{}); err != nil {
			t.Errorf("%s: %v", in, err)
		}
		if u.secret != 0 || u.Skip != 0 {
			t.Errorf("%s: set a field that takes no member: %+v", in, u)
		}
	}
}

// TestLoneSurrogateAtEnd: a lone surrogate escape that the input ends
// right after is named as such (ErrInvalidUTF8), not as an early end.
func TestLoneSurrogateAtEnd(t *testing.T) {
	for _, c := range []struct{ in, ptr string }{
		{`"\ud800`, ""},
		{`{"z":"\udc00`, "/z"},
	} {
		var s any
		checkErr(t, Unmarshal([]byte(c.in), &s, Options{}), ErrInvalidUTF8, c.ptr)
	}
}

// TestScannerWhiteSpace: only RFC 8259's four white-space bytes separate
// tokens; form feed, vertical tab, NUL and a no-break space (raw or
// UTF-8) anywhere between tokens make the scanner give up, as the decoder
// refuses them.
func TestScannerWhiteSpace(t *testing.T) {
	for _, ws := range []string{"\f", "\v", "\x00", "\xa0", "\u00a0", "\u2028", "\ufeff"} {
		for _, in := range []string{
			ws + `{}`, `{}` + ws, `[1,` + ws + `2]`, `{"a"` + ws + `:1}`, `{"a":` + ws + `1}`, `[1` + ws + `]`,
		} {
			if _, ok := scanAll([]byte(in), Options{}); ok {
				t.Errorf("%q: scanner accepted", in)
			}
			if _, err := decodeAll([]byte(in), Options{}); err == nil {
				t.Errorf("%q: decoder accepted", in)
			}
		}
	}
}

// TestScannerNullAndGivenUp: Null reads all of null, and once the scanner
// has given up Peek and Cursor return zero values.
func TestScannerNullAndGivenUp(t *testing.T) {
	s := NewScanner([]byte(` null `), Options{})
	if !s.Null() || !s.End() {
		t.Error("null not read whole")
	}
	s = NewScanner([]byte(`{"a":1}`), Options{})
	s.Fail()
	if c := s.Peek(); c != 0 {
		t.Errorf("Peek after Fail = %q, want 0", c)
	}
	if d, p := s.Cursor(); d != nil || p != 0 {
		t.Errorf("Cursor after Fail = %q, %d", d, p)
	}
	if end, _ := stringEnd([]byte(`a"b"`), 0); end != -1 {
		t.Errorf("stringEnd not at a quote = %d, want -1", end)
	}
}
