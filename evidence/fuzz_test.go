package evidence

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

func FuzzDecode(f *testing.F) {
	for _, g := range goldens {
		f.Add(testutil.ReadFile(f, g.file))
	}
	f.Add(testutil.ReadFile(f, "trustee-az-vtpm/az-snp-vtpm/tpm-quote-v1.json"))
	f.Add(marshal(f, validV0(f)))
	f.Add(marshal(f, validV0TDX()))
	f.Add(marshal(f, validV1()))
	f.Add([]byte(`{"version":2,"tpm_quote":{"signature":"00","message":"00","pcrs":[]},"hcl_report":"AA=="}`))
	f.Add([]byte(`{"version":2,"tpm_quote":{"signature":"00","message":"00"},"hcl_report":"AA==","event_log":"AAAA"}`))
	f.Add([]byte(`{"quote":{"signature":[1],"message":[2],"pcrs":[[0,0]]},"report":[1,2,3],"vcek":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if testutil.RejectedNil(t, e, err, format.ErrMalformed) {
			return
		}
		if len(e.Quote.PCRs) > MaxPCRs || len(e.HCLReport) == 0 {
			t.Fatal("limits not enforced")
		}
		for _, p := range e.Quote.PCRs {
			if len(p) != PCRSize {
				t.Fatal("bad PCR size accepted")
			}
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode of decoded evidence: %v", err)
		}
		e2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(e)): %v", err)
		}
		if e.Version == 0 {
			e.Version = 1
		}
		if !equalEvidence(e, e2) {
			t.Fatal("round trip differs")
		}
	})
}

func FuzzDecodeBincodeQuote(f *testing.F) {
	for _, p := range testutil.BincodeQuoteFiles() {
		f.Add(testutil.ReadFile(f, p))
	}
	q := quoteOf(testMsg, testSig, 3)
	f.Add(bincode(&q, false))
	f.Add(bincode(&q, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeBincodeQuote(b)
		if err != nil {
			return
		}
		if len(q.Signature) == 0 || len(q.Message) == 0 || len(q.PCRs) > MaxPCRs {
			t.Fatal("limits not enforced")
		}
		for _, vec := range []bool{false, true} {
			again, err := DecodeBincodeQuote(bincode(q, vec))
			if err != nil || !equalQuote(q, again) {
				t.Fatalf("re-encoding (vec=%v) does not round-trip: %v", vec, err)
			}
		}
	})
}

// FuzzDecoder checks that a Decoder gives Decode's result, before and
// after it remembered the input's fields (a fresh one per input keeps
// fuzzing deterministic).
func FuzzDecoder(f *testing.F) {
	for _, g := range goldens {
		f.Add(testutil.ReadFile(f, g.file))
	}
	f.Add([]byte(`{"version":1,"x":{"a":[1,-2.5e+3,true,false,null,"\u00e9\n\""]},"tpm_quote":null}`))
	f.Add([]byte(`{"version":1,"tpm_quote":{"signature":"01","message":"02","pcrs":[]},"hcl_report":"AQI","vcek":"AQI="}`))
	f.Add([]byte(`{"quote":{"signature":[1],"message":[2],"pcrs":[[0]]},"report":[1,2,3],"vcek":""}`))
	// A Decoder that remembers real v0 and v1 evidence meets the mutants
	// of that evidence: a remembered text must be matched exactly.
	var known [][]byte
	for _, file := range []string{testutil.SNPDir + "evidence-v0.json", testutil.SNPDir + "evidence-v1.json", testutil.TDXDir + "evidence-v0.json"} {
		known = append(known, testutil.ReadFile(f, file))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(8, 1<<20)
		for _, k := range known {
			e, err := d.Decode(k)
			if err != nil {
				t.Fatal(err)
			}
			d.Remember(e)
		}
		sameAsDecode(t, d, b)
		if e, err := d.Decode(b); err == nil {
			d.Remember(e)
		}
		sameAsDecode(t, d, b)
	})
}

// FuzzDecodeQuoteJSON: DecodeQuoteJSON never panics, every rejection is a
// format.ErrMalformed error with no quote, an accepted quote keeps the
// limits of Decode, and it round-trips through the hex form (and, for a
// quote of byte arrays, through the array form too).
func FuzzDecodeQuoteJSON(f *testing.F) {
	for _, dir := range []string{testutil.SNPDir, testutil.TDXDir} {
		f.Add(testutil.ReadFile(f, dir+"tpm-quote-v1.json"))
	}
	f.Add([]byte(`{"signature":[1],"message":[2,3],"pcrs":[]}`))
	f.Add([]byte(`{"signature":"00","message":"00","pcrs":["` + strings.Repeat("00", PCRSize) + `"]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"signature":"00","message":"00"}`)) // no "pcrs": values unknown, not none
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeQuoteJSON(b)
		if testutil.RejectedNil(t, q, err, format.ErrMalformed) {
			return
		}
		if len(q.Signature) == 0 || len(q.Message) == 0 || len(q.PCRs) > MaxPCRs {
			t.Fatal("limits not enforced")
		}
		for _, p := range q.PCRs {
			if len(p) != PCRSize {
				t.Fatal("bad PCR size accepted")
			}
		}
		for _, arrays := range []bool{false, true} {
			again, err := DecodeQuoteJSON(quoteJSON(q, arrays))
			if err != nil || !equalQuote(q, again) {
				t.Fatalf("re-encoded (arrays %v): %v", arrays, err)
			}
		}
	})
}

// quoteJSON writes q as a TpmQuote object: hex strings, or byte arrays;
// without "pcrs" when q.PCRs is nil.
func quoteJSON(q *quote.Quote, arrays bool) []byte {
	enc := func(b []byte) string {
		if !arrays {
			return `"` + hex.EncodeToString(b) + `"`
		}
		s := make([]string, len(b))
		for i, v := range b {
			s[i] = strconv.Itoa(int(v))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	doc := `{"signature":` + enc(q.Signature) + `,"message":` + enc(q.Message)
	if q.PCRs == nil {
		return []byte(doc + `}`) // no "pcrs": the values are unknown
	}
	pcrs := make([]string, len(q.PCRs))
	for i, p := range q.PCRs {
		pcrs[i] = enc(p)
	}
	return []byte(doc + `,"pcrs":[` + strings.Join(pcrs, ",") + `]}`)
}
