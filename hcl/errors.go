package hcl

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (inside a [*FormatError] that names the field), so callers can test the
// kind of failure with errors.Is.
var (
	// ErrTruncated means the input ends before a field that must be present.
	ErrTruncated = errors.New("truncated")
	// ErrTooLarge means the input, or a size field, exceeds this package's limits.
	ErrTooLarge = errors.New("too large")
	// ErrExceedsBlob means a size field points past the end of the blob.
	ErrExceedsBlob = errors.New("exceeds blob")
	// ErrBadMagic means the blob does not start with "HCLA".
	ErrBadMagic = errors.New("bad magic")
	// ErrUnsupportedVersion means a version field has a value this package does not accept.
	ErrUnsupportedVersion = errors.New("unsupported version")
	// ErrSizeMismatch means two size fields disagree with each other.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrUnexpectedValue means a fixed-value header field has another value.
	ErrUnexpectedValue = errors.New("unexpected value")
	// ErrNonZero means bytes that must be zero (reserved fields, padding) are not.
	ErrNonZero = errors.New("non-zero bytes")
	// ErrUnsupportedReportType means the report type is not SNP or TDX.
	ErrUnsupportedReportType = errors.New("unsupported report type")
	// ErrUnsupportedHashType means the report-data hash type is not SHA-256,
	// the only one the paravisor writes.
	ErrUnsupportedHashType = errors.New("unsupported hash type")
	// ErrEmpty means a field that must not be empty is empty.
	ErrEmpty = errors.New("empty")
	// ErrBadJSON means the runtime data is not a valid JSON object of the expected shape.
	ErrBadJSON = errors.New("malformed JSON")
	// ErrBadUserData means the runtime data's "user-data" is not 128 hex characters.
	ErrBadUserData = errors.New("malformed user-data")
	// ErrKeyNotFound means no key with the requested kid is in the runtime data.
	ErrKeyNotFound = errors.New("key not found")
	// ErrDuplicateKey means more than one key carries the requested kid.
	ErrDuplicateKey = errors.New("duplicate key id")
	// ErrBadKey means a JWK is not an acceptable RSA public key.
	ErrBadKey = errors.New("unacceptable key")
	// ErrBindingMismatch means the hardware report's REPORT_DATA does not bind
	// the runtime data (digest differs or the unused tail is not zero).
	ErrBindingMismatch = errors.New("runtime data not bound by report data")
)

// FormatError reports which field or check of an HCL report or of its runtime
// data failed. Err wraps one of the package's sentinel errors.
type FormatError struct {
	// Field names the failing field (e.g. "variable_data_size",
	// "runtime_data.keys[HCLAkPub].n") or check (e.g. "binding").
	Field string
	// Err says what is wrong with it.
	Err error
}

// Error implements error, e.g. "hcl: variable_data_size: exceeds blob (2000 > 812)".
func (e *FormatError) Error() string {
	return "hcl: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, so errors.Is(err, ErrTruncated) works.
func (e *FormatError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error {
	return &FormatError{Field: field, Err: err}
}
