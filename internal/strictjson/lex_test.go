package strictjson

import "testing"

// TestStringEnd: the lexical rules the one-pass scanners share, including
// the inputs they must leave to the decoder (-1).
func TestStringEnd(t *testing.T) {
	for _, c := range []struct {
		in      string
		at      int
		end     int
		escaped bool
	}{
		{`"abc"`, 0, 5, false},
		{`x"abc" `, 1, 6, false},
		{`"a\"b\\c\/\b\f\n\r\t"`, 0, 21, true},
		{`"\u00e9 and ☃"`, 0, 16, true},
		{`"` + "0123456789abcdef0123" + `"`, 0, 22, false},
		{`""`, 0, 2, false},
		{`"abc`, 0, -1, false},              // unterminated
		{`"a\"`, 0, -1, false},              // the escaped quote does not end it
		{`"a` + "\x01" + `"`, 0, -1, false}, // control character
		{`"0123456789` + "\t" + `"`, 0, -1, false},
		{`"a` + "\xff" + `"`, 0, -1, false},         // not UTF-8
		{`"a` + "\xed\xa0\x80" + `"`, 0, -1, false}, // UTF-8-encoded surrogate
		{`"\ud800"`, 0, -1, false},                  // surrogate escape: left to the decoder
		{`"\x41"`, 0, -1, false},                    // not an RFC 8259 escape
		{`"\u12g4"`, 0, -1, false},
		{`"\u12"`, 0, -1, false},
		{`abc`, 0, -1, false},
		{`"a"`, 3, -1, false},
		{`"a"`, -1, -1, false},
	} {
		end, esc := stringEnd([]byte(c.in), c.at)
		if end != c.end || (end >= 0 && esc != c.escaped) {
			t.Errorf("stringEnd(%q, %d) = %d, %v; want %d, %v", c.in, c.at, end, esc, c.end, c.escaped)
		}
	}
}

// TestNumberEnd: RFC 8259 numbers only.
func TestNumberEnd(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
	}{
		{"0", 1}, {"-0", 2}, {"123,", 3}, {"1.5e+10]", 7}, {"1E3", 3}, {"-12.25", 6},
		{"01", 1}, // a number ends after a leading 0; the 1 is the caller's error
		{"", -1}, {"-", -1}, {"+1", -1}, {".5", -1}, {"1.", -1}, {"1e", -1}, {"1e+", -1}, {"x", -1},
	} {
		if end := numberEnd([]byte(c.in), 0); end != c.end {
			t.Errorf("numberEnd(%q) = %d, want %d", c.in, end, c.end)
		}
	}
	if end := numberEnd([]byte("1"), -1); end != -1 {
		t.Errorf("numberEnd at -1 = %d", end)
	}
}
