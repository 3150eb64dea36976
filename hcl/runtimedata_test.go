package hcl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// realKeys returns the AK and EK JWKs of var-data.bin.
func realKeys(t testing.TB) (ak, ek JWK) {
	d, err := ParseRuntimeData(testutil.ReadFile(t, "azure-cvm-tooling/var-data.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return d.Keys[0], d.Keys[1]
}

func runtimeJSON(t testing.TB, keys ...JWK) []byte {
	b, err := json.Marshal(RuntimeData{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeySelectionByKid(t *testing.T) {
	ak, ek := realKeys(t)
	other := ak
	other.Kid = "Other"
	tests := []struct {
		name   string
		keys   []JWK
		akErr  error
		ekErr  error
		wantAK string
	}{
		{"AK then EK", []JWK{ak, ek}, nil, nil, ak.N},
		{"EK then AK", []JWK{ek, ak}, nil, nil, ak.N},
		{"AK last of three", []JWK{ek, other, ak}, nil, nil, ak.N},
		{"AK only", []JWK{ak}, nil, ErrKeyNotFound, ak.N},
		{"missing AK", []JWK{ek}, ErrKeyNotFound, nil, ""},
		{"no keys", nil, ErrKeyNotFound, ErrKeyNotFound, ""},
		{"duplicate AK", []JWK{ak, ek, ak}, ErrDuplicateKey, nil, ""},
		{"kid case matters", []JWK{{Kid: "hclakpub", Kty: "RSA", E: ak.E, N: ak.N}, ek}, ErrKeyNotFound, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseRuntimeData(runtimeJSON(t, tc.keys...))
			if err != nil {
				t.Fatal(err)
			}
			k, err := d.AK()
			if !errors.Is(err, tc.akErr) {
				t.Errorf("AK err = %v, want %v", err, tc.akErr)
			}
			if err == nil {
				want, _ := (&JWK{Kty: "RSA", E: ak.E, N: tc.wantAK}).RSAPublicKey()
				if !k.Equal(want) {
					t.Error("AK() returned the wrong key")
				}
			} else {
				var fe *FormatError
				if !errors.As(err, &fe) || fe.Field != "runtime_data.keys[HCLAkPub]" {
					t.Errorf("AK err = %#v", err)
				}
			}
			if _, err := d.EK(); !errors.Is(err, tc.ekErr) {
				t.Errorf("EK err = %v, want %v", err, tc.ekErr)
			}
		})
	}
}

func TestJWKRSAPublicKey(t *testing.T) {
	ak, _ := realKeys(t)
	nb, err := base64.RawURLEncoding.DecodeString(ak.N)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	even := bytes.Clone(nb)
	even[len(even)-1] &^= 1
	small := nb[:128]
	small[len(small)-1] |= 1
	huge := append([]byte{0xff}, bytes.Repeat([]byte{0xff}, MaxRSABits/8)...)
	tests := []struct {
		name  string
		k     JWK
		field string
		err   error
	}{
		{"real", ak, "", nil},
		{"e=3", JWK{Kty: "RSA", E: "Aw", N: ak.N}, "", nil},
		// RFC 7518 section 2 Base64urlUInt: unpadded base64url of the
		// minimum number of octets; every other spelling of the key is refused.
		{"padded n", JWK{Kty: "RSA", E: "AQAB", N: base64.URLEncoding.EncodeToString(nb)}, "jwk.n", ErrBadKey},
		{"padded e", JWK{Kty: "RSA", E: "Aw==", N: ak.N}, "jwk.e", ErrBadKey},
		{"leading zero in n", JWK{Kty: "RSA", E: "AQAB", N: b64(append([]byte{0}, nb...))}, "jwk.n", ErrBadKey},
		{"two leading zeros in n", JWK{Kty: "RSA", E: "AQAB", N: b64(append([]byte{0, 0}, nb...))}, "jwk.n", ErrBadKey},
		{"leading zero in e", JWK{Kty: "RSA", E: "AAEAAQ", N: ak.N}, "jwk.e", ErrBadKey},
		{"leading zero in e=3", JWK{Kty: "RSA", E: "AAM", N: ak.N}, "jwk.e", ErrBadKey},
		{"e=0 in two octets", JWK{Kty: "RSA", E: "AAA", N: ak.N}, "jwk.e", ErrBadKey},
		{"n=0", JWK{Kty: "RSA", E: "AQAB", N: "AA"}, "jwk.n", ErrBadKey},
		{"EC", JWK{Kty: "EC", E: "AQAB", N: ak.N}, "jwk.kty", ErrBadKey},
		{"lower-case kty", JWK{Kty: "rsa", E: "AQAB", N: ak.N}, "jwk.kty", ErrBadKey},
		{"empty n", JWK{Kty: "RSA", E: "AQAB"}, "jwk.n", ErrBadKey},
		{"bad base64 n", JWK{Kty: "RSA", E: "AQAB", N: "!!!" + ak.N[3:]}, "jwk.n", ErrBadKey},
		{"std alphabet n", JWK{Kty: "RSA", E: "AQAB", N: strings.ReplaceAll(strings.ReplaceAll(ak.N, "-", "+"), "_", "/")}, "jwk.n", ErrBadKey},
		{"wrong padding n", JWK{Kty: "RSA", E: "AQAB", N: ak.N + "="}, "jwk.n", ErrBadKey},
		{"1024-bit n", JWK{Kty: "RSA", E: "AQAB", N: b64(small)}, "jwk.n", ErrBadKey},
		{"even n", JWK{Kty: "RSA", E: "AQAB", N: b64(even)}, "jwk.n", ErrBadKey},
		{"n too long", JWK{Kty: "RSA", E: "AQAB", N: strings.Repeat("A", 4096)}, "jwk.n", format.ErrTooLarge},
		{"n > max bits", JWK{Kty: "RSA", E: "AQAB", N: b64(huge)}, "jwk.n", ErrBadKey},
		{"empty e", JWK{Kty: "RSA", N: ak.N}, "jwk.e", ErrBadKey},
		{"bad base64 e", JWK{Kty: "RSA", E: "A*AB", N: ak.N}, "jwk.e", ErrBadKey},
		{"non-canonical e", JWK{Kty: "RSA", E: "Ax", N: ak.N}, "jwk.e", ErrBadKey},
		{"non-canonical padded e", JWK{Kty: "RSA", E: "Ax==", N: ak.N}, "jwk.e", ErrBadKey},
		{"line break in n", JWK{Kty: "RSA", E: "AQAB", N: ak.N[:64] + "\n" + ak.N[64:]}, "jwk.n", ErrBadKey},
		{"CR LF after e", JWK{Kty: "RSA", E: "AQAB\r\n", N: ak.N}, "jwk.e", ErrBadKey},
		{"e=1", JWK{Kty: "RSA", E: "AQ", N: ak.N}, "jwk.e", ErrBadKey},
		{"e even", JWK{Kty: "RSA", E: "AQAA", N: ak.N}, "jwk.e", ErrBadKey},
		{"e=0", JWK{Kty: "RSA", E: "AA", N: ak.N}, "jwk.e", ErrBadKey},
		{"e 2^32+1", JWK{Kty: "RSA", E: b64([]byte{1, 0, 0, 0, 1}), N: ak.N}, "jwk.e", ErrBadKey},
		{"e too long", JWK{Kty: "RSA", E: strings.Repeat("A", 100), N: ak.N}, "jwk.e", format.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.k.RSAPublicKey()
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				if !testutil.IsFieldError(err, tc.field, ErrBadKey) {
					t.Errorf("err = %#v, want Field %q and ErrBadKey", err, tc.field)
				}
				return
			}
			if k.N.BitLen() != 2048 {
				t.Errorf("modulus %d bits", k.N.BitLen())
			}
		})
	}
}

func TestNewRSAJWKRoundTrip(t *testing.T) {
	ak, _ := realKeys(t)
	pub, err := ak.RSAPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	j := NewRSAJWK(KidAK, []string{"sign"}, pub)
	if j.N != ak.N || j.E != ak.E || j.Kty != "RSA" || j.Kid != KidAK {
		t.Errorf("NewRSAJWK = %+v, want %+v", j, ak)
	}
	back, err := j.RSAPublicKey()
	if err != nil || !back.Equal(pub) {
		t.Errorf("round trip: %v", err)
	}
	if j2 := NewRSAJWK("x", nil, pub); j2.E != "AQAB" || new(big.Int).SetBytes(mustB64(t, j2.N)).Cmp(pub.N) != 0 {
		t.Error("bad encoding")
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	return testutil.Must(base64.RawURLEncoding.DecodeString(s))(t)
}

func TestRuntimeDataMarshalRoundTrip(t *testing.T) {
	// Re-encoding var-data.bin gives the same bytes: same key order,
	// upper-case user-data hex.
	raw := testutil.ReadFile(t, "azure-cvm-tooling/var-data.bin")
	d, err := ParseRuntimeData(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := ParseRuntimeData(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Keys) != 2 || d2.Keys[0].N != d.Keys[0].N || !bytes.Equal(d2.UserData, d.UserData) || *d2.VMConfig != *d.VMConfig {
		t.Errorf("round trip differs:\n%s\n%s", raw, out)
	}
	ud := bytes.Repeat([]byte{0xab}, 64)
	out, _ = json.Marshal(RuntimeData{UserData: ud})
	if want := `{"keys":[],"user-data":"` + strings.Repeat("AB", 64) + `"}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestParseRuntimeDataErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		field string
		err   error
	}{
		{"empty", "", "runtime_data", format.ErrEmpty},
		{"too large", "{" + strings.Repeat(" ", MaxRuntimeDataSize) + "}", "runtime_data", format.ErrTooLarge},
		{"whitespace", "  ", "runtime_data", format.ErrBadJSON},
		{"null", "null", "runtime_data", format.ErrBadJSON},
		{"string", `"x"`, "runtime_data", format.ErrBadJSON},
		{"truncated", `{"keys":[`, "runtime_data", format.ErrBadJSON},
		{"trailing NUL", "{}\x00", "runtime_data", format.ErrBadJSON},
		{"keys wrong type", `{"keys":"x"}`, "runtime_data", format.ErrBadJSON},
		{"kid wrong type", `{"keys":[{"kid":1}]}`, "runtime_data", format.ErrBadJSON},
		{"vm-configuration wrong type", `{"vm-configuration":[]}`, "runtime_data", format.ErrBadJSON},
		{"user-data odd", `{"user-data":"` + strings.Repeat("0", 127) + `"}`, "runtime_data.user-data", ErrBadUserData},
		{"user-data long", `{"user-data":"` + strings.Repeat("0", 130) + `"}`, "runtime_data.user-data", ErrBadUserData},
		{"user-data empty", `{"user-data":""}`, "runtime_data.user-data", ErrBadUserData},
		{"user-data non-hex", `{"user-data":"` + strings.Repeat("g", 128) + `"}`, "runtime_data.user-data", ErrBadUserData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRuntimeData([]byte(tc.in))
			if !testutil.IsFieldError(err, tc.field, tc.err) {
				t.Errorf("err = %v, want %v in field %q", err, tc.err, tc.field)
			}
		})
	}
	// Accepted: unknown fields, missing optional fields, mixed-case hex.
	for _, in := range []string{
		`{}`,
		`{"keys":[],"future-field":{"a":[1,2]},"vm-configuration":{"new-flag":true}}`,
		` {"user-data":"` + strings.Repeat("aB", 64) + `"} `,
	} {
		if _, err := ParseRuntimeData([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// TestParseRuntimeDataStrict: the runtime data decides which key is the AK,
// so every ambiguity a reviewer could read differently from the verifier is
// rejected: duplicate members (a second "keys" used to replace the first),
// near-miss names, invalid UTF-8, trailing data, deep nesting.
func TestParseRuntimeDataStrict(t *testing.T) {
	ak, ek := realKeys(t)
	key := func(k JWK) string {
		return `{"kid":"` + k.Kid + `","key_ops":["sign"],"kty":"RSA","e":"` + k.E + `","n":"` + k.N + `"}`
	}
	keys := `"keys":[` + key(ak) + `,` + key(ek) + `]`
	ud := `"user-data":"` + strings.Repeat("00", 64) + `"`
	tests := []struct {
		name string
		in   string
		kind error
		ptr  string
	}{
		{"second keys", `{` + keys + `,"keys":[` + key(ek) + `]}`, strictjson.ErrDuplicateKey, "/keys"},
		{"escaped second keys", `{` + keys + `,"k\u0065ys":[]}`, strictjson.ErrDuplicateKey, "/keys"},
		{"two n in a key", `{"keys":[` + key(ak) + `,{"kid":"HCLEkPub","kty":"RSA","e":"AQAB","n":"` + ek.N + `","n":"` + ak.N + `"}]}`,
			strictjson.ErrDuplicateKey, "/keys/1/n"},
		{"two kid in a key", `{"keys":[{"kid":"HCLAkPub","kid":"x","kty":"RSA","e":"AQAB","n":"` + ak.N + `"}]}`, strictjson.ErrDuplicateKey, "/keys/0/kid"},
		{"duplicate user-data", `{` + keys + `,` + ud + `,` + ud + `}`, strictjson.ErrDuplicateKey, "/user-data"},
		{"duplicate in vm-configuration", `{"vm-configuration":{"secure-boot":true,"secure-boot":false}}`, strictjson.ErrDuplicateKey, "/vm-configuration/secure-boot"},
		// The id PCR 6 is checked against (verify's vm-identity) is one.
		{"duplicate vmUniqueId", `{"vm-configuration":{"vmUniqueId":"A","vmUniqueId":"B"}}`, strictjson.ErrDuplicateKey, "/vm-configuration/vmUniqueId"},
		{"duplicate vmUniqueId, escaped", `{"vm-configuration":{"vmUniqueId":"A","vm\u0055niqueId":"B"}}`, strictjson.ErrDuplicateKey, "/vm-configuration/vmUniqueId"},
		{"duplicate inside unknown", `{` + keys + `,"x":{"a":{"b":1,"b":2}}}`, strictjson.ErrDuplicateKey, "/x/a/b"},
		{"duplicate inside unknown of a key", `{"keys":[{"kid":"HCLAkPub","ext":{"q":1,"q":1}}]}`, strictjson.ErrDuplicateKey, "/keys/0/ext/q"},
		{"Keys", `{"Keys":[` + key(ak) + `]}`, strictjson.ErrCaseMismatch, "/Keys"},
		{"Keys beside keys", `{` + keys + `,"Keys":[` + key(ek) + `]}`, strictjson.ErrCaseMismatch, "/Keys"},
		{"KID", `{"keys":[{"KID":"HCLAkPub","kty":"RSA","e":"AQAB","n":"` + ak.N + `"}]}`, strictjson.ErrCaseMismatch, "/keys/0/KID"},
		{"N", `{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","N":"` + ak.N + `"}]}`, strictjson.ErrCaseMismatch, "/keys/0/N"},
		{"User-Data", `{"User-Data":"` + strings.Repeat("00", 64) + `"}`, strictjson.ErrCaseMismatch, "/User-Data"},
		{"Secure-Boot", `{"vm-configuration":{"Secure-Boot":true}}`, strictjson.ErrCaseMismatch, "/vm-configuration/Secure-Boot"},
		{"VMUniqueID", `{"vm-configuration":{"VMUniqueID":"x"}}`, strictjson.ErrCaseMismatch, "/vm-configuration/VMUniqueID"},
		{"invalid UTF-8 in kid", "{\"keys\":[{\"kid\":\"HCLAkPub\xff\"}]}", strictjson.ErrInvalidUTF8, "/keys/0/kid"},
		{"invalid UTF-8 in unknown key", "{\"k\xc3\":1}", strictjson.ErrInvalidUTF8, ""},
		{"trailing object", `{` + keys + `} {"keys":[]}`, strictjson.ErrTrailingData, ""},
		{"trailing garbage", `{` + keys + `}x`, strictjson.ErrTrailingData, ""},
		{"too deep", `{"x":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `}`, strictjson.ErrTooDeep, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRuntimeData([]byte(tc.in))
			if !testutil.IsFieldError(err, "runtime_data", tc.kind) || !errors.Is(err, format.ErrBadJSON) {
				t.Fatalf("err = %v, want %v", err, tc.kind)
			}
			se, ok := errors.AsType[*strictjson.Error](err)
			if !ok || se.Pointer != tc.ptr {
				t.Errorf("pointer of %v, want %q", err, tc.ptr)
			}
		})
	}
	// The same document without the ambiguity is accepted, unknown members included.
	d, err := ParseRuntimeData([]byte(`{` + keys + `,"x":{"a":{"b":1}},"vm-configuration":{"secure-boot":true,"new":1},` + ud + `}`))
	if err != nil || len(d.Keys) != 2 || !d.VMConfig.SecureBoot {
		t.Fatalf("%v %+v", err, d)
	}
	// UnmarshalJSON is as strict, whoever calls it.
	var rd RuntimeData
	if err := json.Unmarshal([]byte(`{`+keys+`,"keys":[]}`), &rd); !errors.Is(err, strictjson.ErrDuplicateKey) {
		t.Errorf("encoding/json into RuntimeData: %v", err)
	}
}

// TestMalformedJSONOnce: JSON that ends early is "malformed JSON" once in
// the error: the strict decoder's error is one already, and was wrapped in
// a second.
func TestMalformedJSONOnce(t *testing.T) {
	_, err := ParseRuntimeData([]byte("{"))
	if !errors.Is(err, format.ErrBadJSON) || strings.Count(err.Error(), "malformed JSON") != 1 {
		t.Errorf("err = %v, want malformed JSON, said once", err)
	}
}
