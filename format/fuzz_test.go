package format_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// FuzzBase64: Base64 never panics; every rejection wraps ErrBadEncoding
// and returns nothing; what it accepts is the one canonical encoding of
// the bytes it returns (encoding them gives the input back), for each of
// the module's four alphabets.
func FuzzBase64(f *testing.F) {
	encs := []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding}
	for i, s := range []string{"AQI=", "AQI", "_-8", "AR==", "AQ\nI=", "AQI\r\n", "", "===="} {
		f.Add(uint8(i%len(encs)), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, s string) {
		enc := encs[int(which)%len(encs)]
		b, err := format.Base64(enc, s)
		if err != nil {
			if b != nil || !errors.Is(err, format.ErrBadEncoding) {
				t.Fatalf("%x with error %v", b, err)
			}
			return
		}
		if enc.EncodeToString(b) != s {
			t.Fatalf("%q decodes to %x, which encodes as %q", s, b, enc.EncodeToString(b))
		}
	})
}

// FuzzReadableName: rewriting OID-and-hex attributes never panics or
// makes a name longer, and a description that pkix.Name prints as
// OID-and-hex is rewritten to description=value.
func FuzzReadableName(f *testing.F) {
	for _, s := range []string{"CN=SEV-Milan,2.5.4.13=#1303616263", "2.5.4.17=#0c00", "1.2=#zz", "2.5.4.13=#30030101ff", "=#"} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, s, value string) {
		if out := format.ReadableName(s); len(out) > len(s) {
			t.Fatalf("ReadableName(%q) = %q, longer", s, out)
		}
		if value == "" || !utf8.ValidString(value) || strings.ContainsAny(value, `,+"\<>;#= `) || strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			return
		}
		raw, err := asn1.MarshalWithParams(value, "utf8")
		if err != nil {
			return
		}
		var rv asn1.RawValue
		if _, err := asn1.Unmarshal(raw, &rv); err != nil {
			t.Fatal(err)
		}
		name := pkix.Name{CommonName: "c", ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 13}, Value: rv}}}
		if got := format.ReadableName(name.String()); !strings.Contains(got, "description="+value) {
			t.Fatalf("ReadableName(%q) = %q, want description=%s", name.String(), got, value)
		}
	})
}
