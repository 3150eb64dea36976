package tdx

import "github.com/snp-vtpm/snp-vtpm/format"

// Kinds of verification failure of this package, one per step of
// Quote.Verify and CheckBinding; format failures wrap the module's shared
// kinds (format.ErrTruncated, ...) instead. Callers name the failed step
// with errors.Is.
//
//   - ErrPCKChain: the PCK chain does not parse, does not chain to the
//     pinned Intel SGX Root CA, or is not valid at the verification time.
//   - ErrQEReportSignature: the PCK did not sign the QE report.
//   - ErrQEIdentity: the QE report (signed by the PCK) is not of Intel's
//     TD quoting enclave: another MRSIGNER or ISVPRODID, or a debug
//     enclave.
//   - ErrQEReportData: the QE report data is not SHA-256(attestation key
//     || QE authentication data) followed by 32 zero bytes.
//   - ErrQuoteSignature: the attestation key (a P-256 point) did not sign
//     the quote's header and body.
//   - ErrTDXModule: the (signed) quote body names a TDX module that is not
//     Intel's production module: MRSIGNERSEAM or SEAMATTRIBUTES not zero.
//   - ErrBindingMismatch: a quote body field differs from the TDREPORT's.
const ErrPCKChain, ErrQEReportSignature, ErrQEIdentity, ErrQEReportData, ErrQuoteSignature, ErrTDXModule, ErrBindingMismatch format.Kind = "PCK certificate chain not trusted",
	"QE report signature invalid", "QE report is not Intel's TD quoting enclave", "QE report data does not bind the attestation key",
	"quote signature invalid", "TDX module is not Intel's production module", "quote body differs from the TDREPORT"

// MaxNameInError bounds a name that the input chose (a certificate's or a
// CRL issuer's common name, in a PCK chain or in Intel's collateral of
// package pcs) where an error quotes it (format.Truncate).
const MaxNameInError = 64

func fieldErr(field string, err error) error { return format.Field("tdx", field, err) }

func fieldErrf(field string, kind error, detail string, args ...any) error {
	return format.Fieldf("tdx", field, kind, detail, args...)
}
