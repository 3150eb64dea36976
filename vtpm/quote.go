package vtpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// quoteAttempts bounds how often Quote retries when the PCRs change between
// the quote and reading them back.
const quoteAttempts = 3

// QualifyingData returns the TPM2_Quote qualifyingData for nonce: the nonce
// itself when it is at most MaxNonceSize (48) bytes, else SHA-256(nonce).
// The Azure vTPM rejects qualifyingData longer than about 50 bytes, so longer
// nonces must be hashed; a verifier must apply the same rule when it compares
// the quote's extraData to its nonce.
//
// The rule is quote.ExpectedExtraData's, which the verifier uses; the result
// never aliases nonce.
func QualifyingData(nonce []byte) []byte {
	return bytes.Clone(quote.ExpectedExtraData(nonce))
}

// allPCRs is the mask of PCRs 0-23.
const allPCRs = 1<<PCRCount - 1

// pcrSelection selects the PCRs of mask (bit i = PCR i) in the SHA-256
// bank, in a 3-byte bitmap.
func pcrSelection(mask uint32) tpm2.TPMLPCRSelection {
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: []byte{byte(mask), byte(mask >> 8), byte(mask >> 16)},
	}}}
}

// pcrMask returns the mask of pcrs, which must be distinct PCRs 0-23.
func pcrMask(pcrs []int) (uint32, error) {
	var mask uint32
	for _, p := range pcrs {
		if p < 0 || p >= PCRCount || mask&(1<<p) != 0 {
			return 0, fmt.Errorf("vtpm: PCR selection %v: want distinct PCRs 0-%d", pcrs, PCRCount-1)
		}
		mask |= 1 << p
	}
	if mask == 0 {
		return 0, fmt.Errorf("vtpm: empty PCR selection")
	}
	return mask, nil
}

// selectedDigest is SHA-256 over the values of the PCRs of mask, in
// ascending order: a quote's pcrDigest.
func selectedDigest(pcrs [][]byte, mask uint32) []byte {
	h := sha256.New()
	for i, p := range pcrs {
		if mask&(1<<i) != 0 {
			h.Write(p)
		}
	}
	return h.Sum(nil)
}

// Quote asks the vTPM for a TPM2_Quote over PCRs 0-23 of the SHA-256 bank,
// signed by the attestation key (RSASSA-PKCS1-v1_5 with SHA-256), with
// qualifyingData = QualifyingData(nonce). The result's Message is the
// marshalled TPMS_ATTEST exactly as signed, Signature the raw RSASSA
// signature and PCRs the 24 PCR values read after the quote. As quoting and
// reading PCRs is not atomic, Quote checks the PCR values against the
// quote's PCR digest and retries (up to 3 times) when a PCR changed in
// between; if they keep changing the error matches [ErrPCRsChanged]. A
// quote that is not over qualifyingData is an error matching
// [ErrMalformedResponse] and quote.ErrNonce.
func Quote(ctx context.Context, t transport.TPM, nonce []byte) (*quote.Quote, error) {
	return quoteMask(ctx, t, nonce, allPCRs)
}

// QuotePCRs is Quote over the SHA-256 PCRs listed (distinct, 0-23) only,
// as MAA's AzureGuest protocol asks for PCRs 0-7. The result's PCRs still
// holds all 24 values read after the quote.
func QuotePCRs(ctx context.Context, t transport.TPM, nonce []byte, pcrs []int) (*quote.Quote, error) {
	mask, err := pcrMask(pcrs)
	if err != nil {
		return nil, err
	}
	return quoteMask(ctx, t, nonce, mask)
}

func quoteMask(ctx context.Context, t transport.TPM, nonce []byte, mask uint32) (*quote.Quote, error) {
	t = bind(ctx, t)
	_, name, err := readAK(ctx, t)
	if err != nil {
		return nil, err
	}
	qd := QualifyingData(nonce)
	for attempt := 1; ; attempt++ {
		q, digest, err := quoteOnce(ctx, t, name, qd, mask)
		if err != nil {
			return nil, err
		}
		pcrs, err := ReadPCRs(ctx, t)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(selectedDigest(pcrs, mask), digest) {
			q.PCRs = pcrs
			return q, nil
		}
		if attempt == quoteAttempts {
			return nil, fmt.Errorf("vtpm: %w: the quote's PCR digest does not match the PCRs read after it (%d attempts)", ErrPCRsChanged, attempt)
		}
	}
}

