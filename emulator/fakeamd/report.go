package fakeamd

import (
	"crypto/sha512"

	"github.com/snp-vtpm/snp-vtpm/snp"
)

// DefaultPolicy is the guest policy of Azure CVMs: SMT allowed, debug off,
// ABI 0.31.
const DefaultPolicy = 0x3001F

// DefaultPlatformInfo is PLATFORM_INFO as real Azure Milan hosts report it
// in version-3 reports: SMT_EN (bit 0), ECC_EN (bit 2) and
// ALIAS_CHECK_COMPLETE (bit 5); TSME (bit 1) is off on Azure.
const DefaultPlatformInfo = 0x25

// DefaultMeasurement returns the launch measurement of the emulated guest.
func DefaultMeasurement() [48]byte {
	return sha512.Sum384([]byte("snp-vtpm emulated guest launch measurement (not a real measurement)"))
}

// ReportOption changes a field of the report built by NewReport.
type ReportOption func(*snp.Report)

// WithMeasurement sets the launch measurement (default DefaultMeasurement).
func WithMeasurement(m [48]byte) ReportOption { return func(r *snp.Report) { r.Measurement = m } }

// WithIDKeyDigest sets ID_KEY_DIGEST (default IDKeyDigest, the emulated
// paravisor's fake ID key).
func WithIDKeyDigest(d [48]byte) ReportOption { return func(r *snp.Report) { r.IDKeyDigest = d } }

// WithAuthorKeyDigest sets AUTHOR_KEY_DIGEST (default zero, as on Azure)
// and, as AMD's firmware does, SIGNER_INFO's AUTHOR_KEY_EN when d is not
// zero (cleared when it is).
func WithAuthorKeyDigest(d [48]byte) ReportOption {
	return func(r *snp.Report) {
		r.AuthorKeyDigest = d
		r.SignerInfo &^= snp.SignerInfoAuthorKeyEn
		if d != ([48]byte{}) {
			r.SignerInfo |= snp.SignerInfoAuthorKeyEn
		}
	}
}

// WithFamilyID sets FAMILY_ID (default "snp-vtpm-emu-fam").
func WithFamilyID(id [16]byte) ReportOption { return func(r *snp.Report) { r.FamilyID = id } }

// WithImageID sets IMAGE_ID (default "snp-vtpm-emu-img").
func WithImageID(id [16]byte) ReportOption { return func(r *snp.Report) { r.ImageID = id } }

// WithCurrentTCB sets current_tcb (default CurrentTCB).
func WithCurrentTCB(tcb uint64) ReportOption {
	return func(r *snp.Report) { r.CurrentTCB = snp.TCB(tcb) }
}

// WithReportedTCB sets reported_tcb, committed_tcb and launch_tcb (default
// ReportedTCB); a value other than the fake VCEK's TCB yields a report
// verifiers must reject.
func WithReportedTCB(tcb uint64) ReportOption {
	return func(r *snp.Report) {
		r.ReportedTCB, r.CommittedTCB, r.LaunchTCB = snp.TCB(tcb), snp.TCB(tcb), snp.TCB(tcb)
	}
}

// WithPolicy sets the guest policy (default DefaultPolicy).
func WithPolicy(p uint64) ReportOption { return func(r *snp.Report) { r.Policy = p } }

// WithVMPL sets the VMPL the report was requested from (default 0).
func WithVMPL(v uint32) ReportOption { return func(r *snp.Report) { r.VMPL = v } }

// WithGuestSVN sets the guest SVN (default 1).
func WithGuestSVN(v uint32) ReportOption { return func(r *snp.Report) { r.GuestSVN = v } }

// WithChipID sets chip_id (default ChipID); any other value does not match
// the fake VCEK.
func WithChipID(id [64]byte) ReportOption { return func(r *snp.Report) { r.ChipID = id } }

// DefaultReport returns the fields of an unsigned version-3 SNP attestation
// report of the emulated Milan chip, as an Azure paravisor gets it at
// VMPL 0: policy 0x3001F, signature algorithm ECDSA P-384/SHA-384,
// platform info DefaultPlatformInfo, CPUID family 0x19 model 0x01 stepping 1, id_key_digest =
// IDKeyDigest() (the emulated paravisor's fake ID key), author_key_digest
// zero, chip_id = ChipID(), reported_tcb = committed_tcb = launch_tcb =
// ReportedTCB(), current_tcb = CurrentTCB() (newer, like real Azure hosts),
// firmware 1.55.21, no migration agent, and the given report_data, with
// opts applied. The synthetic evidence builder (internal/testev) starts
// from it too.
func DefaultReport(reportData [64]byte, opts ...ReportOption) *snp.Report {
	tcb := snp.TCB(ReportedTCB())
	r := &snp.Report{
		Version:        3,
		GuestSVN:       1,
		Policy:         DefaultPolicy,
		FamilyID:       [16]byte([]byte("snp-vtpm-emu-fam")),
		ImageID:        [16]byte([]byte("snp-vtpm-emu-img")),
		SignatureAlgo:  snp.SignatureAlgoECDSAP384SHA384,
		CurrentTCB:     snp.TCB(CurrentTCB()),
		PlatformInfo:   DefaultPlatformInfo,
		ReportData:     reportData,
		Measurement:    DefaultMeasurement(),
		IDKeyDigest:    IDKeyDigest(),
		ReportID:       sha512.Sum512_256([]byte("snp-vtpm emulated report id")),
		ReportedTCB:    tcb,
		CPUIDFamily:    0x19,
		CPUIDModel:     0x01,
		CPUIDStepping:  0x01,
		ChipID:         ChipID(),
		CommittedTCB:   tcb,
		CurrentBuild:   21,
		CurrentMinor:   55,
		CurrentMajor:   1,
		CommittedBuild: 21,
		CommittedMinor: 55,
		CommittedMajor: 1,
		LaunchTCB:      tcb,
	}
	for i := range r.ReportIDMA {
		r.ReportIDMA[i] = 0xFF // no migration agent
	}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// NewReport returns DefaultReport(reportData, opts...) as the 1184 bytes of
// an unsigned report. Sign it with snp.SignReport.
func NewReport(reportData [64]byte, opts ...ReportOption) []byte {
	return DefaultReport(reportData, opts...).Marshal()
}
