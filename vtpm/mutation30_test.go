package vtpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// Tests added by the mutation testing of the attester's TPM side (mutation30).

// TestPCRMask: QuotePCRs's selection is distinct PCRs 0-23, at least one;
// anything else is refused before the TPM is asked.
func TestPCRMask(t *testing.T) {
	for _, tc := range []struct {
		pcrs []int
		mask uint32 // 0: refused
	}{
		{[]int{0, 7}, 0x81},
		{[]int{23}, 1 << 23},
		{[]int{7, 0}, 0x81},
		{nil, 0},
		{[]int{}, 0},
		{[]int{-1}, 0},
		{[]int{24}, 0},
		{[]int{31}, 0},
		{[]int{3, 3}, 0},
		{[]int{0, 1, 0}, 0},
	} {
		mask, err := pcrMask(tc.pcrs)
		if mask != tc.mask || (err == nil) != (tc.mask != 0) {
			t.Errorf("pcrMask(%v) = %#x, %v; want %#x", tc.pcrs, mask, err, tc.mask)
		}
	}
	if _, err := QuotePCRs(t.Context(), nil, []byte("n"), []int{24}); err == nil {
		t.Error("QuotePCRs over PCR 24 asked the TPM")
	}
}

// quoteHandler answers TPM2_Quote with the TPMS_ATTEST a and a
// 256-byte RSASSA SHA-256 signature (not checked by vtpm).
func quoteHandler(t *testing.T, a quote.Attest) func([]byte) []byte {
	msg, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	p := be.AppendUint16(nil, uint16(len(msg)))
	p = append(p, msg...)
	p = be.AppendUint16(p, uint16(tpm2.TPMAlgRSASSA))
	p = be.AppendUint16(p, uint16(tpm2.TPMAlgSHA256))
	p = be.AppendUint16(p, 256)
	p = append(p, bytes.Repeat([]byte{1}, 256)...)
	return func([]byte) []byte { return testutil.TPMResponse(p, true) }
}

// TestQuoteResponseChecks: Quote accepts only a TPMS_ATTEST of exactly
// the SHA-256 PCRs asked for, in one 3-byte bank, with a 32-byte digest
// (ErrMalformedResponse, not a retry until ErrPCRsChanged); a PCR_Read
// that fails after the quote is that failure.
func TestQuoteResponseChecks(t *testing.T) {
	all := make([]int, PCRCount)
	var vals []byte
	for i := range all {
		all[i] = i
		vals = append(vals, pcrValue(i)...)
	}
	d := sha256.Sum256(vals)
	good := func() quote.Attest {
		return quote.Attest{QualifiedSigner: []byte{0, 0x0B, 9}, ExtraData: []byte("nonce"), PCRDigest: d[:],
			Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: all, Size: 3}}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*quote.Attest)
		failPCR bool
		want    error // nil: accepted
	}{
		{"good", func(*quote.Attest) {}, false, nil},
		{"another empty bank", func(a *quote.Attest) {
			a.Selection = append(a.Selection, quote.PCRSelection{Hash: quote.AlgSHA1, Size: 3})
		}, false, ErrMalformedResponse},
		{"SHA-1 bank", func(a *quote.Attest) { a.Selection[0].Hash = quote.AlgSHA1 }, false, ErrMalformedResponse},
		{"4-byte bitmap", func(a *quote.Attest) { a.Selection[0].Size = 4 }, false, ErrMalformedResponse},
		{"31-byte digest", func(a *quote.Attest) { a.PCRDigest = a.PCRDigest[:31] }, false, ErrMalformedResponse},
		{"PCR_Read fails", func(*quote.Attest) {}, true, tpm2.TPMRCFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := good()
			tc.edit(&a)
			read := pcrReader(t, 8, nil)
			if tc.failPCR {
				read = func([]byte) []byte { return rcResponse(uint32(tpm2.TPMRCFailure)) }
			}
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{
				tpm2.TPMCCReadPublic: readPublicHandler(t, rsaTemplate(2048, bytes.Repeat([]byte{0xC3}, 256), true)),
				tpm2.TPMCCQuote:      quoteHandler(t, a),
				tpm2.TPMCCPCRRead:    read,
			}}
			q, err := Quote(t.Context(), f, []byte("nonce"))
			if tc.want == nil {
				if err != nil || len(q.PCRs) != PCRCount {
					t.Fatalf("Quote = %v, %v", q, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || errors.Is(err, ErrPCRsChanged) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if n := f.count(tpm2.TPMCCQuote); n != 1 {
				t.Errorf("%d quotes asked, want 1 (no retry)", n)
			}
		})
	}
}

// TestPCRReadBanks: PCR_Read values count only as SHA-256 PCRs when the
// response's selection says SHA-256: the same 32-byte values labelled
// SHA-1 are refused, whereas an empty selection of another bank beside
// the SHA-256 one is nothing returned and is accepted.
func TestPCRReadBanks(t *testing.T) {
	respond := func(sels []tpm2.TPMSPCRSelection) func([]byte) []byte {
		return func(cmd []byte) []byte {
			var digests []tpm2.TPM2BDigest
			for i := range PCRCount {
				digests = append(digests, tpm2.TPM2BDigest{Buffer: pcrValue(i)})
			}
			return testutil.TPMResponse(testutil.TPMParams(t, tpm2.PCRRead{}, &tpm2.PCRReadResponse{
				PCRSelectionOut: tpm2.TPMLPCRSelection{PCRSelections: sels},
				PCRValues:       tpm2.TPMLDigest{Digests: digests},
			}), false)
		}
	}
	allSel := []byte{0xff, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		sels []tpm2.TPMSPCRSelection
		ok   bool
	}{
		{"SHA-256", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: allSel}}, true},
		{"SHA-256 and an empty SHA-1", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA1, PCRSelect: []byte{0, 0, 0}}, {Hash: tpm2.TPMAlgSHA256, PCRSelect: allSel}}, true},
		{"labelled SHA-1", []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA1, PCRSelect: allSel}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTPM{handlers: map[tpm2.TPMCC]func([]byte) []byte{tpm2.TPMCCPCRRead: respond(tc.sels)}}
			pcrs, err := ReadPCRs(t.Context(), f)
			if !tc.ok {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("err = %v, want ErrMalformedResponse", err)
				}
				return
			}
			if err != nil || len(pcrs) != PCRCount || !bytes.Equal(pcrs[23], pcrValue(23)) {
				t.Fatalf("ReadPCRs = %d values, %v", len(pcrs), err)
			}
		})
	}
}
