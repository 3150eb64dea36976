package hcl

import "github.com/snp-vtpm/snp-vtpm/format"

// Sentinel errors of the checks that are HCL's own. Format failures wrap
// the module's shared kinds (format.ErrTruncated, format.ErrBadMagic, ...)
// instead; every error of this package is a [*FormatError] naming the
// field, so callers test the kind with errors.Is. They are kinds of the
// module's one kind type, [format.Kind].
const (
	// ErrUnsupportedReportType means the report type is not SNP or TDX.
	ErrUnsupportedReportType format.Kind = "unsupported report type"
	// ErrUnsupportedHashType means the report-data hash type is not SHA-256,
	// the only one the paravisor writes.
	ErrUnsupportedHashType format.Kind = "unsupported hash type"
	// ErrBadUserData means the runtime data's "user-data" is not 128 hex characters.
	ErrBadUserData format.Kind = "malformed user-data"
	// ErrKeyNotFound means no key with the requested kid is in the runtime data.
	ErrKeyNotFound format.Kind = "key not found"
	// ErrDuplicateKey means more than one key carries the requested kid.
	ErrDuplicateKey format.Kind = "duplicate key id"
	// ErrBadKey means a JWK is not an acceptable RSA public key.
	ErrBadKey format.Kind = "unacceptable key"
	// ErrBindingMismatch means the hardware report's REPORT_DATA does not bind
	// the runtime data (digest differs or the unused tail is not zero).
	ErrBindingMismatch format.Kind = "runtime data not bound by report data"
)

// FormatError reports which field or check of an HCL report or of its
// runtime data failed (Format "hcl"). It is the module's one format error.
type FormatError = format.Error

func fieldErr(field string, err error) error {
	return format.Field("hcl", field, err)
}
