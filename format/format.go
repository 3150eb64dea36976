// Package format holds the one error type of the module's parsers (hcl,
// evidence, quote) and the kinds of format failure they share.
//
// Every parse failure is an [*Error] that names the format and the failing
// field and wraps one of the sentinel kinds below, so that callers test the
// kind with errors.Is whatever the format, and test "any format failure"
// with errors.Is(err, [ErrMalformed]):
//
//	if errors.Is(err, format.ErrTruncated) { ... }
//	var fe *format.Error
//	if errors.As(err, &fe) { log.Print(fe.Field) }
//
// The package does no I/O.
package format

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Kind is a kind of failure: a sentinel error, compared with errors.Is.
// Kinds are constants, so no package can reassign one.
type Kind string

// Error implements error: the kind's text.
func (k Kind) Error() string { return string(k) }

// Sentinel kinds of format failure, shared by every parser of the module.
// Package-specific failures (a missing key, a binding mismatch) stay in the
// package that finds them.
const (
	// ErrMalformed is matched by every [*Error]: the input is malformed.
	ErrMalformed Kind = "malformed"
	// ErrTruncated means the input ends before a field that must be present.
	ErrTruncated Kind = "truncated"
	// ErrTooLarge means the input, a size field or an element count exceeds a limit.
	ErrTooLarge Kind = "too large"
	// ErrTrailingData means the input continues after the last field.
	ErrTrailingData Kind = "trailing data"
	// ErrExceedsBlob means a size field points past the end of the input.
	ErrExceedsBlob Kind = "exceeds blob"
	// ErrBadMagic means the input does not start with the format's magic.
	ErrBadMagic Kind = "bad magic"
	// ErrUnsupportedVersion means a version field has a value that is not accepted.
	ErrUnsupportedVersion Kind = "unsupported version"
	// ErrSizeMismatch means two size fields, or a size and the data, disagree.
	ErrSizeMismatch Kind = "size mismatch"
	// ErrUnexpectedValue means a field with fixed or enumerated values has another value.
	ErrUnexpectedValue Kind = "unexpected value"
	// ErrNonZero means bytes that must be zero (reserved fields, padding) are not.
	ErrNonZero Kind = "non-zero bytes"
	// ErrEmpty means a field that must not be empty is empty.
	ErrEmpty Kind = "empty"
	// ErrMissingField means a required field is absent, null or empty.
	ErrMissingField Kind = "missing"
	// ErrUnexpectedField means a field of another format version is present.
	ErrUnexpectedField Kind = "unexpected field for this format"
	// ErrBadJSON means the input is not JSON of the expected shape.
	ErrBadJSON Kind = "malformed JSON"
	// ErrBadEncoding means a hex, base64url or PEM field does not decode.
	ErrBadEncoding Kind = "bad encoding"
	// ErrBadByte means an element of a JSON byte array is not an integer 0..255.
	ErrBadByte Kind = "not a byte"
	// ErrBadLength means a field or an element count has the wrong size.
	ErrBadLength Kind = "bad length"
)

// Error reports which field of which format failed. It matches
// [ErrMalformed] and, through Err, the kind of the failure.
type Error struct {
	// Format names the format and prefixes the message: "hcl", "evidence", "quote".
	Format string
	// Field names the failing field (e.g. "variable_data_size",
	// "tpm_quote.pcrs[3]", "pcrSelect[0].sizeofSelect"), a check (e.g.
	// "binding"), or the input as a whole ("blob", "document", "message").
	Field string
	// Err says what is wrong; it wraps one of the sentinel kinds.
	Err error
}

// Error implements error, e.g. "hcl: variable_data_size: exceeds blob (2000 > 812)".
func (e *Error) Error() string {
	return e.Format + ": " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns Err, so errors.Is(err, ErrTruncated) works.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrMalformed.
func (e *Error) Is(target error) bool { return target == ErrMalformed }

// Field returns a *Error of format for field wrapping err.
func Field(format, field string, err error) error {
	return &Error{Format: format, Field: field, Err: err}
}

// Fieldf returns a *Error of format for field whose Err wraps kind with a
// detail: "<kind> (<detail>)", e.g. "too large (5000 > 2048 bytes)".
func Fieldf(format, field string, kind error, detail string, args ...any) error {
	return &Error{Format: format, Field: field, Err: fmt.Errorf("%w ("+detail+")", append([]any{kind}, args...)...)}
}

// Rename sets the field of err when it is a *Error (made with a
// placeholder name, or by a helper that does not know the path) and
// returns err.
func Rename(err error, field string) error {
	if fe, ok := err.(*Error); ok {
		fe.Field = field
	}
	return err
}

// BadJSON returns err, the error of a JSON decoder, as an ErrBadJSON:
// err itself when it is one already (the strict decoder's syntax errors
// are), so that the message says "malformed JSON" once, else wrapped.
func BadJSON(err error) error {
	if errors.Is(err, ErrBadJSON) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadJSON, err)
}

// AllZero reports whether every byte of b is zero (reserved fields,
// padding: what [ErrNonZero] is about). It reads all of b whatever its
// content, so its time does not depend on where a non-zero byte is.
func AllZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}

// Truncate returns s cut to at most n bytes on a rune boundary, with
// "..." marking a cut: how a string from the input (a member name, a
// certificate's common name, a flag's value) is quoted in an error, so
// that the message's length does not follow the input's. Quoted with %q,
// the result is at most 4n+5 bytes.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
