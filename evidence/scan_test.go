package evidence

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/quote"
)

// checkFastPath checks the fast path's contract on b: it accepts only what
// json.Valid accepts, splits it as parseWire does, and Decode gives what
// the slow path gives.
func checkFastPath(t *testing.T, b []byte) {
	t.Helper()
	w, ok := scanWire(b, nil)
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
	want, wantErr := decodeSlow(b)
	got, gotErr := Decode(b)
	sameResult(t, "Decode", b, got, gotErr, want, wantErr)
	// A Decoder, knowing b's fields or not (a fresh one keeps fuzzing
	// deterministic), and one that remembers what every test decoded.
	d := NewDecoder(8, 1<<20)
	for range 2 {
		got, gotErr = d.Decode(b)
		sameResult(t, "Decoder.Decode", b, got, gotErr, want, wantErr)
	}
	if !testing.Short() {
		got, gotErr = testDecoder.Decode(b)
		sameResult(t, "Decoder.Decode", b, got, gotErr, want, wantErr)
	}
}

// testDecoder remembers what every test decoded.
var testDecoder = NewDecoder(1000, 1<<24)

func sameResult(t *testing.T, name string, b []byte, got *Evidence, gotErr error, want *Evidence, wantErr error) {
	t.Helper()
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("%s(%q) error %v, slow path %v", name, trunc(b), gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s(%q) differs from the slow path", name, trunc(b))
	}
}

// TestDecoderMemory checks the Decoder on documents whose HCL report and
// VCEK text it remembers, in other places and with other neighbours.
func TestDecoderMemory(t *testing.T) {
	v1 := readFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	e, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testDecoder.Decode(v1); err != nil {
		t.Fatal(err)
	}
	var w map[string]json.RawMessage
	if err := json.Unmarshal(v1, &w); err != nil {
		t.Fatal(err)
	}
	hclTok, vcekTok := string(w["hcl_report"]), string(w["vcek"])
	quote := string(w["tpm_quote"])
	docs := []string{
		string(v1),
		`{"version":2,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + vcekTok + `,"vcek":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `,"hcl_report":` + hclTok + `}`,
		`{"version":3,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `}x`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok[:len(hclTok)-1] + `\u0041"` + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok[:len(hclTok)-1] + `,"vcek":` + vcekTok + `}`,
		`{"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"td_quote":` + vcekTok + `}`,
		`{"quote":` + quote + `,"report":` + hclTok + `,"vcek":` + vcekTok + `}`,
	}
	for _, d := range docs {
		checkFastPath(t, []byte(d))
	}
	// The memory's bytes are what Decode gives.
	got, err := testDecoder.Decode(v1)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("remembered decode differs: %v", err)
	}
}

func TestDecoderBounds(t *testing.T) {
	d := NewDecoder(3, 1<<20)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: []byte{byte(i), 1, 2}, VCEK: []byte{byte(i), 3},
			Quote: smallQuote()}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Decode(b); err != nil {
			t.Fatal(err)
		}
		if n := len(d.m.m); n > 3 {
			t.Fatalf("%d entries", n)
		}
	}
	d = NewDecoder(100, 100)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: bytes.Repeat([]byte{byte(i)}, 30), Quote: smallQuote()}
		b, _ := e.Encode()
		if _, err := d.Decode(b); err != nil {
			t.Fatal(err)
		}
		if d.m.bytes > 100 {
			t.Fatalf("%d bytes", d.m.bytes)
		}
	}
}

func smallQuote() quote.Quote {
	return quote.Quote{Signature: []byte{1}, Message: []byte{2}, PCRs: [][]byte{make([]byte, PCRSize)}}
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
	// Run with -short when fuzzing: testDecoder's memory makes results
	// depend on earlier inputs, which defeats the fuzzer's minimisation.
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
