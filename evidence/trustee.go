package evidence

import (
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// ErrTrusteeIncompatible means that the Confidential Containers verifier
// (trustee's az-snp-vtpm / az-tdx-vtpm verifiers) would refuse the
// encoded evidence before checking any signature; see
// [Evidence.TrusteeCompatible].
var ErrTrusteeIncompatible = errors.New("refused by trustee's Azure vTPM verifier")

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
// The error is a [*FormatError] naming the member, wrapping
// ErrTrusteeIncompatible and the shared kind; errors of Encode's own
// checks are returned as they are.
func (e *Evidence) TrusteeCompatible() error {
	if err := e.check(); err != nil {
		return err
	}
	if e.TDQuote == nil && e.VCEK == nil {
		return trusteeErr("vcek", format.ErrMissingField, "SEV-SNP evidence without the VCEK")
	}
	if e.Quote.PCRs == nil {
		return trusteeErr("tpm_quote.pcrs", format.ErrMissingField, "no PCR values")
	}
	if len(e.Quote.PCRs) != trusteePCRs {
		return trusteeErr("tpm_quote.pcrs", format.ErrBadLength, "%d PCR values, want %d", len(e.Quote.PCRs), trusteePCRs)
	}
	a, err := quote.Parse(e.Quote.Message)
	if err != nil {
		return fieldErr("tpm_quote.message", fmt.Errorf("%w: %w", ErrTrusteeIncompatible, err))
	}
	if !selectsAllSHA256(a.Selection) {
		return trusteeErr("tpm_quote.message", format.ErrUnexpectedValue, "the quote does not select exactly the SHA-256 PCRs 0-%d that \"pcrs\" lists", trusteePCRs-1)
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

func trusteeErr(field string, kind error, detail string, args ...any) error {
	return fieldErr(field, fmt.Errorf("%w: %w: %s", ErrTrusteeIncompatible, kind, fmt.Sprintf(detail, args...)))
}
