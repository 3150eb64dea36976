package format_test

import (
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// TestPrintable: text another party chose comes out without control or
// format characters and bounded, whatever it holds.
func TestPrintable(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 8, ""},
		{"vcek-chain: not signed", 64, "vcek-chain: not signed"},
		{"caf\u00e9 \u6f22", 64, "caf\u00e9 \u6f22"},
		{"\x1b[2J\x1b[1;32mVERIFIED", 64, `\x1b[2J\x1b[1;32mVERIFIED`},
		{"a\r\nREJECTED: b\tc", 64, `a\r\nREJECTED: b\tc`},
		{"\u202egnirts", 64, `\u202egnirts`}, // right-to-left override
		{"\u009b31m", 64, `\u009b31m`},       // C1 CSI
		{"\x7f\xff\xc3", 64, `\x7f\xff\xc3`}, // DEL, invalid UTF-8
		{"abcdef", 3, "abc..."},
		{"\x00\x00\x00", 4, `\x00...`},
	} {
		if got := format.Printable(c.in, c.n); got != c.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	worst := strings.Repeat("\U0010ffff\x1b", 10000)
	if got := format.Printable(worst, 100); len(got) > 100+10+3 {
		t.Errorf("Printable of %d bytes is %d bytes, want about 100", len(worst), len(got))
	}
}
