package strictjson

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

type inner struct {
	N string `json:"n"`
	E string `json:"e"`
}

type innerWire struct {
	inner
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown Unknown[inner] `json:",embed"`
}

type outer struct {
	Keys  []innerWire    `json:"keys"`
	Count int            `json:"count"`
	Flag  bool           `json:"flag,omitempty"`
	Map   map[int]string `json:"map"`
	//lint:ignore SA5008 "embed" is an encoding/json/v2 option (strictjson)
	Unknown Unknown[outer] `json:",embed"`
}

type closed struct {
	A   string `json:"a"`
	B   []int  `json:"b"`
	Sub *struct {
		C int `json:"c"`
	} `json:"sub"`
}

func TestUnmarshalAccepts(t *testing.T) {
	in := ` {"keys":[{"n":"x","e":"AQAB","extra":{"a":[1,2]}}],"count":3,"future":{"z":null},"map":{"7":"a"}}` + "\n\t"
	var o outer
	if err := Unmarshal([]byte(in), &o, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(o.Keys) != 1 || o.Keys[0].N != "x" || o.Keys[0].E != "AQAB" || o.Count != 3 || o.Map[7] != "a" {
		t.Fatalf("decoded %+v", o)
	}
	if _, ok := o.Unknown["future"]; !ok {
		t.Error("unknown member not collected")
	}
	var c closed
	if err := Unmarshal([]byte(`{"a":"é\u00e9","b":[1,2],"sub":{"c":1}}`), &c, Options{RejectUnknown: true}); err != nil || c.A != "éé" {
		t.Fatalf("closed: %v %+v", err, c)
	}
	// A surrogate pair escapes one character outside the BMP.
	if err := Unmarshal([]byte(`{"a":"\ud83d\ude00"}`), &c, Options{RejectUnknown: true}); err != nil || c.A != "\U0001F600" {
		t.Fatalf("surrogate pair: %v %q", err, c.A)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		name string
		in   string
		o    Options
		kind error
		ptr  string
	}{
		{"duplicate top level", `{"count":1,"count":2}`, Options{}, ErrDuplicateKey, "/count"},
		{"duplicate known and escaped", `{"count":1,"c\u006funt":2}`, Options{}, ErrDuplicateKey, "/count"},
		{"duplicate nested", `{"keys":[{"n":"a","e":"b"},{"n":"a","n":"b"}]}`, Options{}, ErrDuplicateKey, "/keys/1/n"},
		{"duplicate unknown", `{"x":1,"x":2}`, Options{}, ErrDuplicateKey, "/x"},
		{"duplicate inside unknown", `{"future":{"a":{"b":1,"b":2}}}`, Options{}, ErrDuplicateKey, "/future/a/b"},
		{"duplicate inside unknown of element", `{"keys":[{"x":[{"q":1,"q":1}]}]}`, Options{}, ErrDuplicateKey, "/keys/0/x/0/q"},
		{"duplicate map key", `{"map":{"1":"a","1":"b"}}`, Options{}, ErrDuplicateKey, "/map/1"},
		{"non-canonical map key", `{"map":{"1":"a","01":"b"}}`, Options{}, ErrInvalidValue, "/map/01"},
		{"invalid UTF-8 in string", "{\"keys\":[{\"n\":\"\xff\"}]}", Options{}, ErrInvalidUTF8, "/keys/0/n"},
		{"invalid UTF-8 in unknown", "{\"z\":[\"ok\",\"\xc3\x28\"]}", Options{}, ErrInvalidUTF8, "/z/1"},
		{"invalid UTF-8 in key", "{\"ke\xffys\":1}", Options{}, ErrInvalidUTF8, ""},
		{"surrogate half escaped is fine but raw is not", "{\"z\":\"\xed\xa0\x80\"}", Options{}, ErrInvalidUTF8, "/z"},
		{"lone high surrogate escaped", `{"z":"\ud800"}`, Options{}, ErrInvalidUTF8, "/z"},
		{"lone low surrogate escaped", `{"z":"ab\uDC00"}`, Options{}, ErrInvalidUTF8, "/z"},
		{"surrogates reversed", `{"z":"\udc00\ud800"}`, Options{}, ErrInvalidUTF8, "/z"},
		{"high surrogate then a letter", `{"z":"\ud800\u0041"}`, Options{}, ErrInvalidUTF8, "/z"},
		{"lone surrogate escaped in a name", `{"\ud800":1}`, Options{}, ErrInvalidUTF8, ""},
		{"lone surrogate escaped in a known string", `{"keys":[{"n":"\udfff"}]}`, Options{}, ErrInvalidUTF8, "/keys/0/n"},
		{"case variant top", `{"Keys":[]}`, Options{}, ErrCaseMismatch, "/Keys"},
		{"case variant nested", `{"keys":[{"N":"x"}]}`, Options{}, ErrCaseMismatch, "/keys/0/N"},
		{"case variant upper", `{"COUNT":1}`, Options{}, ErrCaseMismatch, "/COUNT"},
		{"trailing object", `{"count":1} {}`, Options{}, ErrTrailingData, ""},
		{"trailing garbage", `{"count":1}x`, Options{}, ErrTrailingData, ""},
		{"trailing comma", `{"count":1},`, Options{}, ErrTrailingData, ""},
		{"too deep", `{"future":` + deep(70) + `}`, Options{}, ErrTooDeep, ""},
		{"too deep arrays", strings.Repeat("[", 65) + strings.Repeat("]", 65), Options{}, ErrTooDeep, ""},
		{"too deep custom", `{"future":` + deep(5) + `}`, Options{MaxDepth: 4}, ErrTooDeep, ""},
		{"too large", `{"future":"` + strings.Repeat("a", 100) + `"}`, Options{MaxBytes: 64}, ErrTooLarge, ""},
		{"too large default", `{"future":"` + strings.Repeat("a", DefaultMaxBytes) + `"}`, Options{}, ErrTooLarge, ""},
		{"syntax", `{"count":1,}`, Options{}, ErrSyntax, ""},
		{"empty", ``, Options{}, ErrSyntax, ""},
		{"truncated", `{"count":`, Options{}, ErrSyntax, "/count"},
		{"control character", "{\"z\":\"\x01\"}", Options{}, ErrSyntax, "/z"},
		{"wrong kind", `{"count":"1"}`, Options{}, ErrInvalidValue, "/count"},
		{"fraction", `{"count":1.5}`, Options{}, ErrInvalidValue, "/count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o outer
			err := Unmarshal([]byte(tc.in), &o, tc.o)
			checkErr(t, err, tc.kind, tc.ptr)
		})
	}
	closedTests := []struct {
		name string
		in   string
		kind error
		ptr  string
	}{
		{"unknown top", `{"a":"x","z":1}`, ErrUnknownMember, "/z"},
		{"unknown nested", `{"sub":{"c":1,"d":2}}`, ErrUnknownMember, "/sub/d"},
		{"case variant", `{"A":"x"}`, ErrUnknownMember, "/A"},
		{"duplicate", `{"a":"x","a":"x"}`, ErrDuplicateKey, "/a"},
	}
	for _, tc := range closedTests {
		t.Run("closed "+tc.name, func(t *testing.T) {
			var c closed
			checkErr(t, Unmarshal([]byte(tc.in), &c, Options{RejectUnknown: true}), tc.kind, tc.ptr)
		})
	}
}

