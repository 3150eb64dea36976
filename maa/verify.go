package maa

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// DefaultSkew is the clock skew allowed on exp, nbf and iat: 60 seconds.
const DefaultSkew = 60 * time.Second

// DefaultMaxLifetime is the longest validity period (exp - iat, and
// exp - nbf) Verify accepts by default: 24 hours. MAA issues every token
// with iat, nbf and exp, valid 8 hours (exp - iat = 28800 s in each real
// token of testdata/maa); the bound leaves room for that to grow while
// refusing a token minted to be replayed for days or years.
const DefaultMaxLifetime = 24 * time.Hour

// Values the default claims policy requires.
const (
	// AttestationTypeAzureVM is x-ms-attestation-type of AzureGuest tokens.
	AttestationTypeAzureVM = "azurevm"
	// TEESEVSNP is the isolation TEE type of an SEV-SNP CVM.
	TEESEVSNP = "sevsnpvm"
	// TEETDX is the isolation TEE type of an Intel TDX CVM.
	TEETDX = "tdxvm"
	// DbgStatDisabled is the TDX dbgstat claim of a TD without debug.
	DbgStatDisabled = "disabled"
	// ComplianceAzureCVM is the compliance status of a CVM running Azure's
	// paravisor.
	ComplianceAzureCVM = "azure-compliant-cvm"
)

// Config says what Verify trusts and expects.
type Config struct {
	// Keys supplies the signing keys by kid (a *KeySet from a JWKS file,
	// or a *Fetcher of the instance). Required.
	Keys KeySource
	// Issuer is the instance URL iss must equal (a trailing slash is
	// ignored here, not in the token). Required.
	Issuer string
	// Time is the verification time; zero means now.
	Time time.Time
	// Skew is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultSkew, negative means none.
	Skew time.Duration
	// Audience is the relying party's own audience. When set, the token
	// must name it in aud: aud a string equal to it, or an array of
	// distinct non-empty strings one of which equals it (RFC 7519 4.1.3;
	// compared exactly, case and trailing slash included). When empty, a
	// token naming any aud is rejected: AzureGuest tokens name none unless
	// a custom attestation policy adds one, and a token for an audience is
	// not for a verifier that is none. Either way an aud of another type
	// (a number, null, an empty array, an array with a non-string, empty
	// or repeated member) is rejected (CheckAudience).
	Audience string
	// MaxLifetime bounds the token's validity period: exp - iat and
	// exp - nbf must be at most this long (CheckLifetime). 0 means
	// DefaultMaxLifetime; a negative value is a configuration error.
	MaxLifetime time.Duration
	// Nonce, when non-nil, must be the client payload's nonce: the claim
	// must equal NonceClaim(Nonce).
	Nonce []byte
	// TrustEmulated accepts tokens of the emulated MAA (package
	// maa/fakemaa: EmulatedIssuer, its public test key). Without it such
	// a token is rejected (ErrEmulated) whatever Keys holds. Even with it,
	// a token signed by the emulated MAA's key must name EmulatedIssuer:
	// that key never signs for another instance.
	TrustEmulated bool
}

// Verify verifies token (compact JWS) with cfg and returns its claims.
// Every failure is an *Error naming the check; see the package
// documentation for the order.
func Verify(ctx context.Context, token []byte, cfg Config) (*Claims, error) {
	if cfg.Keys == nil || cfg.Issuer == "" {
		return nil, errors.New("maa: Config needs Keys and Issuer")
	}
	if cfg.MaxLifetime < 0 {
		return nil, fmt.Errorf("maa: Config.MaxLifetime %s is negative (0 means DefaultMaxLifetime, %s)", cfg.MaxLifetime, DefaultMaxLifetime)
	}
	t, err := Parse(token)
	if err != nil {
		return nil, err
	}
	emulatedKey, err := verifySignature(ctx, t, cfg.Keys, cfg.TrustEmulated)
	if err != nil {
		return nil, err
	}
	c, err := ParseClaims(t.Payload)
	if err != nil {
		return nil, err
	}
	if emulatedKey && c.Issuer != EmulatedIssuer {
		// Anyone can sign with the public test key: a token it signed is
		// the emulated MAA's, never an instance's of another name.
		return nil, failf(CheckIssuer, "the token is signed by the emulated MAA's public test key but its iss is %q, not %s: a token of that key is never another instance's", format.Truncate(c.Issuer, 64), EmulatedIssuer)
	}
	if err := cfg.checkTime(c); err != nil {
		return nil, err
	}
	if err := cfg.checkPolicy(c); err != nil {
		return nil, err
	}
	return c, nil
}

