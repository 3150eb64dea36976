package fakeamd

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// SNP ATTESTATION_REPORT layout (AMD SEV-SNP ABI, SPEC §3).
const (
	// ReportSize is the size of an SNP attestation report.
	ReportSize = 0x4A0
	// SignedSize is the number of leading report bytes the signature covers.
	SignedSize = 0x2A0
	// DefaultPolicy is the guest policy of Azure CVMs: SMT allowed, debug
	// off, ABI 0.31.
	DefaultPolicy = 0x3001F

	offVersion       = 0x00
	offGuestSVN      = 0x04
	offPolicy        = 0x08
	offFamilyID      = 0x10
	offImageID       = 0x20
	offVMPL          = 0x30
	offSigAlgo       = 0x34
	offCurrentTCB    = 0x38
	offPlatformInfo  = 0x40
	offReportData    = 0x50
	offMeasurement   = 0x90
	offIDKeyDigest   = 0xE0
	offAuthorKeyDig  = 0x110
	offReportID      = 0x140
	offReportIDMA    = 0x160
	offReportedTCB   = 0x180
	offCPUIDFamily   = 0x188
	offCPUIDModel    = 0x189
	offCPUIDStepping = 0x18A
	offChipID        = 0x1A0
	offCommittedTCB  = 0x1E0
	offCurrentBuild  = 0x1E8
	offCommittedBld  = 0x1EC
	offLaunchTCB     = 0x1F0
	offSigR          = 0x2A0
	offSigS          = 0x2E8
	sigComponentSize = 72
)

// ErrReportSize means a report is not ReportSize bytes long.
var ErrReportSize = errors.New("fakeamd: SNP report must be 1184 bytes")

// DefaultMeasurement returns the launch measurement of the emulated guest.
func DefaultMeasurement() [48]byte {
	return sha512.Sum384([]byte("snp-vtpm emulated guest launch measurement (not a real measurement)"))
}

type reportConfig struct {
	measurement [48]byte
	idKeyDigest [48]byte
	authorKey   [48]byte
	familyID    [16]byte
	imageID     [16]byte
	currentTCB  uint64
	policy      uint64
	vmpl        uint32
	guestSVN    uint32
	version     uint32
	chipID      [64]byte
	reportedTCB uint64
}

// ReportOption changes a field of the report built by NewReport.
type ReportOption func(*reportConfig)

// WithMeasurement sets the launch measurement (default DefaultMeasurement).
func WithMeasurement(m [48]byte) ReportOption { return func(c *reportConfig) { c.measurement = m } }

// WithIDKeyDigest sets ID_KEY_DIGEST (default IDKeyDigest, the emulated
// paravisor's fake ID key).
func WithIDKeyDigest(d [48]byte) ReportOption { return func(c *reportConfig) { c.idKeyDigest = d } }

// WithAuthorKeyDigest sets AUTHOR_KEY_DIGEST (default zero, as on Azure).
func WithAuthorKeyDigest(d [48]byte) ReportOption { return func(c *reportConfig) { c.authorKey = d } }

// WithFamilyID sets FAMILY_ID (default "snp-vtpm-emu-fam").
func WithFamilyID(id [16]byte) ReportOption { return func(c *reportConfig) { c.familyID = id } }

// WithImageID sets IMAGE_ID (default "snp-vtpm-emu-img").
func WithImageID(id [16]byte) ReportOption { return func(c *reportConfig) { c.imageID = id } }

// WithCurrentTCB sets current_tcb (default CurrentTCB).
func WithCurrentTCB(tcb uint64) ReportOption { return func(c *reportConfig) { c.currentTCB = tcb } }

// WithReportedTCB sets reported_tcb, committed_tcb and launch_tcb (default
// ReportedTCB); a value other than the fake VCEK's TCB yields a report
// verifiers must reject.
func WithReportedTCB(tcb uint64) ReportOption { return func(c *reportConfig) { c.reportedTCB = tcb } }

// WithPolicy sets the guest policy (default DefaultPolicy).
func WithPolicy(p uint64) ReportOption { return func(c *reportConfig) { c.policy = p } }

// WithVMPL sets the VMPL the report was requested from (default 0).
func WithVMPL(v uint32) ReportOption { return func(c *reportConfig) { c.vmpl = v } }

// WithGuestSVN sets the guest SVN (default 1).
func WithGuestSVN(v uint32) ReportOption { return func(c *reportConfig) { c.guestSVN = v } }

// WithChipID sets chip_id (default ChipID); any other value does not match
// the fake VCEK.
func WithChipID(id [64]byte) ReportOption { return func(c *reportConfig) { c.chipID = id } }

