package result

import (
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Token format constants.
const (
	// AlgES256 is the only signature algorithm: ECDSA P-256 SHA-256.
	AlgES256 = "ES256"
	// Profile is eat_profile: this EAR profile of snp-vtpm.
	Profile = "tag:snp-vtpm.github.io,2026:ear/v1"
	// SubmodName is the one submodule of submods: the attested CVM.
	SubmodName = "cvm"
	// StatusAffirming is ear.status of a verified CVM on real hardware.
	StatusAffirming = "affirming"
	// StatusContraindicated is ear.status of verified evidence of the
	// emulated CVM (the verifier was told to trust a fake AMD or Intel
	// chain): its hardware is a software emulation, so the worst claim of
	// its trust vector is in AR4SI's contraindicated tier.
	StatusContraindicated = "contraindicated"
	// Developer is ear.verifier-id's developer.
	Developer = "https://github.com/snp-vtpm/snp-vtpm"
)

// Claims is the payload of an attestation-result token.
type Claims struct {
	// Profile is eat_profile: Profile.
	Profile string `json:"eat_profile"`
	// Issuer is iss: the verifier's issuer URL.
	Issuer string `json:"iss"`
	// Audience is aud, when the verifier was configured with one.
	Audience string `json:"aud,omitempty"`
	// IssuedAt, NotBefore and Expiry are iat, nbf and exp (Unix seconds).
	IssuedAt  int64 `json:"iat"`
	NotBefore int64 `json:"nbf"`
	Expiry    int64 `json:"exp"`
	// ID is jti: a random identifier of this token.
	ID string `json:"jti"`
	// Nonce is eat_nonce: the attestation nonce, base64url (unpadded).
	Nonce string `json:"eat_nonce"`
	// VerifierID is ear.verifier-id.
	VerifierID VerifierID `json:"ear.verifier-id"`
	// Submods holds one appraisal, under SubmodName.
	Submods map[string]Appraisal `json:"submods"`
}

// VerifierID is ear.verifier-id: who made the appraisal.
type VerifierID struct {
	Developer string `json:"developer"`
	Build     string `json:"build"`
}

// Appraisal is one submodule's EAR appraisal.
type Appraisal struct {
	// Status is ear.status: StatusAffirming or StatusContraindicated.
	Status string `json:"ear.status"`
	// Trust is ear.trustworthiness-vector (AR4SI claims).
	Trust TrustVector `json:"ear.trustworthiness-vector"`
	// PolicyID is ear.appraisal-policy-id: "sha256:" and the hex SHA-256
	// of the policy the evidence was appraised against (the server's, and
	// the resource's when one applied), as PolicyID computes it.
	PolicyID string `json:"ear.appraisal-policy-id"`
	// CVM is the private extension "snp-vtpm": the verified claims.
	CVM CVM `json:"snp-vtpm"`
}

// TrustVector is the AR4SI trustworthiness vector of the categories the
// verifier appraised (others are absent). A CVM on real hardware gets 2
// in each (affirming: trustworthy instance, approved configuration and
// executables, genuine hardware). The emulated CVM gets 96 for
// instance-identity and hardware (contraindicated: its keys chain to the
// public fake chain, its hardware is recognised as an emulation) and 2 for
// configuration and executables (appraised as for real hardware); never
// 32 (for hardware: genuine, with known vulnerabilities), which a relying
// party that tolerates warnings would accept.
type TrustVector struct {
	InstanceIdentity int `json:"instance-identity"`
	Configuration    int `json:"configuration"`
	Executables      int `json:"executables"`
	Hardware         int `json:"hardware"`
}

// CVM is what the verifier established about the confidential VM.
type CVM struct {
	// Platform is "sev-snp" or "tdx".
	Platform string `json:"platform"`
	// Product is the AMD product line (SEV-SNP).
	Product string `json:"product,omitempty"`
	// ChipID is the SNP report's CHIP_ID (hex).
	ChipID verify.HexBytes `json:"chip_id,omitempty"`
	// ReportedTCB is the TCB the report and the VCEK are bound to.
	ReportedTCB *snp.TCBParts `json:"reported_tcb,omitempty"`
	// Measurement is the launch measurement (MRTD for TDX).
	Measurement verify.HexBytes `json:"measurement"`
	// IDKeyDigest is the report's ID_KEY_DIGEST (SEV-SNP).
	IDKeyDigest verify.HexBytes `json:"id_key_digest,omitempty"`
	// Paravisor names the trusted paravisor that vouched for the AK.
	Paravisor string `json:"paravisor"`
	// ParavisorVoucher is the MAA instance whose token vouched for a
	// paravisor the verifier does not trust (Paravisor "maa-vouched";
	// verify.Claims.ParavisorVoucher); absent otherwise.
	ParavisorVoucher string `json:"paravisor_voucher,omitempty"`
	// VMUniqueID is the Azure VM id from the runtime data.
	VMUniqueID string `json:"vm_unique_id,omitempty"`
	// PCRs are the SHA-256 PCR values the quote bound, by index (absent
	// when the evidence carried none).
	PCRs map[string]verify.HexBytes `json:"pcrs,omitempty"`
	// PCRsPinned lists the PCR indexes the policy pinned and the verifier
	// checked.
	PCRsPinned []int `json:"pcrs_pinned"`
	// FreshReport is true when the report was refreshed with the nonce.
	FreshReport bool `json:"fresh_report"`
	// Emulated is true for the emulated CVM (a fake AMD chain).
	Emulated bool `json:"emulated"`
	// Resource names the secret released, in --secrets-dir mode.
	Resource string `json:"resource,omitempty"`
}

// Appraisal returns the one submodule's appraisal (SubmodName).
func (c *Claims) Appraisal() Appraisal { return c.Submods[SubmodName] }
