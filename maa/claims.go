package maa

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Claims are the typed claims of an AzureGuest token. Members MAA adds
// later are tolerated (and not reported); a duplicate member at any depth,
// a wrong type or a malformed hex value is an error.
type Claims struct {
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
	NotBefore int64  `json:"nbf"`
	ID        string `json:"jti,omitempty"`
	// Audience is aud as it is (a string or an array), nil when absent:
	// AzureGuest tokens have none, and Verify rejects a token that names
	// one (CheckAudience) unless Config.Audience is among its audiences
	// (Audiences).
	Audience jsontext.Value `json:"aud,omitempty"`
	// AttestationType is "azurevm" for AzureGuest tokens.
	AttestationType string `json:"x-ms-attestation-type"`
	Ver             string `json:"x-ms-ver,omitempty"`
	PolicyHash      string `json:"x-ms-policy-hash,omitempty"`
	// SecureBoot is "secureboot"; nil when absent.
	SecureBoot *bool `json:"secureboot,omitempty"`

	AzureVM
	// IsolationTEE is nil for a Trusted Launch (non-confidential) VM.
	IsolationTEE *IsolationTEE `json:"x-ms-isolation-tee,omitempty"`
	// Runtime is the token's own x-ms-runtime: the client payload and the
	// TPM's ephemeral key.
	Runtime *Runtime `json:"x-ms-runtime,omitempty"`
}

// AzureVM are the x-ms-azurevm-* claims: what MAA read from the TCG log
// and the TPM. Booleans and numbers are nil when the claim is absent. The
// policy requires the three *DebugEnabled false and DebuggersDisabled true.
type AzureVM struct {
	BootDebugEnabled       *bool  `json:"x-ms-azurevm-bootdebug-enabled,omitempty"`
	KernelDebugEnabled     *bool  `json:"x-ms-azurevm-kerneldebug-enabled,omitempty"`
	VMID                   string `json:"x-ms-azurevm-vmid,omitempty"`
	HypervisorDebugEnabled *bool  `json:"x-ms-azurevm-hypervisordebug-enabled,omitempty"`
	ProtocolVersion        string `json:"x-ms-azurevm-attestation-protocol-ver,omitempty"`
	DebuggersDisabled      *bool  `json:"x-ms-azurevm-debuggersdisabled,omitempty"`
	TestSigningEnabled     *bool  `json:"x-ms-azurevm-testsigning-enabled,omitempty"`
	FlightSigningEnabled   *bool  `json:"x-ms-azurevm-flightsigning-enabled,omitempty"`
	OSType                 string `json:"x-ms-azurevm-ostype,omitempty"`
	AttestedPCRs           []int  `json:"x-ms-azurevm-attested-pcrs,omitempty"`
	SigningDisabled        *bool  `json:"x-ms-azurevm-signingdisabled,omitempty"`
	ELAMEnabled            *bool  `json:"x-ms-azurevm-elam-enabled,omitempty"`
	DBValidated            *bool  `json:"x-ms-azurevm-dbvalidated,omitempty"`
	DBXValidated           *bool  `json:"x-ms-azurevm-dbxvalidated,omitempty"`
	OSDistro               string `json:"x-ms-azurevm-osdistro,omitempty"`
	DefaultKeysValidated   *bool  `json:"x-ms-azurevm-default-securebootkeysvalidated,omitempty"`
	IsWindows              *bool  `json:"x-ms-azurevm-is-windows,omitempty"`
	OSBuild                string `json:"x-ms-azurevm-osbuild,omitempty"`
	HVCIPolicy             *int   `json:"x-ms-azurevm-hvci-policy,omitempty"`
	OSVersionMajor         *int   `json:"x-ms-azurevm-osversion-major,omitempty"`
	OSVersionMinor         *int   `json:"x-ms-azurevm-osversion-minor,omitempty"`
}

// IsolationTEE is x-ms-isolation-tee: the hardware evidence MAA checked
// (the SNP report and the HCL runtime data).
type IsolationTEE struct {
	// AttestationType is TEESEVSNP or TEETDX.
	AttestationType string `json:"x-ms-attestation-type"`
	// ComplianceStatus is "azure-compliant-cvm" for a CVM running Azure's
	// paravisor.
	ComplianceStatus string `json:"x-ms-compliance-status"`
	// Runtime is the HCL runtime data (HCLAkPub, vm-configuration).
	Runtime *TEERuntime `json:"x-ms-runtime,omitempty"`
	SEVSNP
	TDX
}

