package result

import (
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Check names one check of a token's verification.
type Check string

// The checks of a token's form and signature, in the order Verify runs
// them, before anything of the payload is read.
const (
	CheckFormat    = Check("result-format")    // compact JWS form, strict header JSON, bounded sizes
	CheckAlg       = Check("result-alg")       // the header's alg is ES256 (none, HS*, RS* rejected)
	CheckKey       = Check("result-key")       // the header's kid names a key of the JWKS; no jku
	CheckSignature = Check("result-signature") // the ES256 signature (r || s, low S) verifies
)

// The checks of the claims, in the order Verify runs them after the
// signature.
const (
	CheckClaims      = Check("result-claims")        // strict JSON of the expected shape
	CheckProfile     = Check("result-profile")       // eat_profile is Profile, submods holds SubmodName only
	CheckIssuer      = Check("result-issuer")        // iss equals the expected issuer
	CheckAudience    = Check("result-audience")      // aud equals the expected audience; no aud when none is expected
	CheckExpired     = Check("result-expired")       // exp after the verification time (less the skew)
	CheckNotYetValid = Check("result-not-yet-valid") // nbf and iat before the verification time (plus the skew)
	CheckStatus      = Check("result-status")        // ear.status affirming (contraindicated: emulated, when allowed)
	CheckNonce       = Check("result-nonce")         // eat_nonce is the expected nonce
	CheckResource    = Check("result-resource")      // snp-vtpm.resource is the expected resource
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
func (e *Error) Error() string { return string(e.Check) + " check failed: " + e.Err.Error() }

// Unwrap returns the reason and ErrRejected, so that errors.Is matches both.
func (e *Error) Unwrap() []error { return []error{e.Err, ErrRejected} }

func failf(check Check, format string, args ...any) error {
	return &Error{Check: check, Err: fmt.Errorf(format, args...)}
}

// short quotes at most 32 bytes of an attacker's string in errors.
func short(s string) string {
	return fmt.Sprintf("%q", format.Truncate(s, 32))
}
