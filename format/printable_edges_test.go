package format_test

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// TestPrintableEdges pins the edges of Printable's fast path and escaping:
// DEL and U+001F alone (no other byte to send the string down the slow
// path), one byte over the bound, and space characters other than U+0020
// (graphic but not printable in strconv's sense: they can pass for a
// plain space in a log line).
func TestPrintableEdges(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"\x7f", 8, `\x7f`},
		{"ok\x7f", 8, `ok\x7f`},
		{"a\x1fb", 8, `a\x1fb`},
		{"\x1f", 8, `\x1f`},
		{" ~", 8, " ~"}, // the ends of printable ASCII stay as they are
		{"abcd", 3, "abc..."},
		{"abc", 3, "abc"},
		{"a\u00a0b", 8, `a\u00a0b`},  // no-break space
		{"a\u3000b", 8, `a\u3000b`},  // ideographic space
		{"a\u2028b", 16, `a\u2028b`}, // line separator
		{"x\u200by", 16, `x\u200by`}, // zero-width space
	} {
		if got := format.Printable(c.in, c.n); got != c.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
