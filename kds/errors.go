package kds

import (
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"
)

// Sentinel errors, usable with errors.Is.
var (
	// ErrOffline: the Client is Offline and the cache cannot answer.
	ErrOffline = errors.New("kds: offline and not cached")
	// ErrNotFound: KDS (or IMDS) answered 404. Matched by *HTTPError.
	ErrNotFound = errors.New("kds: not found")
	// ErrRateLimited: KDS answered 429. Matched by *HTTPError.
	ErrRateLimited = errors.New("kds: rate limited")
	// ErrRevoked: a certificate is on the product's CRL. Matched by *RevokedError.
	ErrRevoked = errors.New("kds: certificate revoked")
	// ErrInvalidCertificate: a fetched or cached certificate or CRL failed validation.
	ErrInvalidCertificate = errors.New("kds: invalid certificate")
	// ErrUnsupportedProduct: the product line is not Milan, Genoa or Turin, or has no pinned ARK.
	ErrUnsupportedProduct = errors.New("kds: unsupported product")
	// ErrInvalidRequest: a request argument is malformed (e.g. chip id length).
	ErrInvalidRequest = errors.New("kds: invalid request")
)

// HTTPError reports a response with a status other than 200 OK. It matches
// ErrNotFound (404) and ErrRateLimited (429) with errors.Is.
type HTTPError struct {
	// URL is the requested URL.
	URL string
	// StatusCode is the HTTP status code of the (last) response.
	StatusCode int
	// RetryAfter is the delay the server asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("kds: GET %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (Retry-After %s)", e.RetryAfter)
	}
	return s
}

// Is reports whether e matches ErrNotFound or ErrRateLimited.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	}
	return false
}

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

// RevokedError reports a certificate listed on a CRL. It matches ErrRevoked.
type RevokedError struct {
	// Serial is the revoked certificate's serial number.
	Serial *big.Int
	// Subject is the revoked certificate's subject.
	Subject string
	// RevokedAt is the revocation time from the CRL.
	RevokedAt time.Time
}

// Error implements error.
func (e *RevokedError) Error() string {
	return fmt.Sprintf("kds: certificate %q serial %s revoked at %s", e.Subject, e.Serial, e.RevokedAt.UTC().Format(time.RFC3339))
}

// Is reports whether target is ErrRevoked.
func (e *RevokedError) Is(target error) bool { return target == ErrRevoked }
