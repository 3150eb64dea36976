package format_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

func TestError(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		msg     string
		field   string
		kind    error
		notKind error
	}{
		{"Field", format.Field("hcl", "magic", format.ErrBadMagic), "hcl: magic: bad magic", "magic", format.ErrBadMagic, format.ErrTruncated},
		{"Fieldf", format.Fieldf("quote", "message", format.ErrTooLarge, "%d > %d bytes", 5000, 2048), "quote: message: too large (5000 > 2048 bytes)", "message", format.ErrTooLarge, format.ErrTruncated},
		{"wrapped cause", format.Field("evidence", "document", fmt.Errorf("%w: %w", format.ErrBadJSON, io.ErrUnexpectedEOF)), "evidence: document: malformed JSON: unexpected EOF", "document", io.ErrUnexpectedEOF, format.ErrTooLarge},
		{"Rename", format.Rename(format.Field("evidence", "", format.ErrBadByte), "quote.pcrs[3]"), "evidence: quote.pcrs[3]: not a byte", "quote.pcrs[3]", format.ErrBadByte, format.ErrBadLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.msg {
				t.Errorf("message %q, want %q", got, tc.msg)
			}
			var fe *format.Error
			if !errors.As(tc.err, &fe) || fe.Field != tc.field {
				t.Errorf("errors.As: %#v, want Field %q", fe, tc.field)
			}
			if !errors.Is(tc.err, tc.kind) || !errors.Is(tc.err, format.ErrMalformed) {
				t.Errorf("%v does not match %v and ErrMalformed", tc.err, tc.kind)
			}
			if errors.Is(tc.err, tc.notKind) {
				t.Errorf("%v matches %v", tc.err, tc.notKind)
			}
		})
	}
}

func TestRenameLeavesOtherErrors(t *testing.T) {
	err := errors.New("plain")
	if got := format.Rename(err, "x"); got != err || errors.Is(got, format.ErrMalformed) {
		t.Errorf("Rename changed a plain error: %v", got)
	}
	if errors.Is(format.ErrTruncated, format.ErrMalformed) {
		t.Error("a bare sentinel matches ErrMalformed")
	}
}

func TestAllZero(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want bool
	}{
		{nil, true}, {[]byte{}, true}, {make([]byte, 64), true},
		{[]byte{1}, false}, {append(make([]byte, 63), 0x80), false}, {[]byte{0, 0x01, 0}, false},
	} {
		if got := format.AllZero(tc.in); got != tc.want {
			t.Errorf("AllZero(%x) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestKind: kinds are errors that errors.Is matches through wrapping, and
// two kinds with other texts differ.
func TestKind(t *testing.T) {
	err := fmt.Errorf("ctx: %w", format.Field("hcl", "magic", format.ErrBadMagic))
	if !errors.Is(err, format.ErrBadMagic) || errors.Is(err, format.ErrTruncated) {
		t.Errorf("errors.Is through wrapping: %v", err)
	}
	if format.ErrBadMagic.Error() != "bad magic" {
		t.Errorf("text %q", format.ErrBadMagic.Error())
	}
}

// TestTruncate: cuts at n bytes on a rune boundary, marks the cut, and
// bounds what %q makes of any input.
func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd..."},
		{"abcde", 0, "..."},
		{"abcde", -1, "..."},
		{"ab\u00e9cd", 3, "ab..."}, // é is 2 bytes: not split
		{"ab\u00e9cd", 4, "ab\u00e9..."},
		{"\x80\x80\x80\x80\x80", 2, "..."},
	} {
		if got := format.Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	worst := string(bytes.Repeat([]byte{0xff}, 10000))
	if q := fmt.Sprintf("%q", format.Truncate(worst, 64)); len(q) > 4*64+5 {
		t.Errorf("%%q of a truncated string is %d bytes", len(q))
	}
}

func TestReadableName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"CN=SEV-Milan,2.5.4.13=#131b736e702d7674706d20454d554c4154454420286e6f7420414d4429", "CN=SEV-Milan,description=snp-vtpm EMULATED (not AMD)"},
		{"CN=x,1.2.3.4=#0c03616263", "CN=x,1.2.3.4=abc"},               // unknown OID, UTF8String
		{"CN=x,2.5.4.13=#020101", "CN=x,2.5.4.13=#020101"},             // an INTEGER stays hex
		{"CN=x,2.5.4.13=#13036162", "CN=x,2.5.4.13=#13036162"},         // cut DER stays hex
		{"CN=x,2.5.4.13=#1303616263ff", "CN=x,2.5.4.13=#1303616263ff"}, // trailing bytes stay hex
		{"CN=x,2.5.4.13=#130", "CN=x,2.5.4.13=#130"},                   // odd hex
		{"no names here", "no names here"},
	}
	for _, tt := range tests {
		if got := format.ReadableName(tt.in); got != tt.want {
			t.Errorf("ReadableName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

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

// TestBase64 holds format.Base64 to the one canonical form: Go's Strict
// decoders skip CR and LF, which Base64 refuses; non-zero bits after the
// last byte and wrong padding are refused by Strict. Every error wraps
// ErrBadEncoding.
func TestBase64(t *testing.T) {
	tests := []struct {
		name string
		enc  *base64.Encoding
		in   string
		want string // "" with an error
	}{
		{"canonical", base64.StdEncoding, "AQI=", "\x01\x02"},
		{"unpadded url", base64.RawURLEncoding, "_-8", "\xff\xef"},
		{"line feed inside", base64.StdEncoding, "AQ\nI=", ""},
		{"CR LF at the end", base64.RawURLEncoding, "AQI\r\n", ""},
		{"non-zero trailing bits", base64.StdEncoding, "AR==", ""},
		{"missing padding", base64.StdEncoding, "AQI", ""},
		{"padding where none is", base64.RawURLEncoding, "AQI=", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := format.Base64(tc.enc, tc.in)
			if tc.want == "" {
				if !errors.Is(err, format.ErrBadEncoding) {
					t.Fatalf("Base64(%q) = %x, %v; want ErrBadEncoding", tc.in, got, err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Base64(%q) = %x, %v; want %x", tc.in, got, err, tc.want)
			}
		})
	}
	if err := format.NoLineBreak([]byte("AQ\rI")); !errors.Is(err, format.ErrBadEncoding) || !strings.Contains(err.Error(), "character 2") {
		t.Fatalf("NoLineBreak: %v", err)
	}
}

// TestBadJSON: an error that is an ErrBadJSON already (the strict JSON
// decoder's syntax errors) is returned as it is, so "malformed JSON" is
// said once; another is wrapped. Both match ErrBadJSON.
func TestBadJSON(t *testing.T) {
	already := fmt.Errorf("json: %w (byte 1)", format.ErrBadJSON)
	other := errors.New("json: duplicate object member name")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{already, "json: malformed JSON (byte 1)"},
		{other, "malformed JSON: json: duplicate object member name"},
	} {
		got := format.BadJSON(tc.err)
		if !errors.Is(got, format.ErrBadJSON) || !errors.Is(got, tc.err) || got.Error() != tc.want {
			t.Errorf("BadJSON(%q) = %q, want %q matching ErrBadJSON and the error", tc.err, got, tc.want)
		}
	}
}
