package verify

import (
	"bytes"
	"crypto/subtle"
	"slices"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Claims are the facts established by a successful verification. Every
// field comes from bytes covered by the VCEK's signature over the SNP report
// (or, on TDX, by the TD quote that Intel's quoting enclave signed), from
// the runtime data bound into it by hash, or from the quote signed by the
// attestation key named there.
type Claims struct {
	// EvidenceVersion is the evidence format read (0, 1 or 2); -1 for a bare report.
	EvidenceVersion int `json:"evidence_version"`
	// Platform is the kind of Confidential VM: PlatformSNP ("sev-snp") or
	// PlatformTDX ("tdx"). On TDX the SNP fields (Product, ChipID, TCBs,
	// GuestPolicy, VMPL, ID key digests, Measurement, VCEKSource) are
	// empty and TDX holds the TD's claims; Debug, Paravisor, ReportData
	// and the roots fields are set on both.
	Platform string `json:"platform"`
	// TDX holds the claims of a TDX CVM; nil on SEV-SNP.
	TDX *TDXClaims `json:"tdx,omitempty"`
	// Product is the AMD product line: "Milan", "Genoa" or "Turin".
	Product string `json:"product"`
	// ChipID is the report's CHIP_ID.
	ChipID HexBytes `json:"chip_id"`
	// ReportVersion is the SNP report's version.
	ReportVersion uint32 `json:"report_version"`
	// SigningKey is the kind of key that signed the report: "VCEK" (bound
	// to the chip id) or "VLEK" (a cloud provider's key; no chip binding).
	SigningKey string `json:"signing_key"`
	// ReportedTCB is the TCB the report (and the VCEK) is bound to.
	ReportedTCB snp.TCBParts `json:"reported_tcb"`
	// CommittedTCB, CurrentTCB and LaunchTCB are the report's other TCBs.
	CommittedTCB snp.TCBParts `json:"committed_tcb"`
	CurrentTCB   snp.TCBParts `json:"current_tcb"`
	LaunchTCB    snp.TCBParts `json:"launch_tcb"`
	// GuestPolicy is the report's guest policy; Debug and SMT are its bits.
	GuestPolicy uint64 `json:"guest_policy"`
	Debug       bool   `json:"debug"`
	SMT         bool   `json:"smt"`
	// VMPL is the privilege level that requested the report (0 on Azure).
	VMPL uint32 `json:"vmpl"`
	// GuestSVN, FamilyID, ImageID, HostData, IDKeyDigest and
	// AuthorKeyDigest are copied from the report.
	GuestSVN        uint32   `json:"guest_svn"`
	FamilyID        HexBytes `json:"family_id"`
	ImageID         HexBytes `json:"image_id"`
	HostData        HexBytes `json:"host_data"`
	IDKeyDigest     HexBytes `json:"id_key_digest"`
	AuthorKeyDigest HexBytes `json:"author_key_digest"`
	// Paravisor names the identity of IDKeyDigest: "azure-hcl" for Azure's
	// paravisor, "emulated-hcl" for the emulated CVM's, "policy" for
	// another digest the policy's id_key_digests lists, "none" for the zero
	// digest and "unknown" for any other (only possible for a bare SNP
	// report or with Policy.AllowAnyParavisor). See DefaultParavisors.
	Paravisor string `json:"paravisor"`
	// ParavisorVoucher is the MAA instance that vouched for the paravisor
	// (Paravisor is then "maa-vouched"), or empty.
	ParavisorVoucher string `json:"paravisor_voucher,omitempty"`
	// PlatformInfo is the report's PLATFORM_INFO.
	PlatformInfo uint64 `json:"platform_info"`
	// Measurement is the launch measurement.
	Measurement HexBytes `json:"measurement"`
	// ReportData is the report's REPORT_DATA.
	ReportData HexBytes `json:"report_data"`
	// VMConfig is the runtime data's vm-configuration (nil for a bare SNP report).
	VMConfig *hcl.VMConfiguration `json:"vm_configuration,omitempty"`
	// UserData is the runtime data's user-data, when present.
	UserData HexBytes `json:"user_data,omitempty"`
	// AKPublic is the DER (PKIX) of the attestation key HCLAkPub.
	AKPublic HexBytes `json:"ak_public,omitempty"`
	// PCRs holds the SHA-256 PCR values bound by the quote's signed
	// selection, by index. Unselected PCRs are absent. It is nil when the
	// evidence carried no PCR values (PCRValues "absent").
	PCRs map[int]HexBytes `json:"pcrs,omitempty"`
	// PCRValues says whether the evidence carried the PCR values:
	// PCRValuesPresent (PCRs holds the selected ones, checked against the
	// signed digest) or PCRValuesAbsent (older evidence: message and
	// signature only; the values are unknown, PCRs is nil, and a policy
	// that pins PCRs fails). Empty for a bare report, which has no quote.
	PCRValues string `json:"pcr_values,omitempty"`
	// VMIdentity ties PCR 6 to the runtime data's vmUniqueId; nil when the
	// signed SHA-256 selection does not hold PCR 6 or no vmUniqueId is named.
	VMIdentity *VMIdentity `json:"vm_identity,omitempty"`
	// InitData is the state of PCR 8 (CoCo init-data); nil when the signed
	// SHA-256 selection does not hold PCR 8.
	InitData *InitData `json:"init_data,omitempty"`
	// EventLog is the replay of the evidence's boot event log; nil when the
	// evidence carries none.
	EventLog *EventLogClaims `json:"event_log,omitempty"`
	// PCRSelection is the quote's signed PCR selection, bank by bank.
	PCRSelection []PCRBank `json:"pcr_selection,omitempty"`
	// PCRDigest is the quote's signed pcrDigest: the hash of the selected
	// PCR values, reported whether or not the values were carried.
	PCRDigest HexBytes `json:"pcr_digest,omitempty"`
	// Nonce is the quote's qualifying data.
	Nonce HexBytes `json:"nonce,omitempty"`
	// NonceChecked is false only when verification ran with AllowNoNonce
	// and no nonce: then the evidence proves no freshness.
	NonceChecked bool `json:"nonce_checked"`
	// FreshReport is true when the runtime data's user-data was checked to
	// start with the nonce (v2 evidence or Policy.RequireFreshReport).
	FreshReport bool `json:"fresh_report"`
	// VCEKSource is "evidence" when the evidence carried the VCEK, "fetched"
	// when the VCEKGetter supplied it, "given" for Report.
	VCEKSource string `json:"vcek_source"`
	// RootsSource says which trusted chain verified the VCEK.
	RootsSource string `json:"roots_source"`
	// PinnedRoots is true when the chain is AMD's, pinned in this module.
	PinnedRoots bool `json:"pinned_roots"`
	// Emulated is true when the chain is the emulated CVM's, not AMD's.
	Emulated bool `json:"emulated"`
}

// Values of Claims.PCRValues.
const (
	// PCRValuesPresent: the evidence carried PCR values and the quoted ones
	// match the signed digest.
	PCRValuesPresent = "present"
	// PCRValuesAbsent: the evidence carried no PCR values; only the signed
	// selection and digest are known.
	PCRValuesAbsent = "absent"
)

// PCRBank is one signed PCR selection of a quote: a hash bank ("sha256")
// and the selected PCR indices, ascending.
type PCRBank struct {
	Hash string `json:"hash"`
	PCRs []int  `json:"pcrs"`
}

// fillQuote copies the quote's signed selection and digest.
func (c *Claims) fillQuote(a *quote.Attest) {
	c.PCRDigest = bytes.Clone(a.PCRDigest)
	c.PCRSelection = make([]PCRBank, len(a.Selection))
	for i, s := range a.Selection {
		c.PCRSelection[i] = PCRBank{Hash: quote.AlgName(s.Hash), PCRs: slices.Clone(s.PCRs)}
	}
}

// checkPCRPolicy checks the PCR values the policy pins (want) against the
// claims; evidence without PCR values fails every pin.
func (c *Claims) checkPCRPolicy(want map[int]HexBytes) error {
	if len(want) == 0 {
		return nil
	}
	if c.PCRs == nil {
		return failf(CheckPCRPolicy, "the policy pins %d PCR value(s), but the evidence carries no PCR values; the quote's digest is %x", len(want), []byte(c.PCRDigest))
	}
	for idx, w := range want {
		got, ok := c.PCRs[idx]
		if !ok {
			return failf(CheckPCRPolicy, "PCR %d is required by policy but not selected by the quote", idx)
		}
		if subtle.ConstantTimeCompare(got, w) != 1 {
			return failf(CheckPCRPolicy, "PCR %d is %x, policy requires %x", idx, []byte(got), []byte(w))
		}
	}
	return nil
}

// LaunchMeasurement returns the launch measurement the claims establish:
// the SEV-SNP report's MEASUREMENT, or on TDX the TD quote's MRTD (the
// paravisor's measurement; Measurement is empty there). Result tokens,
// serve's answer and its audit line report this one value for both
// platforms.
func (c *Claims) LaunchMeasurement() HexBytes {
	if c.TDX != nil {
		return c.TDX.MRTD
	}
	return c.Measurement
}

func (c *Claims) fillReport(r *snp.Report, p snp.Product) {
	c.Platform = PlatformSNP
	c.Product = string(p)
	// Copies: r may be shared through the cache of an Options, and the
	// claims belong to the caller.
	// One allocation holds every copied field.
	buf := make([]byte, 0, len(r.ChipID)+len(r.FamilyID)+len(r.ImageID)+len(r.HostData)+
		len(r.IDKeyDigest)+len(r.AuthorKeyDigest)+len(r.Measurement)+len(r.ReportData))
	cp := func(b []byte) HexBytes {
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	c.ChipID = cp(r.ChipID[:])
	c.ReportVersion = r.Version
	c.SigningKey = snp.SigningKeyName(r.SignerKey())
	c.ReportedTCB = r.ReportedTCB.Parts(p)
	c.CommittedTCB = r.CommittedTCB.Parts(p)
	c.CurrentTCB = r.CurrentTCB.Parts(p)
	c.LaunchTCB = r.LaunchTCB.Parts(p)
	c.GuestPolicy = r.Policy
	c.Debug = r.Debug()
	c.SMT = r.SMT()
	c.VMPL = r.VMPL
	c.GuestSVN = r.GuestSVN
	c.FamilyID = cp(r.FamilyID[:])
	c.ImageID = cp(r.ImageID[:])
	c.HostData = cp(r.HostData[:])
	c.IDKeyDigest = cp(r.IDKeyDigest[:])
	c.AuthorKeyDigest = cp(r.AuthorKeyDigest[:])
	c.PlatformInfo = r.PlatformInfo
	c.Measurement = cp(r.Measurement[:])
	c.ReportData = cp(r.ReportData[:])
}
