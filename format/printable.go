package format

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable escapes every rune of s that is not printable (control
// characters such as ESC, CR and LF, Unicode format characters such as the
// bidirectional overrides, invalid UTF-8) as strconv.Quote would, without
// the quotes, and cuts the result to about n bytes ("..." marks a cut).
// It is how text another party chose (a server's error message, a header)
// goes into an error or a terminal line: it can neither spoof our own
// output with escape sequences or line breaks nor make it long. Text of
// at most n bytes of printable ASCII, the common case, is s itself and
// costs no allocation.
func Printable(s string, n int) string {
	if len(s) <= n && printableASCII(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= n {
			b.WriteString("...")
			break
		}
		if _, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			continue
		}
		if strconv.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// printableASCII reports whether every byte of s is printable ASCII
// (0x20 to 0x7e).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