// TDX are the claims of a tdxvm isolation TEE: fields of the TD quote
// MAA verified, named as in MAA's TDX EAT profile (the tdx_* claims and
// attester_tcb_status, dbgstat; see
// https://learn.microsoft.com/azure/attestation/trust-domain-extensions-eat-profile
// and the "Sample JWT generated for TDX attestation" of
// https://learn.microsoft.com/azure/attestation/attestation-token-examples).
// There are no x-ms-tdxvm-* claims. Hex members are the quote body's bytes
// as hex; booleans and numbers are nil when absent.
type TDX struct {
	// AttesterTCBStatus is Intel's TCB status of the platform ("UpToDate",
	// "OutOfDate", ...).
	AttesterTCBStatus string `json:"attester_tcb_status,omitempty"`
	// DbgStat is the EAT debug status ("disabled" when TD debug is off).
	DbgStat        string          `json:"dbgstat,omitempty"`
	MRConfigID     verify.HexBytes `json:"tdx_mrconfigid,omitempty"`
	MROwner        verify.HexBytes `json:"tdx_mrowner,omitempty"`
	MROwnerConfig  verify.HexBytes `json:"tdx_mrownerconfig,omitempty"`
	MRSEAM         verify.HexBytes `json:"tdx_mrseam,omitempty"`
	MRSignerSEAM   verify.HexBytes `json:"tdx_mrsignerseam,omitempty"`
	MRTD           verify.HexBytes `json:"tdx_mrtd,omitempty"`
	ReportData     verify.HexBytes `json:"tdx_report_data,omitempty"`
	RTMR0          verify.HexBytes `json:"tdx_rtmr0,omitempty"`
	RTMR1          verify.HexBytes `json:"tdx_rtmr1,omitempty"`
	RTMR2          verify.HexBytes `json:"tdx_rtmr2,omitempty"`
	RTMR3          verify.HexBytes `json:"tdx_rtmr3,omitempty"`
	SEAMAttributes verify.HexBytes `json:"tdx_seam_attributes,omitempty"`
	SEAMSVN        *uint32         `json:"tdx_seamsvn,omitempty"`
	TDAttributes   verify.HexBytes `json:"tdx_td_attributes,omitempty"`
	// TDAttributesDebug is TDATTRIBUTES' DEBUG bit; the policy requires it
	// false.
	TDAttributesDebug          *bool           `json:"tdx_td_attributes_debug,omitempty"`
	TDAttributesKeyLocker      *bool           `json:"tdx_td_attributes_key_locker,omitempty"`
	TDAttributesPerfmon        *bool           `json:"tdx_td_attributes_perfmon,omitempty"`
	TDAttributesProtectionKeys *bool           `json:"tdx_td_attributes_protection_keys,omitempty"`
	TDAttributesSEPTVEDisable  *bool           `json:"tdx_td_attributes_septve_disable,omitempty"`
	TEETCBSVN                  verify.HexBytes `json:"tdx_tee_tcb_svn,omitempty"`
	XFAM                       verify.HexBytes `json:"tdx_xfam,omitempty"`
}

// Platform returns the isolation TEE's type (TEESEVSNP, TEETDX, or what
// the token says), or "" for a token without x-ms-isolation-tee.
func (c *Claims) Platform() string {
	if c.IsolationTEE == nil {
		return ""
	}
	return c.IsolationTEE.AttestationType
}

// Emulated reports whether the token is the emulated MAA's (iss
// EmulatedIssuer): Verify accepts such a token only with
// Config.TrustEmulated, and a token signed by the emulated MAA's public
// test key only with that issuer, so a verified token is emulated exactly
// when this is true. Anyone can mint one: it proves nothing about a VM.
func (c *Claims) Emulated() bool { return c.Issuer == EmulatedIssuer }

