package kds

import (
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
)

// Sentinel errors, usable with errors.Is.
var (
	// ErrNotFound: KDS (or IMDS) answered 404. Matched by *HTTPError.
	ErrNotFound = httpget.ErrNotFound
	// ErrRateLimited: KDS answered 429. Matched by *HTTPError.
	ErrRateLimited = httpget.ErrRateLimited
	// ErrInvalidCertificate: a fetched or cached certificate or CRL failed
	// validation (or a response was larger than its bound).
	ErrInvalidCertificate = errors.New("invalid certificate")
	// ErrUnsupportedProduct: the product line is not Milan, Genoa or Turin, or has no pinned ARK.
	ErrUnsupportedProduct = errors.New("unsupported product")
	// ErrInvalidRequest: a request argument is malformed (e.g. chip id length).
	ErrInvalidRequest = errors.New("invalid request")
)

// HTTPError reports a response with a status other than 200 OK. It matches
// ErrNotFound (404) and ErrRateLimited (429) with errors.Is; the same type
// serves KDS and IMDS.
type HTTPError = httpget.HTTPError

// RetryableStatus reports whether KDS answering code is worth a retry
// (408, 429, 5xx): a failure of the path to KDS, not an answer about the
// certificate.
func RetryableStatus(code int) bool { return httpget.Retryable(code) }

func errorsIsTooLarge(err error) bool { return errors.Is(err, httpget.ErrTooLarge) }

// MismatchError reports a VCEK whose extensions do not match the request. It
// matches ErrInvalidCertificate with errors.Is.
type MismatchError struct {
	// Field is the mismatching extension: "productName", "hwID" or "TCB".
	Field string
	// Want is the expected value, Got the certificate's, both printable.
	Want, Got string
}

// Error implements error.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("kds: VCEK %s mismatch: want %s, got %s", e.Field, e.Want, e.Got)
}

// Is reports whether target is ErrInvalidCertificate.
func (e *MismatchError) Is(target error) bool { return target == ErrInvalidCertificate }
