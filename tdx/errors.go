package tdx

import "github.com/snp-vtpm/snp-vtpm/format"

// Kinds of verification failure of this package (format failures wrap the
// module's shared kinds, format.ErrTruncated, ...). Every error of Verify
// wraps exactly one of them, so callers name the failed step with
// errors.Is.
const (
	// ErrPCKChain means the PCK certificate chain does not parse, does not
	// chain to the pinned Intel SGX Root CA, or is not valid at the
	// verification time.
	ErrPCKChain format.Kind = "PCK certificate chain not trusted"
	// ErrQEReportSignature means the PCK did not sign the QE report.
	ErrQEReportSignature format.Kind = "QE report signature invalid"
	// ErrQEReportData means the QE report data is not SHA-256(attestation
	// key || QE authentication data) followed by 32 zero bytes.
	ErrQEReportData format.Kind = "QE report data does not bind the attestation key"
	// ErrQuoteSignature means the attestation key did not sign the quote's
	// header and body, or is not a P-256 point.
	ErrQuoteSignature format.Kind = "quote signature invalid"
	// ErrBindingMismatch means a quote body field differs from the TDREPORT's.
	ErrBindingMismatch format.Kind = "quote body differs from the TDREPORT"
)

func fieldErr(field string, err error) error { return format.Field("tdx", field, err) }

func fieldErrf(field string, kind error, detail string, args ...any) error {
	return format.Fieldf("tdx", field, kind, detail, args...)
}