// SEVSNP are the x-ms-sevsnpvm-* claims: fields of the SNP report.
// Numbers are nil when absent.
type SEVSNP struct {
	AuthorKeyDigest   verify.HexBytes `json:"x-ms-sevsnpvm-authorkeydigest,omitempty"`
	BootloaderSVN     *uint8          `json:"x-ms-sevsnpvm-bootloader-svn,omitempty"`
	FamilyID          verify.HexBytes `json:"x-ms-sevsnpvm-familyId,omitempty"`
	GuestSVN          *uint32         `json:"x-ms-sevsnpvm-guestsvn,omitempty"`
	HostData          verify.HexBytes `json:"x-ms-sevsnpvm-hostdata,omitempty"`
	IDKeyDigest       verify.HexBytes `json:"x-ms-sevsnpvm-idkeydigest,omitempty"`
	ImageID           verify.HexBytes `json:"x-ms-sevsnpvm-imageId,omitempty"`
	IsDebuggable      *bool           `json:"x-ms-sevsnpvm-is-debuggable,omitempty"`
	LaunchMeasurement verify.HexBytes `json:"x-ms-sevsnpvm-launchmeasurement,omitempty"`
	MicrocodeSVN      *uint8          `json:"x-ms-sevsnpvm-microcode-svn,omitempty"`
	MigrationAllowed  *bool           `json:"x-ms-sevsnpvm-migration-allowed,omitempty"`
	ReportData        verify.HexBytes `json:"x-ms-sevsnpvm-reportdata,omitempty"`
	ReportID          verify.HexBytes `json:"x-ms-sevsnpvm-reportid,omitempty"`
	SMTAllowed        *bool           `json:"x-ms-sevsnpvm-smt-allowed,omitempty"`
	SNPFwSVN          *uint8          `json:"x-ms-sevsnpvm-snpfw-svn,omitempty"`
	TEESVN            *uint8          `json:"x-ms-sevsnpvm-tee-svn,omitempty"`
	VMPL              *uint32         `json:"x-ms-sevsnpvm-vmpl,omitempty"`
	// The guest policy's newer bits as MAA reports them (2025): each is
	// the bit of GUEST_POLICY (snp.PolicySingle, PolicyCXLAllow,
	// PolicyMemAES256XTS, PolicyRAPLDis, PolicyCiphertextHiding,
	// PolicyPageSwapDisable); nil when absent (older tokens).
	SingleSocket                *bool `json:"x-ms-sevsnpvm-singlesocket,omitempty"`
	CXLAllowed                  *bool `json:"x-ms-sevsnpvm-cxl-allowed,omitempty"`
	MemAES256XTSRequired        *bool `json:"x-ms-sevsnpvm-mem-aes256-xts-required,omitempty"`
	RAPLDisabled                *bool `json:"x-ms-sevsnpvm-rapl-disabled,omitempty"`
	CiphertextHidingDRAMEnabled *bool `json:"x-ms-sevsnpvm-ciphertext-hiding-dram-enabled,omitempty"`
	PageSwapDisabled            *bool `json:"x-ms-sevsnpvm-page-swap-disabled,omitempty"`
}

// TEERuntime is x-ms-isolation-tee.x-ms-runtime: the HCL runtime data.
type TEERuntime struct {
	Keys            []JWK            `json:"keys,omitempty"`
	UserData        string           `json:"user-data,omitempty"`
	VMConfiguration *VMConfiguration `json:"vm-configuration,omitempty"`
}

// VMConfiguration is the runtime data's vm-configuration as MAA echoes it.
type VMConfiguration struct {
	ConsoleEnabled *bool  `json:"console-enabled,omitempty"`
	SecureBoot     *bool  `json:"secure-boot,omitempty"`
	TPMEnabled     *bool  `json:"tpm-enabled,omitempty"`
	VMUniqueID     string `json:"vmUniqueId,omitempty"`
}

// Runtime is the token's top-level x-ms-runtime.
type Runtime struct {
	// ClientPayload is the client's payload, member by member, as JSON.
	ClientPayload map[string]jsontext.Value `json:"client-payload,omitempty"`
	Keys          []JWK                     `json:"keys,omitempty"`
}

