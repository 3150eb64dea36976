package evidence

import (
	"bytes"
	"testing"
)

// The scanning helpers are only given valid JSON by Decode, but they must
// not panic or loop on anything: feed them every prefix of tricky inputs.
func TestJSONHelpersOnMalformedInput(t *testing.T) {
	inputs := []string{
		`{"a":[1,2,{"b":"c\"]}"}],"d":null,"e":"\\","f":{}}`,
		`[ [1, 2] , "x\"y" , {"k": [3]} , 4 ]`,
		`{"quote":{"signature":[1],"message":"00","pcrs":[]}, "x" : true}`,
		`[1,2,255,256,-1,1.5,01]`,
		`"abc\u0030"`,
		`{"k" 1}`, `{1:2}`, `{"k":1 "j":2}`, `[1 2]`, `[,]`, `]`, `}`, `"`,
	}
	for _, in := range inputs {
		b := []byte(in)
		for l := 0; l <= len(b); l++ {
			p := b[:l]
			_ = walkObject(p, "x", func(k, v []byte) error { return nil })
			_, _ = splitArray(p, "x", 24)
			_, _ = byteArray(p, "x", 100)
			_, _ = stringValue(p, "x")
			_, _ = hexString(p, "x", 100)
			_, _ = b64String(p, "x", 100)
			_, _ = pemCertificate(p, "x", 100)
			for i := 0; i <= len(p); i++ {
				if end, _ := skipValue(p, i); end < i || end > len(p)+1 {
					t.Fatalf("skipValue(%q, %d) = %d", p, i, end)
				}
			}
			_, _ = Decode(p)
			_, _ = DecodeQuoteJSON(p)
		}
	}
}

func TestSplitArray(t *testing.T) {
	got, err := splitArray([]byte(` [ "a,]" , [1,[2]] ,{"x":"]"}, 3 ]`[1:]), "x", 10)
	want := []string{`"a,]"`, `[1,[2]]`, `{"x":"]"}`, `3`}
	if err != nil || len(got) != len(want) {
		t.Fatalf("got %q, %v", got, err)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	for _, bad := range []string{`[]x`, `[1]x`, `[1,]`, `[1`} {
		if _, err := splitArray([]byte(bad), "x", 10); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got, err := splitArray([]byte(`[]`), "x", 0); err != nil || len(got) != 0 {
		t.Errorf("empty: %q %v", got, err)
	}
}

func TestByteArray(t *testing.T) {
	for in, want := range map[string][]byte{
		`[]`:              {},
		`[0]`:             {0},
		`[ 255 , 0,1 ]`:   {255, 0, 1},
		"[\n1,\r\n\t2\n]": {1, 2},
	} {
		got, err := byteArray([]byte(in), "x", 10)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{`[256]`, `[01]`, `[1,]`, `[1`, `1`, `[1]x`, `[ ]x`, `[1,2,3,4,5,6,7,8,9,10,11]`} {
		if got, err := byteArray([]byte(in), "x", 10); err == nil {
			t.Errorf("%q accepted: %v", in, got)
		}
	}
}
