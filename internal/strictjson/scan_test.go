package strictjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// scanAll reads data whole with a Scanner and returns the value's text.
func scanAll(data []byte, o Options) ([]byte, bool) {
	s := NewScanner(data, o)
	v := s.Skip(1)
	return v, s.End()
}

// decodeAll reads data whole with Decode and returns the value's text.
func decodeAll(data []byte, o Options) ([]byte, error) {
	var v jsontext.Value
	err := Decode(data, o, func(dec *jsontext.Decoder) error {
		var err error
		v, err = dec.ReadValue()
		return err
	})
	return v, err
}

// TestScannerAccepts: the shapes a hot path reads are read whole, not
// handed to the decoder.
func TestScannerAccepts(t *testing.T) {
	for _, in := range []string{
		`{}`, ` [] `, `"é\n\u00e9\"\\"`, `-0.5e+10`, `0`, `true`, `false`, `null`,
		`{"a":[1,2,{"b":null}],"c":"x","d":{"a":1}}`,
		"\t{\r\n\"version\" : 1 , \"x\":[ ]}\n",
		`{"a":"` + strings.Repeat("QUJD", 3000) + `"}`,
		strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth),
	} {
		v, ok := scanAll([]byte(in), Options{})
		if !ok {
			t.Errorf("%.60q: scanner gave up", in)
			continue
		}
		if want, err := decodeAll([]byte(in), Options{}); err != nil || !bytes.Equal(v, want) {
			t.Errorf("%.60q: scanner %q, decoder %q, %v", in, v, want, err)
		}
	}
}

// TestScannerGivesUp: every kind of problem, and the shapes the scanner
// leaves to the decoder, make it give up.
func TestScannerGivesUp(t *testing.T) {
	names := make([]string, MaxScanNames+1)
	for i := range names {
		names[i] = `"n` + strings.Repeat("x", i) + `":0`
	}
	for _, in := range []string{
		``, ` `, `{"a":1,"a":2}`, `[{"b":{"a":1,"a":2}}]`, "\"\xff\"", "{\"\xc3\":1}", "\"\x01\"",
		`"\ud800"`, `"\ud83d\ude00"`, `{"\u0061":1}`, `{"a":1}x`, `{"a":1} {}`, `[1,]`, `{"a"}`,
		`01`, `1.`, `1e`, `-`, `+1`, `tru`, `nul`, `{"a":1,}`, `[1 2]`, `"\x"`, `"\u12"`,
		strings.Repeat("[", DefaultMaxDepth+1) + strings.Repeat("]", DefaultMaxDepth+1),
		`{` + strings.Join(names, ",") + `}`,
	} {
		if _, ok := scanAll([]byte(in), Options{}); ok {
			t.Errorf("%.60q: scanner accepted", in)
		}
	}
	if _, ok := scanAll([]byte(`[[[]]]`), Options{MaxDepth: 2}); ok {
		t.Error("depth bound not applied")
	}
	if _, ok := scanAll([]byte(`"abcdef"`), Options{MaxBytes: 5}); ok {
		t.Error("size bound not applied")
	}
}

// TestScannerArray: Array reads each element through fn, returns the
// array's text, and applies the depth bound to the array itself.
func TestScannerArray(t *testing.T) {
	s := NewScanner([]byte(` [1, "a" ,[]] `), Options{MaxDepth: 2})
	var elems []string
	text := s.Array(1, func() { elems = append(elems, string(s.Skip(2))) })
	if !s.End() || string(text) != `[1, "a" ,[]]` || strings.Join(elems, "|") != `1|"a"|[]` {
		t.Errorf("Array: %q, elements %q, ok %v", text, elems, s.OK())
	}
	for _, c := range []struct {
		in    string
		depth int
	}{{`{}`, 1}, {`[1 2]`, 1}, {`[]`, 3}, {`[[]]`, 2}} {
		s := NewScanner([]byte(c.in), Options{MaxDepth: 2})
		if text := s.Array(c.depth, func() { s.Skip(c.depth + 1) }); text != nil || s.OK() {
			t.Errorf("Array(%d) of %q: %q, ok %v", c.depth, c.in, text, s.OK())
		}
	}
}

// TestScannerCursor: Cursor shows the next value after white space, Seek
// moves only forward within the input, and both are inert once given up.
func TestScannerCursor(t *testing.T) {
	in := []byte(`[ 12 , 3]`)
	s := NewScanner(in, Options{})
	s.Array(1, func() {
		d, i := s.Cursor()
		if &d[0] != &in[0] || (i != 2 && i != 7) {
			t.Errorf("Cursor: %d", i)
		}
		s.Seek(numberEnd(d, i))
	})
	if !s.End() {
		t.Fatal("Seek past numbers: scanner gave up")
	}
	for _, seek := range []int{1, 2, len(in) + 1} {
		s := NewScanner(in, Options{})
		s.Peek()
		s.Seek(2)
		if s.Seek(seek); s.OK() {
			t.Errorf("Seek(%d) from 2 accepted", seek)
		}
		if d, i := s.Cursor(); d != nil || i != 0 {
			t.Errorf("Cursor once given up: %q, %d", d, i)
		}
	}
}

// FuzzScanner: whatever the Scanner reads whole, Decode accepts under the
// same options, with the same value text.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"b":null}],"c":"x\u00e9"}`, `{"a":1,"a":2}`, `[[[[]]]]`, "\"\xff\"", `"\ud83d\ude00"`,
		`{"a":1} `, `-1.5E-3`, `{"b":{},"a":{"b":[true,false]}}`,
	} {
		f.Add([]byte(s), uint8(0), uint16(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, depth uint8, size uint16) {
		o := Options{MaxDepth: int(depth % 8), MaxBytes: int(size)}
		v, ok := scanAll(data, o)
		if !ok {
			return
		}
		want, err := decodeAll(data, o)
		if err != nil {
			t.Fatalf("scanner accepted %q, decoder: %v", data, err)
		}
		if !bytes.Equal(v, want) {
			t.Fatalf("scanner %q, decoder %q", v, want)
		}
	})
}
