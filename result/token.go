package result

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Bounds and defaults.
const (
	// MaxTokenBytes bounds a token (ours are about 1.5 KB).
	MaxTokenBytes = 16 << 10
	// DefaultLifetime is exp - iat of the tokens a Signer makes.
	DefaultLifetime = 5 * time.Minute
	// DefaultSkew is the clock skew Verify allows on exp, nbf and iat.
	DefaultSkew = 60 * time.Second
	// sigSize is the size of an ES256 signature: r || s.
	sigSize = 64
)

// AR4SI trustworthiness claim values (TrustVector).
const (
	// arAffirming (2): trustworthy instance, approved configuration and
	// executables, genuine hardware.
	arAffirming = 2
	// arContraindicated (96): an untrustworthy instance, hardware
	// recognised and contraindicated.
	arContraindicated = 96
)

// Signer makes attestation-result tokens with one P-256 key.
type Signer struct {
	key *ecdsa.PrivateKey
	kid string
	// Issuer is iss of every token.
	Issuer string
	// Audience is aud of every token; empty means none.
	Audience string
	// Lifetime is exp - iat; 0 means DefaultLifetime.
	Lifetime time.Duration
	// Build is ear.verifier-id's build (the version).
	Build string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSigner returns a Signer for a P-256 key and issuer.
func NewSigner(key *ecdsa.PrivateKey, issuer string) (*Signer, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("result: the signing key must be ECDSA P-256")
	}
	if issuer == "" {
		return nil, errors.New("result: no issuer")
	}
	j, err := PublicJWK(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, kid: j.Kid, Issuer: issuer}, nil
}

// KeyID returns the kid of the signer's key (its JWK thumbprint).
func (s *Signer) KeyID() string { return s.kid }

// Public returns the signer's public key.
func (s *Signer) Public() *ecdsa.PublicKey { return &s.key.PublicKey }

// Appraised describes one successful appraisal, for Issue.
type Appraised struct {
	// Claims are the verified claims.
	Claims *verify.Claims
	// Nonce is the attestation nonce.
	Nonce []byte
	// PolicyID is ear.appraisal-policy-id.
	PolicyID string
	// PCRsPinned are the PCR indexes the policy (or policies) pinned.
	PCRsPinned []int
	// Resource names the released resource, if any.
	Resource string
}

// Issue signs a token for an appraisal and returns it with its claims.
func (s *Signer) Issue(a Appraised) (string, *Claims, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().Unix()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, err
	}
	status, trust := StatusAffirming, TrustVector{InstanceIdentity: arAffirming, Configuration: arAffirming, Executables: arAffirming, Hardware: arAffirming}
	if a.Claims.Emulated {
		status, trust.InstanceIdentity, trust.Hardware = StatusContraindicated, arContraindicated, arContraindicated
	}
	c := &Claims{
		Profile: Profile, Issuer: s.Issuer, Audience: s.Audience,
		IssuedAt: t, NotBefore: t, Expiry: t + int64(orDefault(s.Lifetime, DefaultLifetime)/time.Second),
		ID: b64.EncodeToString(jti[:]), Nonce: b64.EncodeToString(a.Nonce),
		VerifierID: VerifierID{Developer: Developer, Build: s.Build},
		Submods: map[string]Appraisal{SubmodName: {
			Status:   status,
			Trust:    trust,
			PolicyID: a.PolicyID,
			CVM:      cvmClaims(a),
		}},
	}
	tok, err := s.Sign(c)
	return tok, c, err
}

// cvmClaims fills the "snp-vtpm" extension from verified claims.
func cvmClaims(a Appraised) CVM {
	v := a.Claims
	c := CVM{
		Platform: v.Platform, Product: v.Product, ChipID: v.ChipID, Measurement: v.LaunchMeasurement(),
		IDKeyDigest: v.IDKeyDigest, Paravisor: v.Paravisor, ParavisorVoucher: v.ParavisorVoucher, FreshReport: v.FreshReport,
		Emulated: v.Emulated, Resource: a.Resource, PCRsPinned: slices.Sorted(slices.Values(a.PCRsPinned)),
	}
	if c.PCRsPinned == nil {
		c.PCRsPinned = []int{}
	}
	if v.Platform != verify.PlatformTDX {
		tcb := v.ReportedTCB
		c.ReportedTCB = &tcb
	}
	if v.VMConfig != nil {
		c.VMUniqueID = v.VMConfig.VMUniqueID
	}
	if v.PCRs != nil {
		c.PCRs = make(map[string]verify.HexBytes, len(v.PCRs))
		for _, i := range slices.Sorted(maps.Keys(v.PCRs)) {
			c.PCRs[strconv.Itoa(i)] = v.PCRs[i]
		}
	}
	return c
}