func checkErr(t *testing.T, err error, kind error, ptr string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err %T is not *Error", err)
	}
	if e.Pointer != ptr {
		t.Errorf("pointer %q, want %q (%v)", e.Pointer, ptr, err)
	}
	if len(err.Error()) > 400 {
		t.Errorf("message of %d bytes", len(err.Error()))
	}
}

// TestErrorDoesNotEchoInput checks that neither a huge member name nor a
// huge value ends up whole in an error message.
func TestErrorDoesNotEchoInput(t *testing.T) {
	long := strings.Repeat("A", 10000)
	for _, in := range []string{
		`{"` + long + `":1,"` + long + `":2}`,
		`{"count":` + strings.Repeat("9", 10000) + `}`,
		`{"count":"` + long + `"}`,
		`{"map":{"` + long + `":"a"}}`,
	} {
		var o outer
		err := Unmarshal([]byte(in), &o, Options{})
		if err == nil {
			t.Fatalf("%.40s accepted", in)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%.40s: message of %d bytes", in, len(err.Error()))
		}
	}
}

func TestDecode(t *testing.T) {
	var names []string
	fn := func(dec *jsontext.Decoder) error {
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for dec.PeekKind() != '}' {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			names = append(names, string(v))
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	}
	if err := Decode([]byte(`{"a":1,"b":[{}]}`), Options{}, fn); err != nil || strings.Join(names, ",") != `"a","b"` {
		t.Fatalf("%v %q", err, names)
	}
	for in, kind := range map[string]error{
		`{"a":1,"a":2}`:          ErrDuplicateKey,
		`{"a":{"b":1,"b":1}}`:    ErrDuplicateKey,
		"{\"a\":\"\xfe\"}":       ErrInvalidUTF8,
		`{"a":1}}`:               ErrTrailingData,
		`{"a":1`:                 ErrSyntax,
		`{"a":` + deepArr(80):    ErrTooDeep,
		`{"a":"\u00zz"}`:         ErrSyntax,
		strings.Repeat(" ", 100): ErrSyntax,
	} {
		names = nil
		if err := Decode([]byte(in), Options{}, fn); !errors.Is(err, kind) {
			t.Errorf("%.30q: err = %v, want %v", in, err, kind)
		}
	}
	// fn's own errors come back unchanged.
	mine := errors.New("mine")
	err := Decode([]byte(`{}`), Options{}, func(dec *jsontext.Decoder) error { return mine })
	if err != mine {
		t.Errorf("fn error: %v", err)
	}
}

func deepArr(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) + "}" }

