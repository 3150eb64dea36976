package maa

import (
	"errors"
	"fmt"
)

// Check names one check of a token's verification.
type Check string

// The checks, in the order Verify runs them.
const (
	// CheckFormat: the compact JWS form, the header JSON, the sizes.
	CheckFormat Check = "maa-format"
	// CheckAlg: the header's alg is RS256.
	CheckAlg Check = "maa-alg"
	// CheckKey: the header's kid names a key of the configured JWKS.
	CheckKey Check = "maa-key"
	// CheckSignature: the RS256 signature verifies with that key.
	CheckSignature Check = "maa-signature"
	// CheckClaims: the payload is strict JSON of the expected types.
	CheckClaims Check = "maa-claims"
	// CheckIssuer: iss equals the configured instance.
	CheckIssuer Check = "maa-issuer"
	// CheckAudience: with no audience configured the token names no aud
	// (AzureGuest tokens have none; one that names an audience is meant
	// for that relying party); with Config.Audience, aud is a string or
	// an array of distinct non-empty strings that names it.
	CheckAudience Check = "maa-audience"
	// CheckExpired: exp is after the verification time (less the skew).
	CheckExpired Check = "maa-expired"
	// CheckNotYetValid: nbf (and iat) are before the verification time
	// (plus the skew).
	CheckNotYetValid Check = "maa-not-yet-valid"
	// CheckLifetime: iat and nbf present, exp after both, and exp - iat
	// and exp - nbf at most Config.MaxLifetime (DefaultMaxLifetime, 24 h;
	// MAA's tokens are valid 8 h).
	CheckLifetime Check = "maa-lifetime"
	// CheckNotCVM: the token attests a confidential VM (azurevm with an
	// SEV-SNP or TDX isolation TEE that MAA found azure-compliant-cvm).
	CheckNotCVM Check = "maa-not-cvm"
	// CheckVMPL: an SEV-SNP token's report was requested at VMPL 0 (by
	// the paravisor), as x-ms-sevsnpvm-vmpl says.
	CheckVMPL Check = "maa-vmpl"
	// CheckSecureBoot: secure boot on, in the token and in the VM
	// configuration.
	CheckSecureBoot Check = "maa-secureboot"
	// CheckDebug: every debug claim off.
	CheckDebug Check = "maa-debug"
	// CheckNonce: the client payload's nonce equals ours.
	CheckNonce Check = "maa-nonce"
	// CheckBinding: the token and our verified evidence describe the same
	// VM and report ([Bind]).
	CheckBinding Check = "maa-binding"
	// CheckJWKS: the JWKS could not be obtained or read (not a verdict on
	// the token; does not match ErrRejected).
	CheckJWKS Check = "maa-jwks"
)

// ErrRejected is matched (errors.Is) by every *Error except CheckJWKS: the
// token was examined and rejected.
var ErrRejected = errors.New("MAA token rejected")

// ErrJWKSUnavailable is matched by errors that say the signing keys could
// not be obtained: nothing was learnt about the token.
var ErrJWKSUnavailable = errors.New("MAA signing keys unavailable")

// Error is the one error of this package: the failed check and why.
type Error struct {
	Check Check
	Err   error
}

// Error names the check and the reason.
func (e *Error) Error() string { return fmt.Sprintf("%s check failed: %v", e.Check, e.Err) }

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrRejected (every check but CheckJWKS).
func (e *Error) Is(target error) bool { return target == ErrRejected && e.Check != CheckJWKS }

// failf returns an *Error for check with a formatted reason.
func failf(check Check, format string, args ...any) error {
	return &Error{Check: check, Err: fmt.Errorf(format, args...)}
}