// verifySignature checks alg, selects the key by kid only and verifies the
// RS256 signature over the signing input. emulated reports that the key is
// the emulated MAA's (accepted only with trustEmulated).
func verifySignature(ctx context.Context, t *Token, keys KeySource, trustEmulated bool) (emulated bool, err error) {
	if t.Header.Alg != AlgRS256 {
		return false, failf(CheckAlg, "alg %q: only RS256 is accepted", format.Truncate(t.Header.Alg, 32))
	}
	if t.Header.Kid == "" {
		return false, failf(CheckKey, "the header has no kid")
	}
	pub, err := keys.Key(ctx, t.Header.Kid)
	if err != nil {
		if errors.Is(err, ErrUnknownKid) || errors.Is(err, ErrRefusedKey) {
			return false, &Error{Check: CheckKey, Err: err}
		}
		return false, err
	}
	emulated = isEmulatedKey(pub)
	if !trustEmulated && emulated {
		return false, &Error{Check: CheckKey, Err: ErrEmulated}
	}
	if len(t.Signature) != pub.Size() {
		return false, failf(CheckSignature, "the signature is %d bytes, the key's modulus %d", len(t.Signature), pub.Size())
	}
	digest := sha256.Sum256(t.SigningInput)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], t.Signature); err != nil {
		return false, failf(CheckSignature, "the RS256 signature does not verify with key %q", format.Truncate(t.Header.Kid, 32))
	}
	return emulated, nil
}

// checkTime checks iss, aud (checkAudience), and exp, nbf and iat at
// cfg.Time, then the validity period (checkLifetime).
func (cfg *Config) checkTime(c *Claims) error {
	if c.Issuer == EmulatedIssuer && !cfg.TrustEmulated {
		return &Error{Check: CheckIssuer, Err: ErrEmulated}
	}
	if want := strings.TrimRight(cfg.Issuer, "/"); c.Issuer != want {
		return failf(CheckIssuer, "iss is %q, want %q", format.Truncate(c.Issuer, 32), want)
	}
	if err := cfg.checkAudience(c); err != nil {
		return err
	}
	now := cfg.Time
	if now.IsZero() {
		now = time.Now()
	}
	skew := cfg.Skew
	switch {
	case skew == 0:
		skew = DefaultSkew
	case skew < 0:
		skew = 0
	}
	at := now.Unix()
	s := int64(skew / time.Second)
	switch {
	case c.Expiry == 0:
		return failf(CheckExpired, "the token has no exp")
	case at-s >= c.Expiry:
		return failf(CheckExpired, "the token expired at %s (verification time %s, skew %s)", unix(c.Expiry), now.UTC().Format(time.RFC3339), skew)
	case c.NotBefore != 0 && at+s < c.NotBefore:
		return failf(CheckNotYetValid, "the token is valid from %s (verification time %s, skew %s)", unix(c.NotBefore), now.UTC().Format(time.RFC3339), skew)
	case c.IssuedAt != 0 && at+s < c.IssuedAt:
		return failf(CheckNotYetValid, "the token was issued at %s, after the verification time %s (skew %s)", unix(c.IssuedAt), now.UTC().Format(time.RFC3339), skew)
	}
	return cfg.checkLifetime(c)
}

// checkAudience requires no aud when cfg.Audience is empty, else an aud
// that names cfg.Audience (Claims.Audiences).
func (cfg *Config) checkAudience(c *Claims) error {
	if c.Audience == nil {
		if cfg.Audience != "" {
			return failf(CheckAudience, "the token names no aud, want %q", format.Truncate(cfg.Audience, 64))
		}
		return nil
	}
	if cfg.Audience == "" {
		// RFC 7519 4.1.3: a token naming an audience is not for a
		// verifier that is none (AzureGuest tokens name none).
		return failf(CheckAudience, "the token is for aud %s; no audience is expected", format.Truncate(string(c.Audience), 64))
	}
	auds, err := c.Audiences()
	if err != nil {
		return err
	}
	if !slices.Contains(auds, cfg.Audience) {
		return failf(CheckAudience, "the token is for aud %s, not %q", format.Truncate(string(c.Audience), 64), format.Truncate(cfg.Audience, 64))
	}
	return nil
}

// checkLifetime requires iat and nbf (MAA issues both with every token),
// exp after both, and exp - iat and exp - nbf at most cfg.MaxLifetime
// (DefaultMaxLifetime when 0).
func (cfg *Config) checkLifetime(c *Claims) error {
	limit := cfg.MaxLifetime
	if limit == 0 {
		limit = DefaultMaxLifetime
	}
	switch {
	case c.IssuedAt == 0:
		return failf(CheckLifetime, "the token has no iat (MAA issues every token with iat, nbf and exp)")
	case c.NotBefore == 0:
		return failf(CheckLifetime, "the token has no nbf (MAA issues every token with iat, nbf and exp)")
	case c.IssuedAt < 0 || c.NotBefore < 0:
		return failf(CheckLifetime, "iat %d and nbf %d are not both after 1970", c.IssuedAt, c.NotBefore)
	}
	start := min(c.IssuedAt, c.NotBefore)
	if c.Expiry <= max(c.IssuedAt, c.NotBefore) {
		return failf(CheckLifetime, "exp %s is not after iat %s and nbf %s", unix(c.Expiry), unix(c.IssuedAt), unix(c.NotBefore))
	}
	// start > 0 and c.Expiry > start: the difference cannot overflow.
	if life := c.Expiry - start; life > int64(limit/time.Second) {
		return failf(CheckLifetime, "the token is valid for %s (from %s to exp %s), longer than the %s allowed", time.Duration(min(life, int64(math.MaxInt64/time.Second)))*time.Second, unix(start), unix(c.Expiry), limit)
	}
	return nil
}

