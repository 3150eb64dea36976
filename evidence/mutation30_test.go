package evidence

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// Tests added by the mutation testing of the evidence decoder (mutation30).

// TestDecodeLongPCRHex: a v1 PCR of more than 64 hex digits (33 bytes, or
// far more) is ErrBadLength naming the PCR, checked before any digit is
// decoded into the 32-byte value; so is DecodeQuoteJSON's.
func TestDecodeLongPCRHex(t *testing.T) {
	for _, n := range []int{33, 64, 1000} {
		p := pcrs(24, hexAny)
		p[3] = hex.EncodeToString(make([]byte, n))
		m := validV1()
		m["tpm_quote"].(obj)["pcrs"] = p
		_, err := Decode(marshal(t, m))
		if !testutil.IsFieldError(err, "tpm_quote.pcrs[3]", format.ErrBadLength) {
			t.Errorf("%d-byte PCR: err = %v, want ErrBadLength in tpm_quote.pcrs[3]", n, err)
		}
		_, err = DecodeQuoteJSON(marshal(t, m["tpm_quote"].(obj)))
		if !testutil.IsFieldError(err, "quote.pcrs[3]", format.ErrBadLength) {
			t.Errorf("DecodeQuoteJSON, %d-byte PCR: err = %v, want ErrBadLength in quote.pcrs[3]", n, err)
		}
	}
}

// TestDecodeVersionQuotedShort: an unsupported version is quoted in the
// error cut to 20 characters, however long the number the document holds.
func TestDecodeVersionQuotedShort(t *testing.T) {
	m := validV1()
	long := "3" + strings.Repeat("0", 5000)
	m["version"] = json.RawMessage(long)
	_, err := Decode(marshal(t, m))
	if !testutil.IsFieldError(err, "version", format.ErrUnsupportedVersion) || !strings.Contains(err.Error(), long[:20]+"...") || len(err.Error()) > 200 {
		t.Errorf("err = %.300v, want ErrUnsupportedVersion quoting %s...", err, long[:20])
	}
}

// TestDecodeQuoteJSONTooLarge: DecodeQuoteJSON refuses a document over
// MaxEvidenceSize as ErrTooLarge of the quote, before reading it.
func TestDecodeQuoteJSONTooLarge(t *testing.T) {
	_, err := DecodeQuoteJSON([]byte(`{"x":"` + strings.Repeat("a", MaxEvidenceSize) + `"}`))
	if !testutil.IsFieldError(err, "quote", format.ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge of quote", err)
	}
}

// TestTrusteeSelectionIndices: trustee reads "pcrs" as PCRs 0-23 in order,
// so a quote whose one SHA-256 bank selects 24 PCRs other than 0-23 (PCR 24
// in place of 23, with a 4-byte bitmap) is refused; 0-23 is accepted.
func TestTrusteeSelectionIndices(t *testing.T) {
	for _, tc := range []struct {
		last int
		ok   bool
	}{{23, true}, {24, false}} {
		idx := make([]int, 0, 24)
		for i := range 23 {
			idx = append(idx, i)
		}
		a := quote.Attest{QualifiedSigner: make([]byte, 34), ExtraData: []byte("n"), PCRDigest: make([]byte, 32),
			Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: append(idx, tc.last), Size: 4}}}
		msg, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		values := make([][]byte, 24)
		for i := range values {
			values[i] = make([]byte, PCRSize)
		}
		e := &Evidence{Version: 1, Quote: quote.Quote{Message: msg, Signature: testSig, PCRs: values}, HCLReport: testReport, VCEK: []byte{0x30}}
		if err := e.TrusteeCompatible(); (err == nil) != tc.ok {
			t.Errorf("PCRs 0-22 and %d: TrusteeCompatible = %v, want accepted %v", tc.last, err, tc.ok)
		}
	}
}