// quoteOnce runs TPM2_Quote and returns the quote (without PCRs) and the
// signed PCR digest, after checking the response's shape.
func quoteOnce(ctx context.Context, t transport.TPM, akName tpm2.TPM2BName, qd []byte, mask uint32) (*quote.Quote, []byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	rsp, err := tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: tpm2.TPMHandle(AKHandle), Name: akName, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: qd},
		InScheme: tpm2.TPMTSigScheme{
			Scheme:  tpm2.TPMAlgRSASSA,
			Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
		},
		PCRSelect: pcrSelection(mask),
	}.Execute(t)
	if err != nil {
		return nil, nil, tpmErr("Quote", AKHandle, err)
	}
	msg := bytes.Clone(rsp.Quoted.Bytes())
	if len(msg) == 0 {
		return nil, nil, malformed("Quote returned an empty TPMS_ATTEST")
	}
	attest, err := quote.Parse(msg)
	if err != nil {
		return nil, nil, malformed("Quote returned an unparsable TPMS_ATTEST: %v", err)
	}
	if !bytes.Equal(attest.ExtraData, qd) {
		return nil, nil, fmt.Errorf("vtpm: %w: %w: the quote's extraData is not the qualifyingData sent", ErrMalformedResponse, quote.ErrNonce)
	}
	if !selects(attest.Selection, mask) {
		return nil, nil, malformed("Quote does not select exactly the SHA-256 PCRs asked for (mask %#06x)", mask)
	}
	if len(attest.PCRDigest) != sha256.Size {
		return nil, nil, malformed("Quote's PCR digest is %d bytes, want %d", len(attest.PCRDigest), sha256.Size)
	}
	if rsp.Signature.SigAlg != tpm2.TPMAlgRSASSA {
		return nil, nil, malformed("Quote signature algorithm %#04x, want RSASSA", uint16(rsp.Signature.SigAlg))
	}
	sig, err := rsp.Signature.Signature.RSASSA()
	if err != nil {
		return nil, nil, malformed("Quote signature: %v", err)
	}
	if sig.Hash != tpm2.TPMAlgSHA256 {
		return nil, nil, malformed("Quote signature hash %#04x, want SHA-256", uint16(sig.Hash))
	}
	if len(sig.Sig.Buffer) != akBits/8 {
		return nil, nil, malformed("Quote signature is %d bytes, want %d", len(sig.Sig.Buffer), akBits/8)
	}
	return &quote.Quote{Message: msg, Signature: bytes.Clone(sig.Sig.Buffer)}, bytes.Clone(attest.PCRDigest), nil
}

// selects reports whether sel is exactly the SHA-256 PCRs of mask in a
// 3-byte bitmap.
func selects(sel []quote.PCRSelection, mask uint32) bool {
	if len(sel) != 1 || sel[0].Hash != quote.AlgSHA256 || sel[0].Size != 3 {
		return false
	}
	var got uint32
	for _, p := range sel[0].PCRs {
		if p < 0 || p >= PCRCount || got&(1<<p) != 0 {
			return false
		}
		got |= 1 << p
	}
	return got == mask
}

// ReadPCRs returns PCRs 0-23 of the SHA-256 bank, index i = PCR i. A TPM
// returns at most 8 PCRs per TPM2_PCR_Read, so ReadPCRs asks again for the
// ones still missing, checking ctx between commands.
func ReadPCRs(ctx context.Context, t transport.TPM) ([][]byte, error) {
	t = bind(ctx, t)
	out := make([][]byte, PCRCount)
	missing := PCRCount
	// Each round returns at least one PCR or fails, so PCRCount rounds bound
	// the loop even against a misbehaving TPM.
	for round := 0; missing > 0; round++ {
		if round >= PCRCount {
			return nil, malformed("PCR_Read made no progress")
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vtpm: reading PCRs: %w", err)
		}
		want := make([]byte, 3)
		for i, v := range out {
			if v == nil {
				want[i/8] |= 1 << (i % 8)
			}
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash: tpm2.TPMAlgSHA256, PCRSelect: want,
		}}}}.Execute(t)
		if err != nil {
			return nil, tpmErr("PCR_Read", 0, err)
		}
		got, err := returnedPCRs(rsp, want)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			return nil, malformed("PCR_Read returned no PCRs")
		}
		if len(got) != len(rsp.PCRValues.Digests) {
			return nil, malformed("PCR_Read selected %d PCRs but returned %d values", len(got), len(rsp.PCRValues.Digests))
		}
		for k, idx := range got {
			d := rsp.PCRValues.Digests[k].Buffer
			if len(d) != sha256.Size {
				return nil, malformed("PCR_Read returned a %d-byte value for SHA-256 PCR %d", len(d), idx)
			}
			out[idx] = bytes.Clone(d)
			missing--
		}
	}
	return out, nil
}

// returnedPCRs lists, in ascending order, the PCR indices the response says
// it returned. Each must be one that was asked for and is still missing.
func returnedPCRs(rsp *tpm2.PCRReadResponse, want []byte) ([]int, error) {
	var got []int
	for _, sel := range rsp.PCRSelectionOut.PCRSelections {
		if sel.Hash != tpm2.TPMAlgSHA256 {
			if bytes.Count(sel.PCRSelect, []byte{0}) == len(sel.PCRSelect) {
				continue
			}
			return nil, malformed("PCR_Read returned PCRs of bank %#04x, want SHA-256", uint16(sel.Hash))
		}
		for i, b := range sel.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) == 0 {
					continue
				}
				if i >= len(want) || want[i]&(1<<bit) == 0 {
					return nil, malformed("PCR_Read returned PCR %d, which was not asked for", i*8+bit)
				}
				want[i] &^= 1 << bit // so a duplicate selection is caught
				got = append(got, i*8+bit)
			}
		}
	}
	return got, nil
}
