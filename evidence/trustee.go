package evidence

import (
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/quote"
)

// ErrTrusteeIncompatible means that the Confidential Containers verifier
// (trustee's az-snp-vtpm / az-tdx-vtpm verifiers) would refuse the
// encoded evidence before checking any signature; see
// [Evidence.TrusteeCompatible]. Every [*TrusteeError] matches it.
var ErrTrusteeIncompatible = errors.New("refused by trustee's Azure vTPM verifier")

// TrusteeError is why trustee's Azure vTPM verifier would refuse evidence
// that this package writes and reads (see [Evidence.TrusteeCompatible]).
// It matches [ErrTrusteeIncompatible] and is not a [*FormatError]: the
// evidence is well formed, and errors.Is(err, format.ErrMalformed) holds
// only when Err, the cause, is itself a parse error (a quote message that
// does not parse).
type TrusteeError struct {
	// Member is the JSON member trustee trips on: "vcek",
	// "tpm_quote.pcrs" or "tpm_quote.message".
	Member string
	// Reason says what trustee needs that the evidence lacks.
	Reason string
	// Err is the cause, when there is one (nil otherwise).
	Err error
}

// Error implements error, e.g. "evidence: vcek: refused by trustee's
// Azure vTPM verifier: SEV-SNP evidence without the VCEK".
func (e *TrusteeError) Error() string {
	msg := "evidence: " + e.Member + ": " + ErrTrusteeIncompatible.Error() + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause (nil when there is none).
func (e *TrusteeError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrTrusteeIncompatible].
func (e *TrusteeError) Is(target error) bool { return target == ErrTrusteeIncompatible }

// trusteePCRs is the number of PCR values trustee's verifier needs: the
// Azure vTPM tooling quotes SHA-256 PCRs 0-23, and trustee's init-data
// check reads PCR 8 from the list.
const trusteePCRs = 24

// TrusteeCompatible reports whether e, as [Evidence.Encode] writes it, is
// evidence that the Confidential Containers verifier (trustee,
// deps/verifier az_snp_vtpm and az_tdx_vtpm) accepts as a document. Those
// verifiers deserialize {"version":1|2,"tpm_quote":{"signature":hex,
// "message":hex,"pcrs":[hex..]},"hcl_report":base64url,...} with every
// member required (no defaults; unknown members such as "event_log" are
// ignored), and then:
//
//   - SEV-SNP evidence (no TD quote) must carry "vcek": trustee fetches no
//     VCEK, so evidence without one is not deserialized at all;
//   - "pcrs" must be present, and must be the values of exactly the PCRs
//     the quote selected, in order: trustee compares the SHA-256 of the
//     concatenated list with the quote's PCR digest, and reads PCR 8 from
//     the list for init-data. Hence one SHA-256 bank selecting PCRs 0-23
//     and 24 values, as the Azure vTPM tooling (and this module's
//     attester) quote.
//
// The nonce is not checked here: trustee compares the quote's extraData
// with its report data (the SHA-384 of the canonical runtime data, 48
// bytes) exactly, which holds when the attester was given that report
// data as its nonce (at most 48 bytes are quoted unchanged).
//
// The error is a [*TrusteeError] naming the member (matching
// ErrTrusteeIncompatible, not format.ErrMalformed); errors of Encode's own
// checks (evidence Encode would not write) are returned as they are.
func (e *Evidence) TrusteeCompatible() error {
	if err := e.check(); err != nil {
		return err
	}
	if e.TDQuote == nil && e.VCEK == nil {
		return &TrusteeError{Member: "vcek", Reason: "SEV-SNP evidence without the VCEK"}
	}
	if e.Quote.PCRs == nil {
		return &TrusteeError{Member: "tpm_quote.pcrs", Reason: "no PCR values"}
	}
	if len(e.Quote.PCRs) != trusteePCRs {
		return &TrusteeError{Member: "tpm_quote.pcrs", Reason: fmt.Sprintf("%d PCR values, want %d", len(e.Quote.PCRs), trusteePCRs)}
	}
	a, err := quote.Parse(e.Quote.Message)
	if err != nil {
		return &TrusteeError{Member: "tpm_quote.message", Reason: "the quote does not parse", Err: err}
	}
	if !selectsAllSHA256(a.Selection) {
		return &TrusteeError{Member: "tpm_quote.message", Reason: fmt.Sprintf("the quote does not select exactly the SHA-256 PCRs 0-%d that \"pcrs\" lists", trusteePCRs-1)}
	}
	return nil
}

// selectsAllSHA256 reports whether sel is one SHA-256 bank selecting PCRs
// 0 to trusteePCRs-1.
func selectsAllSHA256(sel []quote.PCRSelection) bool {
	if len(sel) != 1 || sel[0].Hash != quote.AlgSHA256 || len(sel[0].PCRs) != trusteePCRs {
		return false
	}
	for i, p := range sel[0].PCRs {
		if p != i {
			return false
		}
	}
	return true
}
