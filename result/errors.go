package result

import (
	"errors"
	"fmt"
)

// Check names one check of a token's verification.
type Check string

// The checks, in the order Verify runs them.
const (
	// CheckFormat: compact JWS form, strict header JSON, bounded sizes.
	CheckFormat Check = "result-format"
	// CheckAlg: the header's alg is ES256.
	CheckAlg Check = "result-alg"
	// CheckKey: the header's kid names a key of the JWKS.
	CheckKey Check = "result-key"
	// CheckSignature: the ES256 signature (r||s, low S) verifies.
	CheckSignature Check = "result-signature"
	// CheckClaims: the payload is strict JSON of the expected shape.
	CheckClaims Check = "result-claims"
	// CheckProfile: eat_profile is Profile and submods holds one
	// submodule, SubmodName.
	CheckProfile Check = "result-profile"
	// CheckIssuer: iss equals the expected issuer.
	CheckIssuer Check = "result-issuer"
	// CheckAudience: aud equals the expected audience.
	CheckAudience Check = "result-audience"
	// CheckExpired: exp is after the verification time (less the skew).
	CheckExpired Check = "result-expired"
	// CheckNotYetValid: nbf and iat are before the verification time (plus
	// the skew).
	CheckNotYetValid Check = "result-not-yet-valid"
	// CheckStatus: ear.status is affirming (or warning for emulated
	// evidence, when allowed).
	CheckStatus Check = "result-status"
	// CheckNonce: eat_nonce is the expected nonce.
	CheckNonce Check = "result-nonce"
)

// ErrRejected is matched (errors.Is) by every *Error: the token was
// examined and rejected.
var ErrRejected = errors.New("attestation result rejected")

// Error is the one error of Verify: the failed check and why.
type Error struct {
	Check Check
	Err   error
}

// Error names the check and the reason.
func (e *Error) Error() string { return fmt.Sprintf("%s check failed: %v", e.Check, e.Err) }

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrRejected.
func (e *Error) Is(target error) bool { return target == ErrRejected }

func failf(check Check, format string, args ...any) error {
	return &Error{Check: check, Err: fmt.Errorf(format, args...)}
}

// short quotes at most 32 bytes of an attacker's string in errors.
func short(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return fmt.Sprintf("%q", s)
}