// Sign signs c as it is and returns the compact token.
func (s *Signer) Sign(c *Claims) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{AlgES256, s.kid, "JWT"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hdr) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	der, err := ecdsa.SignASN1(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	sig, err := rawSignature(der)
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// rawSignature converts an ASN.1 ECDSA signature to r || s with low S, so
// that a token has exactly one valid signature encoding.
func rawSignature(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, errors.New("result: malformed ECDSA signature")
	}
	r, s := sig.R, sig.S
	n := elliptic.P256().Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	out := make([]byte, sigSize)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// KeySource returns the verification key a kid names; *KeySet implements it.
type KeySource interface {
	Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error)
}

// Config says what Verify trusts and expects.
type Config struct {
	// Keys supplies the verifier's public keys (its JWKS). Required.
	Keys KeySource
	// Issuer is the iss the token must carry. Required.
	Issuer string
	// Audience, when set, must equal aud; when empty, a token with an aud
	// is rejected (it is meant for another relying party).
	Audience string
	// Nonce, when non-nil, must be eat_nonce.
	Nonce []byte
	// Resource, when set, must be the token's snp-vtpm.resource: the
	// secret the verifier released with it (serve --secrets-dir). A relying
	// party that guards one resource sets it, so that a result issued for
	// another resource of the same verifier (same issuer, key and
	// audience), or for its single secret (no resource), is refused.
	Resource string
	// AllowEmulated accepts ear.status "contraindicated" of emulated
	// evidence (StatusContraindicated).
	AllowEmulated bool
	// Time is the verification time; zero means now.
	Time time.Time
	// Skew is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultSkew, negative means none.
	Skew time.Duration
}