// JWK is an RSA public key as MAA echoes the TPM's keys.
type JWK struct {
	Kid    string   `json:"kid"`
	Kty    string   `json:"kty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
}

// maxClaimsDepth bounds the nesting of the payload.
const maxClaimsDepth = maxDepth

// ParseClaims parses a token's payload strictly (duplicate members at any
// depth, invalid UTF-8, wrong types and malformed hex rejected;
// CheckClaims). Parse only a payload whose signature was verified.
func ParseClaims(payload []byte) (*Claims, error) {
	var c Claims
	if err := strictjson.Unmarshal(payload, &c, strictjson.Options{MaxBytes: MaxTokenBytes, MaxDepth: maxClaimsDepth}); err != nil {
		return nil, &Error{Check: CheckClaims, Err: err}
	}
	return &c, nil
}

// Nonce returns the client payload's nonce string, or ok false when there
// is none (or it is not a JSON string).
func (c *Claims) Nonce() (string, bool) {
	if c.Runtime == nil {
		return "", false
	}
	raw, ok := c.Runtime.ClientPayload["nonce"]
	if !ok || raw.Kind() != '"' {
		return "", false
	}
	var s string
	if err := strictjson.Unmarshal(raw, &s, strictjson.Options{}); err != nil {
		return "", false
	}
	return s, true
}

// Audiences returns the audiences aud names: none (nil) when the token
// has no aud, the one string when aud is a string, the members of an
// array. RFC 7519 4.1.3 allows both forms; anything else is refused with
// an *Error of CheckAudience: another type (null, a number, an object), an
// empty array, a member that is no string, an empty string, or one that
// repeats another (compared after unescaping). Such an aud names no
// audience clearly: a verifier reading it otherwise would accept what
// this one refuses.
func (c *Claims) Audiences() ([]string, error) {
	if c.Audience == nil {
		return nil, nil
	}
	var raw []jsontext.Value
	switch c.Audience.Kind() {
	case '"':
		raw = []jsontext.Value{c.Audience}
	case '[':
		if err := strictjson.Unmarshal(c.Audience, &raw, strictjson.Options{MaxBytes: MaxTokenBytes, MaxDepth: maxClaimsDepth}); err != nil {
			return nil, &Error{Check: CheckAudience, Err: fmt.Errorf("aud: %w", err)}
		}
		if len(raw) == 0 {
			return nil, failf(CheckAudience, "aud is an empty array: it names no audience")
		}
	default:
		return nil, failf(CheckAudience, "aud is %s, want a string or an array of strings", format.Truncate(string(c.Audience), 32))
	}
	auds := make([]string, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for i, v := range raw {
		var s string
		if v.Kind() != '"' || strictjson.Unmarshal(v, &s, strictjson.Options{}) != nil {
			return nil, failf(CheckAudience, "aud member %d is %s, not a string", i, format.Truncate(string(v), 32))
		}
		switch {
		case s == "":
			return nil, failf(CheckAudience, "aud member %d is an empty string", i)
		case seen[s]:
			return nil, failf(CheckAudience, "aud names %q twice", format.Truncate(s, 64))
		}
		seen[s] = true
		auds = append(auds, s)
	}
	return auds, nil
}

// HCLAkPub returns the isolation TEE's attestation key (kid HCLAkPub).
func (c *Claims) HCLAkPub() (*rsa.PublicKey, error) {
	if c.IsolationTEE == nil || c.IsolationTEE.Runtime == nil {
		return nil, errors.New("the token has no HCL runtime data")
	}
	var found *JWK
	for i, k := range c.IsolationTEE.Runtime.Keys {
		if k.Kid == "HCLAkPub" {
			if found != nil {
				return nil, errors.New("the HCL runtime data lists HCLAkPub twice")
			}
			found = &c.IsolationTEE.Runtime.Keys[i]
		}
	}
	if found == nil {
		return nil, errors.New("the HCL runtime data has no HCLAkPub")
	}
	return found.RSA()
}

// RSA returns the key as an RSA public key: n and e unpadded base64url
// without leading zero octets (RFC 7518 Base64urlUInt), e of 1 to 4 octets.
func (k *JWK) RSA() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("key %q: kty %q, want RSA", format.Truncate(k.Kid, 32), format.Truncate(k.Kty, 32))
	}
	n, err1 := format.Base64(b64, k.N)
	e, err2 := format.Base64(b64, k.E)
	// RFC 7518 Base64urlUInt: the minimum number of octets, so a leading
	// zero octet (of n or of e) is a second spelling of the key.
	if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 || e[0] == 0 {
		return nil, fmt.Errorf("key %q: malformed n or e", format.Truncate(k.Kid, 32))
	}
	exp := new(big.Int).SetBytes(e)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
}

// NonceClaim is the client-payload nonce a token carries for nonce: its
// standard base64 encoding with padding (the convention of Azure's guest
// attestation library).
func NonceClaim(nonce []byte) string { return base64.StdEncoding.EncodeToString(nonce) }

// NewJWK returns pub as MAA echoes a TPM key: kid, kty RSA, key_ops, and
// n and e in unpadded base64url.
func NewJWK(kid string, keyOps []string, pub *rsa.PublicKey) JWK {
	return JWK{Kid: kid, Kty: "RSA", KeyOps: keyOps, N: b64.EncodeToString(pub.N.Bytes()),
		E: b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}
