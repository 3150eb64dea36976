package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestDecodeStrictJSON: every class of malformed JSON is rejected, at the top
// level, nested, and inside members the decoder otherwise ignores.
func TestDecodeStrictJSON(t *testing.T) {
	v1 := string(marshal(t, validV1()))
	body := v1[1 : len(v1)-1] // the members, without braces
	tests := []struct {
		name  string
		in    string
		field string
		kind  error
	}{
		{"duplicate top level", `{` + body + `,"hcl_report":"AQ=="}`, "hcl_report", strictjson.ErrDuplicateKey},
		{"duplicate escaped", `{` + body + `,"hcl_\u0072eport":"AQ=="}`, "hcl_report", strictjson.ErrDuplicateKey},
		{"duplicate in quote", `{"version":1,"tpm_quote":{"signature":"00","signature":"00"}}`, "tpm_quote.signature", strictjson.ErrDuplicateKey},
		{"duplicate unknown", `{"x":1,` + body + `,"x":2}`, "x", strictjson.ErrDuplicateKey},
		{"duplicate inside unknown", `{` + body + `,"future":{"a":[{"k":1,"k":1}]}}`, "future.a[0].k", strictjson.ErrDuplicateKey},
		{"duplicate inside unknown of quote", `{"version":1,"tpm_quote":{"x":{"y":1,"y":1}}}`, "tpm_quote.x.y", strictjson.ErrDuplicateKey},
		{"invalid UTF-8 in unknown string", "{" + body + ",\"note\":\"\xff\"}", "note", strictjson.ErrInvalidUTF8},
		{"invalid UTF-8 in hcl_report", "{\"version\":1,\"hcl_report\":\"AQ\xc0\"}", "hcl_report", strictjson.ErrInvalidUTF8},
		{"invalid UTF-8 in key", "{" + body + ",\"k\xe2\x28\xa1\":1}", "document", strictjson.ErrInvalidUTF8},
		{"trailing object", v1 + ` {}`, "document", strictjson.ErrTrailingData},
		{"trailing garbage", v1 + `x`, "document", strictjson.ErrTrailingData},
		{"too deep unknown", `{` + body + `,"x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "document", strictjson.ErrTooDeep},
		{"case variant", `{` + body + `,"Hcl_Report":"AQ=="}`, "hcl_report", strictjson.ErrCaseMismatch},
		{"syntax", `{` + body + `,}`, "document", strictjson.ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, dec := range []func([]byte) (*Evidence, error){Decode, NewDecoder(8, 1<<20).Decode} {
				_, err := dec([]byte(tc.in))
				fe, ok := errors.AsType[*FormatError](err)
				if !ok || !errors.Is(err, tc.kind) || fe.Field != tc.field {
					t.Fatalf("err = %v, want %v in %q", err, tc.kind, tc.field)
				}
				if tc.kind != strictjson.ErrCaseMismatch && !errors.Is(err, format.ErrBadJSON) {
					t.Errorf("%v does not wrap format.ErrBadJSON", err)
				}
			}
		})
	}
	// Too large: the evidence bound, before any decoding.
	_, err := Decode([]byte(`{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`))
	if !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// DecodeQuoteJSON uses the same decoder.
	for in, kind := range map[string]error{
		`{"signature":"00","signature":"00"}`:   strictjson.ErrDuplicateKey,
		"{\"signature\":\"0\xff\"}":             strictjson.ErrInvalidUTF8,
		`{"signature":"00","message":"00"} {}`:  strictjson.ErrTrailingData,
		`{"Signature":"00"}`:                    strictjson.ErrCaseMismatch,
		`{"x":` + strings.Repeat("[", 80) + `}`: strictjson.ErrTooDeep,
	} {
		if _, err := DecodeQuoteJSON([]byte(in)); !errors.Is(err, kind) {
			t.Errorf("DecodeQuoteJSON(%.40q): %v, want %v", in, err, kind)
		}
	}
}

// TestDecoderMemory checks the Decoder on documents whose HCL report and
// VCEK text it remembers, in other places and with other neighbours: its
// results are always Decode's.
func TestDecoderMemory(t *testing.T) {
	v1 := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v1.json")
	e, err := Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(100, 1<<24)
	got, err := d.Decode(v1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 0 {
		t.Fatalf("Decode remembered %d fields", d.Len())
	}
	d.Remember(got)
	if d.Len() != 2 {
		t.Fatalf("Remember kept %d fields, want 2", d.Len())
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
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":"` + hclTok[:len(hclTok)-1] + `,"vcek":` + vcekTok + `}`,
		`{"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"td_quote":` + vcekTok + `}`,
		`{"quote":` + quote + `,"report":` + hclTok + `,"vcek":` + vcekTok + `}`,
		`{"version":1,"tpm_quote":` + quote + `,"hcl_report":` + hclTok + `,"vcek":` + vcekTok + `,"x":` + hclTok + `}`,
	}
	for _, doc := range docs {
		sameAsDecode(t, d, []byte(doc))
	}
	// The memory's bytes are what Decode gives.
	got, err = d.Decode(v1)
	if err != nil || !reflect.DeepEqual(stripMemo(got), stripMemo(e)) {
		t.Fatalf("remembered decode differs: %v", err)
	}
	if !got.memo.hclFromMemo || !got.memo.vcekFromMemo {
		t.Error("the remembered fields were decoded again")
	}
}

// stripMemo returns e without its memo state, for comparisons.
func stripMemo(e *Evidence) *Evidence {
	if e == nil {
		return nil
	}
	c := *e
	c.memo = memoState{}
	return &c
}

// sameAsDecode checks that d.Decode(b) gives Decode(b).
func sameAsDecode(t *testing.T, d *Decoder, b []byte) {
	t.Helper()
	want, wantErr := Decode(b)
	got, gotErr := d.Decode(b)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("Decoder.Decode(%.80q) error %v, Decode %v", b, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(stripMemo(got), stripMemo(want)) {
		t.Fatalf("Decoder.Decode(%.80q) differs from Decode", b)
	}
}

// TestDecoderMatchesDecode: random single-byte changes of real evidence
// decode the same with and without a Decoder that remembers the originals.
func TestDecoderMatchesDecode(t *testing.T) {
	d := NewDecoder(100, 1<<24)
	for _, g := range goldens {
		b := testutil.ReadFile(t, g.file)
		if e, err := d.Decode(b); err == nil {
			d.Remember(e)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	special := []byte(`"\{}[],:0-+.eEtfnu= ` + "\x00\x1f\x7f\xff")
	for _, g := range goldens {
		b := testutil.ReadFile(t, g.file)
		for range 300 {
			m := bytes.Clone(b)
			m[rng.IntN(len(m))] = special[rng.IntN(len(special))]
			sameAsDecode(t, d, m)
		}
		for l := 0; l < len(b); l += 1 + l/16 {
			sameAsDecode(t, d, b[:l])
		}
	}
}

// TestDecoderRemembersOnlyWhatItIsGiven: Decode alone never fills the
// memory, whatever it decodes; Remember fills it within its bounds.
func TestDecoderRemembersOnlyWhatItIsGiven(t *testing.T) {
	d := NewDecoder(3, 1<<20)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: []byte{byte(i), 1, 2}, VCEK: []byte{byte(i), 3}, Quote: smallQuote()}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		before := d.Len()
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != before {
			t.Fatalf("Decode alone remembered %d fields", d.Len()-before)
		}
		d.Remember(got)
	}
	if n := d.Len(); n != 3 {
		t.Fatalf("%d entries, want the bound 3", n)
	}
	d = NewDecoder(100, 100)
	for i := range 20 {
		e := &Evidence{Version: 1, HCLReport: bytes.Repeat([]byte{byte(i)}, 30), Quote: smallQuote()}
		b, _ := e.Encode()
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		d.Remember(got)
		if d.m.bytes > 100 {
			t.Fatalf("%d bytes", d.m.bytes)
		}
	}
	// v2 HCL reports and escaped text are never remembered; v0 has nothing to remember.
	d = NewDecoder(100, 1<<20)
	v2 := &Evidence{Version: 2, HCLReport: []byte{1, 2, 3}, Quote: smallQuote()}
	b, _ := v2.Encode()
	got, _ := d.Decode(b)
	d.Remember(got)
	esc := []byte(`{"version":1,"tpm_quote":{"signature":"01","message":"02","pcrs":[]},"hcl_report":"\u0041QID","vcek":"AQ\u003d\u003d"}`)
	got, err := d.Decode(esc)
	if err != nil {
		t.Fatal(err)
	}
	d.Remember(got)
	v0, err := d.Decode(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/evidence-v0.json"))
	if err != nil {
		t.Fatal(err)
	}
	d.Remember(v0)
	d.Remember(nil)
	if d.Len() != 0 {
		t.Fatalf("remembered %d fields", d.Len())
	}
	// Unpadded and padded text are remembered as written.
	for _, doc := range []string{
		`{"version":1,"tpm_quote":{"signature":"01","message":"02","pcrs":[]},"hcl_report":"AQI","vcek":"AQI="}`,
	} {
		got, err := d.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		d.Remember(got)
		again, err := d.Decode([]byte(doc))
		if err != nil || !again.memo.hclFromMemo || !again.memo.vcekFromMemo {
			t.Fatalf("%s not found again: %v", doc, err)
		}
	}
}

func smallQuote() quote.Quote {
	return quote.Quote{Signature: []byte{1}, Message: []byte{2}, PCRs: [][]byte{make([]byte, PCRSize)}}
}

// TestByteValue covers the element rules of v0 byte arrays.
func TestByteValue(t *testing.T) {
	for in, want := range map[string][]byte{
		`{"quote":{"signature":[1],"message":[0],"pcrs":[]},"report":[ 255 , 0,1 ]}`:             {255, 0, 1},
		"{\"quote\":{\"signature\":[1],\"message\":[0],\"pcrs\":[]},\"report\":[\n1,\r\n\t2\n]}": {1, 2},
	} {
		e, err := Decode([]byte(in))
		if err != nil || !bytes.Equal(e.HCLReport, want) {
			t.Errorf("%q: %v %v", in, e, err)
		}
	}
	for _, el := range []string{`256`, `-0`, `1e0`, `0.0`, `"1"`, `[]`, `{}`, `true`, `null`, `1000`} {
		in := `{"quote":{"signature":[1],"message":[0],"pcrs":[]},"report":[1,` + el + `]}`
		if _, err := Decode([]byte(in)); !errors.Is(err, format.ErrBadByte) {
			t.Errorf("%s: %v", el, err)
		}
	}
}
