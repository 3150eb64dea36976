package pcs

import (
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Kinds of failure of Evaluate, matched with errors.Is.
//
//   - ErrCollateral: the collateral itself is unusable at the verification
//     time: a signature or chain that does not verify under the pinned
//     Intel SGX Root CA, a document or CRL outside its validity window, a
//     TCB info for another FMSPC or PCE-ID, a missing document. It says
//     nothing about the quote.
//   - ErrRevoked: the PCK certificate or its CA (or the TCB signing
//     certificate) is on Intel's CRL.
//   - ErrTCBLevel: the platform, the TDX module or the quoting enclave is
//     below every TCB level Intel lists, or the TDX module's identity is
//     unknown to the TCB info.
//   - ErrQEIdentity: the QE report is not of the quoting enclave the QE
//     identity describes (MRSIGNER, ISVPRODID, masked MISCSELECT or
//     ATTRIBUTES).
const ErrCollateral, ErrRevoked, ErrTCBLevel, ErrQEIdentity format.Kind = "Intel collateral not usable",
	"certificate revoked by Intel", "TCB below every level Intel lists", "QE report does not match Intel's QE identity"

func fieldErr(field string, err error) error { return format.Field("pcs", field, err) }

func fieldErrf(field string, kind error, detail string, args ...any) error {
	return format.Fieldf("pcs", field, kind, detail, args...)
}

// collErr is an ErrCollateral failure.
func collErr(f string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCollateral, fmt.Sprintf(f, args...))
}
