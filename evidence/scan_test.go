package evidence

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// decodeSlow is Decode without its fast path: json.Valid, parseWire, decode.
func decodeSlow(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fieldErr("document", ErrTooLarge)
	}
	if !json.Valid(b) {
		return nil, fieldErr("document", ErrBadJSON)
	}
	w, err := parseWire(b)
	if err != nil {
		return nil, err
	}
	return decodeWire(w, nil)
}

// checkFastPath checks the fast path's contract on b: it accepts only what
// json.Valid accepts, splits it as parseWire does, and Decode gives what
// the slow path gives.
func checkFastPath(t *testing.T, b []byte) {
	t.Helper()
	w, ok := scanWire(b)
	if ok {
		if !json.Valid(b) {
			t.Fatalf("scanWire accepts invalid JSON %q", trunc(b))
		}
		slow, err := parseWire(b)
		if err != nil {
			t.Fatalf("scanWire accepts %q, parseWire fails: %v", trunc(b), err)
		}
		if !reflect.DeepEqual(&w, slow) {
			t.Fatalf("scanWire and parseWire differ on %q:\n%+v\n%+v", trunc(b), w, *slow)
		}
	}
	got, gotErr := Decode(b)
	want, wantErr := decodeSlow(b)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Decode(%q) error %v, slow path %v", trunc(b), gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) differs from the slow path", trunc(b))
	}
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func TestScanWireMatchesSlowPath(t *testing.T) {
	docs := [][]byte{
		[]byte(`{"version":1,"x":{"a":[1,-2.5e+3,true,false,null,"\u00e9\n\"",{}],"b":[]},"tpm_quote":null}`),
		[]byte(` {"quote":{"signature":[1],"message":[2],"pcrs":[[0]],"other":{"k":[0.1E-2]}},"report":[1,2,3],"vcek":""} `),
		[]byte(`{"version":2,"tpm_quote":{"signature":"00","message":"00","pcrs":[]},"hcl_report":"AA=="}`),
		[]byte(`{"version":1,"version":2}`), []byte(`{"quote":1}`), []byte(`{"tpm_quote":{"pcrs":1,"pcrs":2}}`),
		[]byte(`{"ver\u0073ion":1}`), []byte(`{}`), []byte(`[]`), []byte(`{"a":01}`), []byte(`{"a":1.}`),
		[]byte(`{"a":-}`), []byte(`{"a":"\x"}`), []byte("{\"a\":\"\x01\"}"), []byte("{\"a\":\"\xff\"}"),
		[]byte(`{"a":tru}`), []byte(`{"a":nul}`), []byte(`{"a":[1,]}`), []byte(`{"a":{"b":1,}}`), []byte(`{"a":1}x`),
		[]byte(`{"a":"\ud800"}`), []byte(`{"a":"\u12"}`), []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)),
		[]byte(`{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`),
		[]byte(`{"tpm_quote":{"signature":"00","x":` + strings.Repeat("{\"a\":", 70) + "1" + strings.Repeat("}", 70) + `}}`),
	}
	for _, g := range goldens {
		docs = append(docs, readFile(t, g.file))
	}
	for _, d := range docs {
		for l := 0; l <= len(d); l++ {
			if len(d) > 300 && l%97 != 0 && l != len(d) {
				continue
			}
			checkFastPath(t, d[:l])
		}
	}
	// Random single-byte changes of real evidence.
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte(`"\{}[],:0-+.eEtfnu ` + "\x00\x1f\x7f\xff")
	for _, g := range goldens {
		d := readFile(t, g.file)
		for range 300 {
			m := append([]byte(nil), d...)
			m[rng.IntN(len(m))] = special[rng.IntN(len(special))]
			checkFastPath(t, m)
		}
	}
}

func FuzzScanWire(f *testing.F) {
	for _, g := range goldens {
		f.Add(readFile(f, g.file))
	}
	f.Add([]byte(`{"version":1,"x":{"a":[1,-2.5e+3,true,false,null,"\u00e9\n\""]},"tpm_quote":null}`))
	f.Add([]byte(`{"quote":{"signature":[1],"message":[2],"pcrs":[[0]]},"report":[1,2,3],"vcek":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFastPath(t, b)
	})
}

// skipStringRef is the byte-by-byte definition of skipString.
func skipStringRef(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return i, false
}

func TestSkipStringMatchesByteScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`"\\ab`)
	for range 200000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		for i := 0; i <= len(b); i++ {
			e1, ok1 := skipString(b, i)
			e2, ok2 := skipStringRef(b, i)
			if e1 != e2 || ok1 != ok2 {
				t.Fatalf("skipString(%q, %d) = %d, %v; byte scan %d, %v", b, i, e1, ok1, e2, ok2)
			}
		}
	}
}
