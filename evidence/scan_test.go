package evidence

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// scanAgrees checks the fast path against the strict decoder on b: when
// scanWire accepts, readWireStrict must accept and read the same wire.
// It reports whether the fast path accepted.
func scanAgrees(t *testing.T, b []byte) bool {
	t.Helper()
	var fast, strict wire
	if !scanWire(b, nil, &fast) {
		return false
	}
	if err := readWireStrict(b, nil, &strict); err != nil {
		t.Fatalf("fast path accepted what the strict decoder rejects (%v): %.200q", err, b)
	}
	// The text of "pcrs" is recorded by the fast path alone (for a
	// Decoder's memory).
	for _, q := range []*wireQuote{fast.quote, fast.tpmQuote} {
		if q != nil && q.pcrs.kind == '[' {
			q.pcrs.raw = nil
		}
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("fast path read another wire than the strict decoder: %.200q\nfast   %.500s\nstrict %.500s", b, fmt.Sprintf("%+v", fast), fmt.Sprintf("%+v", strict))
	}
	return true
}

// Every real evidence file takes the fast path, as do its indented and
// compacted forms.
func TestScanRealEvidence(t *testing.T) {
	for _, g := range goldens {
		data := testutil.ReadFile(t, g.file)
		if !scanAgrees(t, data) {
			t.Errorf("%s: fast path gave up on real evidence", g.file)
		}
	}
}