// Verify checks token with cfg and returns its claims. Every failure is an
// *Error naming the check (see the package documentation for the order).
func Verify(ctx context.Context, token []byte, cfg Config) (*Claims, error) {
	if cfg.Keys == nil || cfg.Issuer == "" {
		return nil, errors.New("result: Config needs Keys and Issuer")
	}
	if len(token) > MaxTokenBytes {
		return nil, failf(CheckFormat, "the token is %d bytes, more than %d", len(token), MaxTokenBytes)
	}
	t, err := maa.Parse(token)
	if err != nil {
		if me, ok := errors.AsType[*maa.Error](err); ok {
			err = me.Err
		}
		return nil, &Error{Check: CheckFormat, Err: err}
	}
	if err := verifySignature(ctx, t, cfg.Keys); err != nil {
		return nil, err
	}
	var c Claims
	if err := strictjson.Unmarshal(t.Payload, &c, strictjson.Options{MaxBytes: MaxTokenBytes, MaxDepth: 8, RejectUnknown: true}); err != nil {
		return nil, &Error{Check: CheckClaims, Err: err}
	}
	if err := cfg.check(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// verifySignature checks alg and kid and the ES256 signature.
func verifySignature(ctx context.Context, t *maa.Token, keys KeySource) error {
	if t.Header.Alg != AlgES256 {
		return failf(CheckAlg, "alg %s: only %s is accepted", short(t.Header.Alg), AlgES256)
	}
	if t.Header.JKU != "" {
		return failf(CheckKey, "the header names a jku: keys are never taken from the token")
	}
	if t.Header.Kid == "" {
		return failf(CheckKey, "the header has no kid")
	}
	pub, err := keys.Key(ctx, t.Header.Kid)
	if err != nil {
		return &Error{Check: CheckKey, Err: err}
	}
	if len(t.Signature) != sigSize {
		return failf(CheckSignature, "the signature is %d bytes, want %d", len(t.Signature), sigSize)
	}
	r := new(big.Int).SetBytes(t.Signature[:32])
	s := new(big.Int).SetBytes(t.Signature[32:])
	if s.Cmp(new(big.Int).Rsh(elliptic.P256().Params().N, 1)) > 0 {
		return failf(CheckSignature, "the signature's S is not the low one (a re-encoded signature)")
	}
	digest := sha256.Sum256(t.SigningInput)
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return failf(CheckSignature, "the ES256 signature does not verify with key %s", short(t.Header.Kid))
	}
	return nil
}

// check runs the claim checks after the signature.
func (cfg *Config) check(c *Claims) error {
	if c.Profile != Profile {
		return failf(CheckProfile, "eat_profile %s, want %q", short(c.Profile), Profile)
	}
	a, ok := c.Submods[SubmodName]
	if !ok || len(c.Submods) != 1 {
		return failf(CheckProfile, "submods must hold exactly one submodule, %q", SubmodName)
	}
	if c.Issuer != cfg.Issuer {
		return failf(CheckIssuer, "iss %s, want %s", short(c.Issuer), short(cfg.Issuer))
	}
	switch {
	case cfg.Audience != "" && c.Audience != cfg.Audience:
		return failf(CheckAudience, "aud %s, want %s", short(c.Audience), short(cfg.Audience))
	case cfg.Audience == "" && c.Audience != "":
		// RFC 7519 4.1.3: a token for a named audience is not for a
		// relying party that does not identify itself as that audience.
		return failf(CheckAudience, "the token is for aud %s and no audience is expected (set the audience: result verify --audience)", short(c.Audience))
	}
	if err := cfg.checkTime(c); err != nil {
		return err
	}
	switch {
	case a.Status == StatusAffirming && !a.CVM.Emulated:
	case a.Status == StatusContraindicated && a.CVM.Emulated && cfg.AllowEmulated:
	case a.CVM.Emulated:
		return failf(CheckStatus, "ear.status %s of emulated evidence (a fake AMD or Intel chain); accepted only when emulated results are trusted (snp-vtpm result verify --trust-emulated)", short(a.Status))
	default:
		return failf(CheckStatus, "ear.status %s, want %q", short(a.Status), StatusAffirming)
	}
	if cfg.Nonce != nil && c.Nonce != b64.EncodeToString(cfg.Nonce) {
		return failf(CheckNonce, "eat_nonce %s, want %s", short(c.Nonce), b64.EncodeToString(cfg.Nonce))
	}
	if cfg.Resource != "" && a.CVM.Resource != cfg.Resource {
		if a.CVM.Resource == "" {
			return failf(CheckResource, "the result names no resource (the verifier's single secret was released), want resource %s", short(cfg.Resource))
		}
		return failf(CheckResource, "the result is for resource %s, want %s", short(a.CVM.Resource), short(cfg.Resource))
	}
	return nil
}

// checkTime checks exp, nbf and iat at cfg.Time with the skew.
func (cfg *Config) checkTime(c *Claims) error {
	now := cfg.Time
	if now.IsZero() {
		now = time.Now()
	}
	skew := int64(orDefault(cfg.Skew, DefaultSkew) / time.Second)
	if cfg.Skew < 0 {
		skew = 0
	}
	at := now.Unix()
	switch {
	case c.Expiry <= 0 || c.IssuedAt <= 0 || c.Expiry < c.IssuedAt:
		return failf(CheckExpired, "exp %d and iat %d are not a validity period", c.Expiry, c.IssuedAt)
	case at-skew >= c.Expiry:
		return failf(CheckExpired, "the token expired at %s (verification time %s, skew %ds)", unix(c.Expiry), unix(at), skew)
	case at+skew < c.NotBefore:
		return failf(CheckNotYetValid, "the token is valid from %s (verification time %s, skew %ds)", unix(c.NotBefore), unix(at), skew)
	case at+skew < c.IssuedAt:
		return failf(CheckNotYetValid, "the token was issued at %s, after the verification time %s (skew %ds)", unix(c.IssuedAt), unix(at), skew)
	}
	return nil
}

func unix(s int64) string { return time.Unix(s, 0).UTC().Format(time.RFC3339) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// PolicyID returns ear.appraisal-policy-id for policies: "sha256:" and the
// hex SHA-256 of their JSON (encoding/json of each Policy, not a policy
// file's bytes), one after the other, each followed by a newline.
func PolicyID(policies ...*verify.Policy) string {
	h := sha256.New()
	for _, p := range policies {
		b, _ := json.Marshal(p) // a Policy always marshals
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}