func TestCheckDepth(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{strings.Repeat("[", 64) + strings.Repeat("]", 64), true},
		{strings.Repeat("[", 65) + strings.Repeat("]", 65), false},
		{`[` + strings.Repeat(`"[[[[",`, 100) + `1]`, true},
		{`[` + strings.Repeat(`"\"[[[[",`, 100) + `1]`, true},
		{`[` + strings.Repeat(`[],`, 200) + `1]`, true},
		{`{"a":"\\"` + strings.Repeat("[", 65), false},
	} {
		err := checkDepth([]byte(tc.in), 64)
		if (err == nil) != tc.ok {
			t.Errorf("%.40s: %v", tc.in, err)
		}
	}
}

func TestPointerField(t *testing.T) {
	for ptr, want := range map[string]string{
		"":                  "",
		"/keys/0/n":         "keys[0].n",
		"/tpm_quote/pcrs/3": "tpm_quote.pcrs[3]",
		"/a~1b/c~0d":        "a/b.c~d",
		"/0":                "[0]",
	} {
		if got := PointerField(ptr); got != want {
			t.Errorf("PointerField(%q) = %q, want %q", ptr, got, want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"keys":[{"n":"x","e":"AQAB"}],"count":3,"map":{"7":"a"}}`))
	f.Add([]byte(`{"keys":[{"n":"x","n":"y"}]}`))
	f.Add([]byte(`{"Keys":[],"future":{"a":[1,2,{"b":null}]}}`))
	f.Add([]byte("{\"count\":1}\x00"))
	f.Add([]byte(`{"a":"x","b":[1],"sub":{"c":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, o := range []Options{{}, {RejectUnknown: true, MaxDepth: 8, MaxBytes: 4096}} {
			var v outer
			err := Unmarshal(b, &v, o)
			var c closed
			err2 := Unmarshal(b, &c, o)
			for _, err := range []error{err, err2} {
				if err == nil {
					continue
				}
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Kind == nil {
					t.Fatalf("error %T %v is not a classified *Error", err, err)
				}
				if len(err.Error()) > 400 {
					t.Fatalf("message of %d bytes", len(err.Error()))
				}
			}
			if err == nil || err2 == nil {
				// Accepted input is one valid JSON value: no duplicates, valid UTF-8.
				if !jsontext.Value(b).IsValid() {
					t.Fatalf("accepted input that is not valid RFC 7493 JSON: %q", b)
				}
				if len(b) > o.maxBytes() || checkDepth(b, o.maxDepth()) != nil {
					t.Fatal("bounds not enforced")
				}
			}
		}
	})
}

// A member name of control characters quotes to several bytes a character;
// the message stays bounded and carries no raw control character.
func TestErrorMessageBounded(t *testing.T) {
	name := strings.Repeat(`\u0001`, 300)
	for _, in := range []string{
		`{"` + name + `":1}`,
		`{"sub":{"` + name + `":1}}`,
		`{"a":"x","` + strings.Repeat(`\u007f\u0080`, 200) + `":[1,]}`,
	} {
		var c closed
		err := Unmarshal([]byte(in), &c, Options{RejectUnknown: true})
		if err == nil {
			t.Fatalf("%.40q accepted", in)
		}
		msg := err.Error()
		if len(msg) > 400 {
			t.Errorf("message of %d bytes: %.80q", len(msg), msg)
		}
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("message carries a control character: %.80q", msg)
		}
	}
	e := &Error{Kind: ErrSyntax, Pointer: strings.Repeat("\x01", 1000), Offset: -1, Detail: strings.Repeat("\x1b[31m", 1000)}
	if msg := e.Error(); len(msg) > 400 || strings.ContainsRune(msg, 0x1b) {
		t.Errorf("hand-made Error: %d bytes: %.80q", len(msg), msg)
	}
}

// oracle decides data as the package documentation says, with
// encoding/json (v1, another implementation) for the grammar: one valid
// JSON value, valid UTF-8, no \u escape of a lone surrogate (which v1
// turns into U+FFFD), no member name twice in an object once unescaped
// ("\u0071uote" is "quote"), within o's bounds. It returns v1's value
// (numbers as json.Number) of an accepted input.
func oracle(data []byte, o Options) (any, bool) {
	if len(data) > o.maxBytes() || !stdjson.Valid(data) || !utf8.Valid(data) || loneSurrogate(data) {
		return nil, false
	}
	dec := stdjson.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, ok := oracleValue(dec, 1, o.maxDepth())
	return v, ok
}

// oracleValue reads one value of dec nested depth deep, failing on a
// duplicate member name or nesting deeper than max.
func oracleValue(dec *stdjson.Decoder, depth, max int) (any, bool) {
	tok, err := dec.Token()
	if err != nil {
		return nil, false
	}
	d, isDelim := tok.(stdjson.Delim)
	if !isDelim {
		return tok, true
	}
	if depth > max {
		return nil, false
	}
	if d == '[' {
		arr := []any{}
		for dec.More() {
			v, ok := oracleValue(dec, depth+1, max)
			if !ok {
				return nil, false
			}
			arr = append(arr, v)
		}
		_, err := dec.Token()
		return arr, err == nil
	}
	obj := map[string]any{}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if _, dup := obj[name.(string)]; dup {
			return nil, false
		}
		v, ok := oracleValue(dec, depth+1, max)
		if !ok {
			return nil, false
		}
		obj[name.(string)] = v
	}
	_, err = dec.Token()
	return obj, err == nil
}

