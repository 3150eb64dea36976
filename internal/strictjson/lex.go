package strictjson

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// The lexical rules of the one-pass Scanner (which the evidence package's
// wire scanner builds on): what a string and a number may be, exactly as
// the strict decoder takes them.

// stringEnd checks the JSON string whose opening quote is d[i]: valid
// UTF-8, no control character, only the escapes of RFC 8259, and no \u
// escape of a UTF-16 surrogate (which the scanners leave to the decoder).
// It returns the index after the closing quote and whether the string
// holds any escape, or -1 when d[i:] does not start with such a string.
// The text between escapes is found with IndexByte and checked eight
// bytes at a time.
func stringEnd(d []byte, i int) (end int, escaped bool) {
	if i < 0 || i >= len(d) || d[i] != '"' {
		return -1, false
	}
	for i++; ; {
		q := bytes.IndexByte(d[i:], '"')
		if q < 0 {
			return -1, false
		}
		seg := d[i : i+q]
		e := bytes.IndexByte(seg, '\\')
		if e < 0 {
			if !plainText(seg) {
				return -1, false
			}
			return i + q + 1, escaped
		}
		escaped = true
		if !plainText(seg[:e]) {
			return -1, false
		}
		if i = escape(d, i+e); i < 0 {
			return -1, false
		}
	}
}

// numberEnd returns the index after the JSON number (RFC 8259 grammar)
// that starts at d[i], or -1 when none does.
func numberEnd(d []byte, i int) int {
	if i < 0 {
		return -1
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// digits returns the index after the run of digits at d[i:].
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// plainText reports whether b is valid UTF-8 without control characters
// (bytes below 0x20). ASCII is checked a word at a time.
func plainText(b []byte) bool {
	const hi, ctl = 0x8080808080808080, 0x2020202020202020
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// Every byte ASCII (high bit clear), and none below 0x20: x-ctl
		// borrows into a byte's high bit exactly where that byte < 0x20.
		if x&hi != 0 || (x-ctl)&^x&hi != 0 {
			return slowText(b[i:])
		}
	}
	return slowText(b[i:])
}

// slowText is plainText a rune at a time.
func slowText(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return false
		}
		i += size
	}
	return true
}

// escape returns the index after the escape sequence at d[i] ('\\'), or
// -1 when it is not one the scanner accepts.
func escape(d []byte, i int) int {
	if i+1 >= len(d) {
		return -1
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2
	case 'u':
		if i+6 > len(d) {
			return -1
		}
		v := 0
		for _, c := range d[i+2 : i+6] {
			h := hexNibble(c)
			if h < 0 {
				return -1
			}
			v = v<<4 | h
		}
		if v >= 0xD800 && v <= 0xDFFF {
			return -1
		}
		return i + 6
	}
	return -1
}

// hexNibble returns the value of the hex digit c, or -1.
func hexNibble(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