// NewReport builds an unsigned version-3 SNP attestation report of the
// emulated Milan chip, as an Azure paravisor gets it at VMPL 0: policy
// 0x3001F, signature algorithm ECDSA P-384/SHA-384, CPUID family 0x19 model
// 0x01 stepping 1, id_key_digest = IDKeyDigest() (the emulated paravisor's
// fake ID key), author_key_digest zero, chip_id = ChipID(), reported_tcb = committed_tcb =
// launch_tcb = ReportedTCB(), current_tcb = CurrentTCB() (newer, like real
// Azure hosts), firmware 1.55.21, and the given report_data. Sign it with
// SignReport.
func NewReport(reportData [64]byte, opts ...ReportOption) []byte {
	c := reportConfig{
		measurement: DefaultMeasurement(),
		idKeyDigest: IDKeyDigest(),
		familyID:    [16]byte([]byte("snp-vtpm-emu-fam")),
		imageID:     [16]byte([]byte("snp-vtpm-emu-img")),
		currentTCB:  CurrentTCB(),
		policy:      DefaultPolicy,
		guestSVN:    1,
		version:     3,
		chipID:      ChipID(),
		reportedTCB: ReportedTCB(),
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	r := make([]byte, ReportSize)
	le := binary.LittleEndian
	le.PutUint32(r[offVersion:], c.version)
	le.PutUint32(r[offGuestSVN:], c.guestSVN)
	le.PutUint64(r[offPolicy:], c.policy)
	copy(r[offFamilyID:offImageID], c.familyID[:])
	copy(r[offImageID:offVMPL], c.imageID[:])
	le.PutUint32(r[offVMPL:], c.vmpl)
	le.PutUint32(r[offSigAlgo:], 1) // ECDSA P-384 with SHA-384
	le.PutUint64(r[offCurrentTCB:], c.currentTCB)
	le.PutUint64(r[offPlatformInfo:], 0x3) // SMT enabled, TSME enabled
	copy(r[offReportData:offMeasurement], reportData[:])
	copy(r[offMeasurement:offMeasurement+48], c.measurement[:])
	copy(r[offIDKeyDigest:offIDKeyDigest+48], c.idKeyDigest[:])
	copy(r[offAuthorKeyDig:offAuthorKeyDig+48], c.authorKey[:])
	reportID := sha512.Sum512_256([]byte("snp-vtpm emulated report id"))
	copy(r[offReportID:offReportIDMA], reportID[:])
	for i := offReportIDMA; i < offReportIDMA+32; i++ {
		r[i] = 0xFF // no migration agent
	}
	le.PutUint64(r[offReportedTCB:], c.reportedTCB)
	r[offCPUIDFamily] = 0x19
	r[offCPUIDModel] = 0x01
	r[offCPUIDStepping] = 0x01
	copy(r[offChipID:offCommittedTCB], c.chipID[:])
	le.PutUint64(r[offCommittedTCB:], c.reportedTCB)
	r[offCurrentBuild], r[offCurrentBuild+1], r[offCurrentBuild+2] = 21, 55, 1
	r[offCommittedBld], r[offCommittedBld+1], r[offCommittedBld+2] = 21, 55, 1
	le.PutUint64(r[offLaunchTCB:], c.reportedTCB)
	return r
}

// SignReport signs report[0:0x2A0] with key (ECDSA P-384, SHA-384) and writes
// the signature into the report: R at 0x2A0 and S at 0x2E8, each as a 72-byte
// little-endian integer; the rest of the signature area is zeroed.
func SignReport(report []byte, key *ecdsa.PrivateKey) error {
	if len(report) != ReportSize {
		return fmt.Errorf("%w, got %d", ErrReportSize, len(report))
	}
	if key == nil || key.Curve == nil || key.Curve.Params().Name != "P-384" {
		return errors.New("fakeamd: SignReport needs an ECDSA P-384 key")
	}
	digest := sha512.Sum384(report[:SignedSize])
	rInt, sInt, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return fmt.Errorf("fakeamd: signing report: %w", err)
	}
	clear(report[SignedSize:])
	putLE(report[offSigR:offSigR+sigComponentSize], rInt)
	putLE(report[offSigS:offSigS+sigComponentSize], sInt)
	return nil
}

// putLE writes v into dst as a little-endian integer (v < 2^384 fits).
func putLE(dst []byte, v *big.Int) {
	be := v.Bytes()
	for i, b := range be {
		dst[len(be)-1-i] = b
	}
}
