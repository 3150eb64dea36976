package evidence

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// inside a [*FormatError] naming the field, so callers can test the kind of
// failure with errors.Is.
var (
	// ErrTooLarge means the input, or an element of it, exceeds this package's limits.
	ErrTooLarge = errors.New("too large")
	// ErrTruncated means binary input ends before a field that must be present.
	ErrTruncated = errors.New("truncated")
	// ErrTrailingData means binary input continues after the last field.
	ErrTrailingData = errors.New("trailing data")
	// ErrBadJSON means the input is not JSON of the expected shape.
	ErrBadJSON = errors.New("malformed JSON")
	// ErrUnknownFormat means the JSON matches none of the known evidence formats.
	ErrUnknownFormat = errors.New("unknown evidence format")
	// ErrUnsupportedVersion means "version" is present but not 1 or 2.
	ErrUnsupportedVersion = errors.New("unsupported version")
	// ErrMissingField means a required field is absent, null or empty.
	ErrMissingField = errors.New("missing")
	// ErrUnexpectedField means a field of another format version is present.
	ErrUnexpectedField = errors.New("unexpected field for this format")
	// ErrBadEncoding means a hex, base64url or PEM field does not decode.
	ErrBadEncoding = errors.New("bad encoding")
	// ErrBadByte means an element of a JSON byte array is not an integer 0..255.
	ErrBadByte = errors.New("not a byte")
	// ErrBadLength means a field or element count has the wrong size.
	ErrBadLength = errors.New("bad length")
)

// FormatError reports which field of the evidence failed to decode. Err wraps
// one of the package's sentinel errors.
type FormatError struct {
	// Field is the JSON path of the failing field, e.g. "tpm_quote.pcrs[3]",
	// "hcl_report", or "document" for the input as a whole.
	Field string
	// Err says what is wrong with it.
	Err error
}

// Error implements error, e.g. "evidence: tpm_quote.pcrs[3]: bad length (31 bytes, want 32)".
func (e *FormatError) Error() string {
	return "evidence: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the underlying error, so errors.Is(err, ErrBadLength) works.
func (e *FormatError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error {
	return &FormatError{Field: field, Err: err}
}