func unix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

// checkPolicy is the default claims policy: a compliant SEV-SNP or TDX CVM
// (an SEV-SNP report of VMPL 0), secure boot on, no debugging, and our
// nonce.
func (cfg *Config) checkPolicy(c *Claims) error {
	if c.AttestationType != AttestationTypeAzureVM {
		return failf(CheckNotCVM, "x-ms-attestation-type is %q, want %q (an AzureGuest token)", format.Truncate(c.AttestationType, 32), AttestationTypeAzureVM)
	}
	tee := c.IsolationTEE
	switch {
	case tee == nil:
		return failf(CheckNotCVM, "not a confidential VM: the token has no x-ms-isolation-tee (a Trusted Launch or standard VM)")
	case tee.AttestationType != TEESEVSNP && tee.AttestationType != TEETDX:
		return failf(CheckNotCVM, "not an SEV-SNP or TDX confidential VM: x-ms-isolation-tee type %q, want %q or %q", format.Truncate(tee.AttestationType, 32), TEESEVSNP, TEETDX)
	case tee.ComplianceStatus != ComplianceAzureCVM:
		return failf(CheckNotCVM, "x-ms-compliance-status is %q, want %q", format.Truncate(tee.ComplianceStatus, 32), ComplianceAzureCVM)
	}
	if tee.AttestationType == TEESEVSNP && (tee.VMPL == nil || *tee.VMPL != 0) {
		// Our verifier requires VMPL 0 of every HCL report: below it the
		// REPORT_DATA, hence HCLAkPub and every TPM claim, is the guest's.
		return failf(CheckVMPL, "x-ms-sevsnpvm-vmpl is %s, want 0 (a report the paravisor requested)", numString(tee.VMPL))
	}
	if !isTrue(c.SecureBoot) {
		return failf(CheckSecureBoot, "secureboot is %s, want true", boolString(c.SecureBoot))
	}
	if rt := tee.Runtime; rt != nil && rt.VMConfiguration != nil && rt.VMConfiguration.SecureBoot != nil && !*rt.VMConfiguration.SecureBoot {
		return failf(CheckSecureBoot, "the VM configuration says secure-boot false")
	}
	if err := checkDebug(c); err != nil {
		return err
	}
	return cfg.checkNonce(c)
}

// checkDebug requires every debug claim false (and debuggersdisabled
// true); an absent claim fails, as it proves nothing.
func checkDebug(c *Claims) error {
	tee := c.IsolationTEE
	hw := struct {
		name string
		v    *bool
	}{"x-ms-sevsnpvm-is-debuggable", tee.IsDebuggable}
	if tee.AttestationType == TEETDX {
		hw.name, hw.v = "tdx_td_attributes_debug", tee.TDAttributesDebug
		if tee.DbgStat != "" && tee.DbgStat != DbgStatDisabled {
			return failf(CheckDebug, "dbgstat is %q, want %q", format.Truncate(tee.DbgStat, 32), DbgStatDisabled)
		}
	}
	off := []struct {
		name string
		v    *bool
	}{
		hw,
		{"x-ms-azurevm-bootdebug-enabled", c.BootDebugEnabled},
		{"x-ms-azurevm-kerneldebug-enabled", c.KernelDebugEnabled},
		{"x-ms-azurevm-hypervisordebug-enabled", c.HypervisorDebugEnabled},
	}
	for _, d := range off {
		if d.v == nil || *d.v {
			return failf(CheckDebug, "%s is %s, want false", d.name, boolString(d.v))
		}
	}
	if !isTrue(c.DebuggersDisabled) {
		return failf(CheckDebug, "x-ms-azurevm-debuggersdisabled is %s, want true", boolString(c.DebuggersDisabled))
	}
	return nil
}

// checkNonce compares the client payload's nonce with NonceClaim(cfg.Nonce).
func (cfg *Config) checkNonce(c *Claims) error {
	if cfg.Nonce == nil {
		return nil
	}
	want := NonceClaim(cfg.Nonce)
	got, ok := c.Nonce()
	if !ok {
		return failf(CheckNonce, "the client payload has no nonce string, want %q", want)
	}
	if got != want {
		return failf(CheckNonce, "the client payload's nonce is %q, want %q (base64 of our nonce)", format.Truncate(got, 32), want)
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func boolString(b *bool) string {
	if b == nil {
		return "absent"
	}
	return fmt.Sprint(*b)
}