// The fast path gives up on everything the strict decoder rejects, and on
// what it is unsure of; the strict decoder then decides.
func TestScanGivesUp(t *testing.T) {
	base := `{"version":1,"tpm_quote":{"signature":"00","message":"00","pcrs":["00"]},"hcl_report":"AA==","vcek":"x"}`
	for name, doc := range map[string]string{
		"duplicate top":          `{"version":1,"version":1}`,
		"duplicate unknown":      `{"x":1,"x":2}`,
		"duplicate nested":       `{"x":{"a":1,"a":2}}`,
		"duplicate in quote":     `{"tpm_quote":{"pcrs":[],"pcrs":[]}}`,
		"case clash":             `{"Version":1}`,
		"case clash in quote":    `{"tpm_quote":{"PCRs":[]}}`,
		"escaped name":           `{"vers\u0069on":1}`,
		"trailing data":          base + `x`,
		"second value":           base + `{}`,
		"trailing comma":         `{"version":1,}`,
		"trailing comma array":   `{"report":[1,]}`,
		"leading comma array":    `{"report":[,1]}`,
		"missing comma":          `{"report":[1 2]}`,
		"bad utf-8":              "{\"vcek\":\"\xff\"}",
		"bad utf-8 name":         "{\"\xc0\x80\":1}",
		"surrogate in utf-8":     "{\"vcek\":\"\xed\xa0\x80\"}",
		"lone surrogate escape":  `{"vcek":"\ud800"}`,
		"control character":      "{\"vcek\":\"a\x01\"}",
		"bad escape":             `{"vcek":"\x41"}`,
		"short unicode escape":   `{"vcek":"\u12"}`,
		"byte out of range":      `{"report":[256]}`,
		"byte fraction":          `{"report":[1.0]}`,
		"byte exponent":          `{"report":[1e2]}`,
		"byte negative":          `{"report":[-1]}`,
		"byte string":            `{"report":["1"]}`,
		"too many pcr bytes":     `{"quote":{"pcrs":[[` + strings.Repeat("0,", PCRSize) + `0]]}}`,
		"too many pcrs":          `{"tpm_quote":{"pcrs":[` + strings.Repeat(`"00",`, MaxPCRs) + `"00"]}}`,
		"quote not an object":    `{"tpm_quote":[]}`,
		"number leading zero":    `{"x":01}`,
		"number bare minus":      `{"x":-}`,
		"number bare fraction":   `{"x":1.}`,
		"number bare exponent":   `{"x":1e}`,
		"bad literal":            `{"x":nul}`,
		"too deep":               `{"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		"too deep in version":    `{"version":` + nested(64) + `}`,
		"too deep in a quote":    `{"quote":{"x":` + nested(63) + `}}`,
		"too deep in a pcr":      `{"tpm_quote":{"pcrs":[{"a":` + nested(61) + `}]}}`,
		"not an object":          `[]`,
		"empty":                  ``,
		"unterminated string":    `{"vcek":"abc`,
		"unterminated object":    `{"version":1`,
		"many unknown names":     manyNames(strictjson.MaxScanNames + 1),
		"duplicate of the first": strings.TrimSuffix(manyNames(strictjson.MaxScanNames-1), "}") + `,"m":2}`,
		"too large":              `{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`,
		"single quotes":          `{'version':1}`,
		"unquoted name":          `{version:1}`,
		"colon missing":          `{"version" 1}`,
		"byte array in scalar":   `{"version":[1,2]]}`,
		"object close in array":  `{"report":[1}`,
		"array close in object":  `{"version":1]`,
		"nested unknown garbage": `{"x":{"a":[1,{"b":tru}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			var w wire
			if scanWire([]byte(doc), nil, &w) {
				t.Fatalf("fast path accepted %.100q", doc)
			}
			scanAgrees(t, []byte(doc)) // and the strict decoder decides
		})
	}
}

// What the fast path accepts, it reads as the strict decoder does.
func TestScanAccepts(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":           `{}`,
		"spaces":          " \t\r\n{ \"version\" : 1 , \"hcl_report\" : \"AA==\" } \n",
		"nulls":           `{"version":null,"quote":null,"tpm_quote":null,"report":null,"vcek":null}`,
		"null pcrs":       `{"tpm_quote":{"pcrs":null}}`,
		"null pcr":        `{"tpm_quote":{"pcrs":[null,"00"]}}`,
		"scalar pcrs":     `{"tpm_quote":{"pcrs":"00"}}`,
		"empty arrays":    `{"report":[],"quote":{"pcrs":[[]],"signature":[]}}`,
		"byte arrays":     `{"report":[0,1,9,10,99,100,255],"quote":{"pcrs":[[0,255]]}}`,
		"escapes":         `{"vcek":"-----BEGIN\n\"\\\/\b\f\r\t\u0041\u00e9\uFFFF"}`,
		"utf-8":           `{"vcek":"é€😀"}`,
		"unknown values":  `{"x":{"a":[1,-2.5e+3,0.0,1E-2,true,false,null,"s",{}],"b":{}},"y":[]}`,
		"numbers":         `{"version":-0,"x":123456789012345678901234567890}`,
		"kinds":           `{"version":"1","report":"AA","hcl_report":{"a":1},"vcek":true,"td_quote":false,"event_log":12}`,
		"many names":      manyNames(strictjson.MaxScanNames),
		"nested case":     `{"x":{"Version":1,"PCRs":[]},"tpm_quote":{"x":{"Pcrs":1}}}`,
		"deepest unknown": `{"x":` + nested(63) + `}`,
		"deepest version": `{"version":` + nested(63) + `}`,
		"deepest quote":   `{"quote":{"signature":{"a":` + nested(61) + `}}}`,
		"deepest pcr":     `{"tpm_quote":{"pcrs":[{"a":` + nested(60) + `}]}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if !scanAgrees(t, []byte(doc)) {
				t.Fatalf("fast path gave up on %.100q", doc)
			}
		})
	}
}

// nested is n arrays, one inside the other: a value n deep.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// manyNames is an object of n distinct unknown members.
func manyNames(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString("}")
	return b.String()
}

// FuzzScanWire holds the fast path to the strict decoder on any input.
func FuzzScanWire(f *testing.F) {
	for _, g := range goldens {
		f.Add(testutil.ReadFile(f, g.file))
	}
	f.Add([]byte(`{"quote":{"signature":[1],"message":[2],"pcrs":[[0,0]]},"report":[1,2,3],"vcek":""}`))
	f.Add([]byte(`{"x":{"a":[1,-2.5e+3,true,null,"\u00e9"]},"version":2,"tpm_quote":{"pcrs":[null,"00"]}}`))
	f.Add([]byte(manyNames(strictjson.MaxScanNames)))
	f.Add([]byte(`{"quote":{"pcrs":[[1],{"a":` + nested(60) + `}],"x":{"Pcrs":[]}},"Version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scanAgrees(t, b)
		// The same document, indented, must take the same path.
		if i := bytes.IndexByte(b, ','); i > 0 {
			spaced := append(append(bytes.Clone(b[:i+1]), "\n\t "...), b[i+1:]...)
			scanAgrees(t, spaced)
		}
	})
}
