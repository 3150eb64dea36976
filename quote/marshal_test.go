package quote_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// realMessages returns every real TPMS_ATTEST in testdata/, by source.
func realMessages(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{
		"early quote_msg":   testutil.ReadFile(t, "azure-cvm-tooling/early-az-snp-vtpm-0.2/quote_msg"),
		"trustee tpm-quote": testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/tpm-quote.msg"),
	}
	for _, f := range []string{"trustee-az-vtpm/az-snp-vtpm/tpm-quote-v1.json", "trustee-az-vtpm/az-tdx-vtpm/tpm-quote-v1.json"} {
		q, err := evidence.DecodeQuoteJSON(testutil.ReadFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = q.Message
	}
	for _, f := range testutil.BincodeQuoteFiles() {
		q, err := evidence.DecodeBincodeQuote(testutil.ReadFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = q.Message
	}
	for _, f := range []string{"az-snp-vtpm/evidence-v0.json", "az-snp-vtpm/evidence-v1.json", "az-snp-vtpm/evidence-v2.json",
		"az-snp-vtpm/evidence-genoa.json", "az-tdx-vtpm/evidence-v0.json", "az-tdx-vtpm/evidence-v1.json"} {
		e, err := evidence.Decode(testutil.ReadFile(t, "trustee-az-vtpm/"+f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = e.Quote.Message
	}
	return out
}

// TestMarshalRoundTrip: Marshal(Parse(x)) == x for every real quote.
func TestMarshalRoundTrip(t *testing.T) {
	for name, msg := range realMessages(t) {
		t.Run(name, func(t *testing.T) {
			a, err := quote.Parse(msg)
			if err != nil {
				t.Fatal(err)
			}
			out, err := a.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, msg) {
				t.Fatalf("Marshal(Parse(msg)) != msg\n got %x\nwant %x", out, msg)
			}
			// A changed field is written where Parse reads it.
			a.ExtraData = []byte("another nonce")
			out, err = a.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			b, err := quote.Parse(out)
			if err != nil || string(b.ExtraData) != "another nonce" || !bytes.Equal(b.PCRDigest, a.PCRDigest) {
				t.Fatalf("Parse(Marshal(edited)): %v", err)
			}
		})
	}
}

// TestMarshalRejects: Marshal refuses what Parse would reject, naming the field.
func TestMarshalRejects(t *testing.T) {
	base := quote.Attest{QualifiedSigner: make([]byte, 34), ExtraData: []byte("n"), PCRDigest: make([]byte, 32),
		Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: []int{0, 1}}}}
	tests := []struct {
		name  string
		edit  func(a *quote.Attest)
		field string
		kind  error
	}{
		{"signer too large", func(a *quote.Attest) { a.QualifiedSigner = make([]byte, quote.MaxNameSize+1) }, "qualifiedSigner", format.ErrTooLarge},
		{"extraData too large", func(a *quote.Attest) { a.ExtraData = make([]byte, quote.MaxDigestSize+1) }, "extraData", format.ErrTooLarge},
		{"digest too large", func(a *quote.Attest) { a.PCRDigest = make([]byte, quote.MaxDigestSize+1) }, "pcrDigest", format.ErrTooLarge},
		{"too many banks", func(a *quote.Attest) { a.Selection = make([]quote.PCRSelection, quote.MaxBanks+1) }, "pcrSelect.count", format.ErrTooLarge},
		{"PCR 32", func(a *quote.Attest) { a.Selection[0].PCRs = []int{32} }, "pcrSelect[0].pcrSelect", format.ErrTooLarge},
		{"negative PCR", func(a *quote.Attest) { a.Selection[0].PCRs = []int{-1} }, "pcrSelect[0].pcrSelect", format.ErrUnexpectedValue},
		{"PCR 24 in 3 bytes", func(a *quote.Attest) { a.Selection[0].Size = 3; a.Selection[0].PCRs = []int{24} }, "pcrSelect[0].pcrSelect", format.ErrUnexpectedValue},
		{"bitmap of 5 bytes", func(a *quote.Attest) { a.Selection[0].Size = 5 }, "pcrSelect[0].pcrSelect", format.ErrTooLarge},
		{"bitmap of 2 bytes", func(a *quote.Attest) { a.Selection[0].Size = 2 }, "pcrSelect[0].pcrSelect", format.ErrUnexpectedValue},
		{"negative bitmap size", func(a *quote.Attest) { a.Selection[0].Size = -1 }, "pcrSelect[0].pcrSelect", format.ErrUnexpectedValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			a.Selection = []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: []int{0, 1}}}
			tc.edit(&a)
			b, err := a.Marshal()
			if b != nil || !testutil.IsFieldError(err, tc.field, tc.kind) || !errors.Is(err, quote.ErrFormat) {
				t.Fatalf("Marshal = %d bytes, %v; want field %q, %v", len(b), err, tc.field, tc.kind)
			}
		})
	}
	// The base attest marshals with a 3-byte bitmap and parses back.
	msg, err := base.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a, err := quote.Parse(msg)
	if err != nil || a.Selection[0].Size != quote.PCRSelectMin || len(a.Selection[0].PCRs) != 2 {
		t.Fatalf("Parse(Marshal(base)) = %+v, %v", a, err)
	}
}

// TestVerifyWithoutPCRValues: a real quote whose PCR values are unknown
// (nil) verifies its signature and nonce, and reports no PCR values; an
// empty list is a list that lacks the selected values.
func TestVerifyWithoutPCRValues(t *testing.T) {
	raw := testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/tpm-quote-v1.json")
	q, err := evidence.DecodeQuoteJSON(testutil.DropPCRs(t, raw))
	if err != nil || q.PCRs != nil {
		t.Fatalf("DecodeQuoteJSON without pcrs: %v, PCRs %v", err, q)
	}
	// The AK of that quote is in the same VM's HCL report.
	r, err := hcl.Parse(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := r.RuntimeData.AK()
	if err != nil {
		t.Fatal(err)
	}
	res, err := quote.Verify(q, ak, []byte("challenge"))
	if err != nil {
		t.Fatalf("quote without PCR values: %v", err)
	}
	if res.PCRs != nil || len(res.Attest.PCRDigest) != 32 || len(res.Attest.Selection[0].PCRs) != 24 {
		t.Fatalf("result PCRs %v digest %x", res.PCRs, res.Attest.PCRDigest)
	}
	if _, err := quote.Verify(q, ak, []byte("replayed")); !errors.Is(err, quote.ErrNonce) {
		t.Errorf("wrong nonce: %v", err)
	}
	bad := *q
	bad.Signature = bytes.Clone(q.Signature)
	bad.Signature[0] ^= 1
	if _, err := quote.Verify(&bad, ak, []byte("challenge")); !errors.Is(err, quote.ErrSignature) {
		t.Errorf("bad signature: %v", err)
	}
	empty := *q
	empty.PCRs = [][]byte{}
	if _, err := quote.Verify(&empty, ak, []byte("challenge")); !errors.Is(err, format.ErrMissingField) {
		t.Errorf("empty PCR list: %v", err)
	}
	full, err := evidence.DecodeQuoteJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := quote.Verify(full, ak, []byte("challenge")); err != nil || len(res.PCRs) != 24 {
		t.Errorf("full quote: %v", err)
	}
}