// loneSurrogate reports whether a string of data (valid JSON) escapes a
// UTF-16 surrogate that is not half of a high-low pair.
func loneSurrogate(data []byte) bool {
	surrogate := func(i int) (v uint64, ok bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return v, err == nil && v >= 0xD800 && v <= 0xDFFF
	}
	for i, inString := 0, false; i < len(data); i++ {
		switch {
		case data[i] == '"':
			inString = !inString
		case inString && data[i] == '\\':
			hi, ok := surrogate(i)
			if !ok {
				i++ // the escaped character
				continue
			}
			if lo, ok := surrogate(i + 6); hi > 0xDBFF || !ok || lo < 0xDC00 {
				return true
			}
			i += 11
		}
	}
	return false
}

// decodedValue reads one value of dec as oracleValue gives it.
func decodedValue(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case 'n':
		return nil, nil
	case 't', 'f':
		return tok.Bool(), nil
	case '"':
		return tok.String(), nil
	case '0':
		return stdjson.Number(tok.String()), nil
	case '[':
		arr := []any{}
		for dec.PeekKind() != ']' {
			v, err := decodedValue(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.ReadToken()
		return arr, err
	}
	obj := map[string]any{}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if obj[name.String()], err = decodedValue(dec); err != nil {
			return nil, err
		}
	}
	_, err = dec.ReadToken()
	return obj, err
}

// FuzzDifferential holds Decode and the Scanner to an oracle on
// encoding/json: Decode accepts exactly what the oracle accepts, with the
// same value; whatever the Scanner reads whole, the oracle accepts.
func FuzzDifferential(f *testing.F) {
	for _, s := range []string{
		`{"quote":1,"\u0071uote":2}`, `{"quote":1,"Quote":2}`, `{"a":{"b":1,"b":1}}`, `{"\u00e9":1,"é":2}`,
		"\xef\xbb\xbf{}", "{}\x00", `{} {}`, "{}\n\t ", `{}x`, `[1,]`, "\"\xff\"", "\"\xed\xa0\x80\"",
		`"\ud800"`, `"\udc00\ud800"`, `"\ud83d\ude00"`, `"\ud800\u0041"`, `"\\ud800"`, `"\\\ud800"`,
		`-0`, `1e2`, `01`, `1.0`, `1.`, `.5`, `+1`, `1e400`, `-1E-400`, `123456789012345678901234567890`,
		`[256,-1,1.0,1e2]`, `null`, `""`, `{"a":null}`, `[[[[[[[[[]]]]]]]]]`, `{"a":[{"a":[{"a":1}]}]}`,
		`"\u0000"`, "\"\x01\"", `"\/\b\f\n\r\t\"\\"`, `"\x"`, `"\u00zz"`, `tru`, `nulll`, "\u00a0{}",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8) {
		o := Options{MaxDepth: int(depth % 8)}
		want, ok := oracle(data, o)
		var got any
		err := Decode(data, o, func(dec *jsontext.Decoder) error {
			var err error
			got, err = decodedValue(dec)
			return err
		})
		switch {
		case ok && err != nil:
			t.Fatalf("oracle accepts %q, Decode: %v", data, err)
		case !ok && err == nil:
			t.Fatalf("oracle rejects %q, Decode accepts it", data)
		case ok && !reflect.DeepEqual(got, want):
			t.Fatalf("%q: Decode gives %#v, encoding/json %#v", data, got, want)
		}
		if _, scanned := scanAll(data, o); scanned && !ok {
			t.Fatalf("oracle rejects %q, the Scanner reads it whole", data)
		}
	})
}

// TestBytesCanonical: a []byte member is standard padded base64 in its
// one form, as encoding/json/v2 reads it but without its leniency for
// non-zero bits after the last byte ("AR==" was 0x01, like "AQ=="); null
// is nil, "" an empty slice, other kinds and alphabets an error.
func TestBytesCanonical(t *testing.T) {
	type doc struct {
		B []byte `json:"b"`
	}
	for in, want := range map[string][]byte{`"AQ=="`: {1}, `"/w=="`: {0xff}, `"AQID"`: {1, 2, 3}, `""`: {}, `"\u0041Q=="`: {1}} {
		var d doc
		if err := Unmarshal([]byte(`{"b":`+in+`}`), &d, Options{}); err != nil || !bytes.Equal(d.B, want) || d.B == nil {
			t.Errorf("%s: %x, %v; want %x", in, d.B, err, want)
		}
	}
	var d doc
	if err := Unmarshal([]byte(`{"b":null}`), &d, Options{}); err != nil || d.B != nil {
		t.Errorf("null: %x, %v; want nil", d.B, err)
	}
	for _, in := range []string{`"AR=="`, `"AQJ="`, `"AQ"`, `"AQ="`, `"_w=="`, `"A\nQ=="`, `"AQ==\r\n"`, `1`, `[1]`} {
		var d doc
		if err := Unmarshal([]byte(`{"b":`+in+`}`), &d, Options{}); !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s: %x, %v; want ErrInvalidValue", in, d.B, err)
		}
	}
}

// TestSignedIntSpelling: a signed integer member is read as the v2 default
// reads it (no fraction, exponent or out-of-range value), except that -0,
// which the default took for 0, is refused: one value, one spelling. The
// messages keep the default's form ("JSON number for Go int64: ...").
func TestSignedIntSpelling(t *testing.T) {
	type doc struct {
		I   int    `json:"i"`
		I64 int64  `json:"i64"`
		P   *int   `json:"p"`
		U   uint8  `json:"u"`
		S   string `json:"s"`
	}
	var d doc
	if err := Unmarshal([]byte(`{"i":-7,"i64":9223372036854775807,"p":0,"u":0,"s":"-0"}`), &d, Options{}); err != nil ||
		d.I != -7 || d.I64 != 1<<63-1 || d.P == nil || *d.P != 0 || d.S != "-0" {
		t.Fatalf("%+v, %v", d, err)
	}
	for in, msg := range map[string]string{
		`{"i":-0}`:   "JSON number for Go int: -0 is not how an integer is written",
		`{"i64":-0}`: "JSON number for Go int64: -0",
		`{"p":-0}`:   "JSON number for Go int: -0",
		`{"i":1.0}`:  "JSON number for Go int: invalid syntax",
		// A number an integer field cannot take names the range it can.
		`{"u":-1}`:                    "invalid syntax (want a whole number from 0 to 255)",
		`{"u":256}`:                   "value out of range (want a whole number from 0 to 255)",
		`{"u":1.5}`:                   "(want a whole number from 0 to 255)",
		`{"i64":1e0}`:                 "JSON number for Go int64: invalid syntax",
		`{"i":-0.0}`:                  "JSON number for Go int: invalid syntax",
		`{"i64":9223372036854775808}`: "JSON number for Go int64: value out of range (want a whole number from -9223372036854775808 to 9223372036854775807)",
		`{"i":"1"}`:                   "JSON string for Go int",
		`{"u":-0}`:                    "JSON number for Go uint8",
	} {
		var d doc
		err := Unmarshal([]byte(in), &d, Options{})
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want ErrInvalidValue saying %q", in, err, msg)
		}
	}
}
