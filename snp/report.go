package snp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Report layout constants (AMD SEV-SNP ABI, table ATTESTATION_REPORT).
const (
	// ReportSize is the size of an SNP attestation report.
	ReportSize = 0x4A0
	// SignedSize is the number of leading report bytes covered by the signature.
	SignedSize = 0x2A0
	// ChipIDSize is the size of the CHIP_ID field.
	ChipIDSize = 64
	// SignatureAlgoECDSAP384SHA384 is the only signature algorithm defined for reports.
	SignatureAlgoECDSAP384SHA384 = 1
	// MinReportVersion is the oldest report version accepted; versions 0
	// and 1 are too old to trust.
	MinReportVersion = 2
	// MaxReportVersion is the newest report version the AMD SEV-SNP
	// firmware ABI defines, and the newest accepted: a report claiming a
	// later version has a layout nobody has specified.
	//
	// Source: AMD "SEV Secure Nested Paging Firmware ABI Specification"
	// (publication 56860) rev. 1.58, ATTESTATION_REPORT: version 5 adds
	// LAUNCH_MIT_VECTOR (0x1F8) and CURRENT_MIT_VECTOR (0x200); version 3
	// (rev. 1.55) added the CPUID fields at 0x188; version 4 exists between
	// them. github.com/google/go-sev-guest v0.14.0+ abi.MaxSupportedReportVersion
	// (= ReportVersion5, "aligns ... with the latest AMD SEV-SNP ABI
	// specification (Rev 1.58)") and the virtee sev crate ("Added in
	// version 5") agree. Real Azure reports carry versions 2, 3 and 5.
	MaxReportVersion = 5
)

// SIGNER_INFO (report offset 0x48). The field exists in every report
// version this package accepts: version 2 reports of ABI rev. 1.51 defined
// only AUTHOR_KEY_EN and kept the other bits reserved (zero), which reads
// as SIGNING_KEY = VCEK and MASK_CHIP_KEY = 0; MASK_CHIP_KEY and
// SIGNING_KEY were defined in later revisions (go-sev-guest parses the field
// for every version). Every real Azure report in testdata/ (versions 2 and
// 3) carries 0: signed by the VCEK, chip id not masked, no author key.
const (
	// SignerInfoAuthorKeyEn is AUTHOR_KEY_EN (bit 0): the ID block was
	// signed by an author key.
	SignerInfoAuthorKeyEn = 1 << 0
	// SignerInfoMaskChipKey is MASK_CHIP_KEY (bit 1): the host masked
	// CHIP_ID (all zero), so the report does not name its chip.
	SignerInfoMaskChipKey = 1 << 1
	// SignerInfoReserved are the bits 31:5, which must be zero.
	SignerInfoReserved = ^uint32(0x1F)
)

// SIGNING_KEY values (SIGNER_INFO bits 4:2); 2 to 6 are reserved.
const (
	// SigningKeyVCEK says the report is signed by the chip's VCEK.
	SigningKeyVCEK = 0
	// SigningKeyVLEK says the report is signed by a VLEK (a key AMD
	// issues to a cloud provider), which this package does not support.
	SigningKeyVLEK = 1
	// SigningKeyNone says the report is not signed.
	SigningKeyNone = 7
)

// Policy bits of the guest policy (report offset 0x08).
const (
	PolicySMT       = 1 << 16
	PolicyMigrateMA = 1 << 18
	PolicyDebug     = 1 << 19
	PolicySingle    = 1 << 20
)

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrReportFormat reports a malformed attestation report.
	ErrReportFormat = errors.New("malformed SNP report")
	// ErrReportVersion reports a report version outside
	// MinReportVersion..MaxReportVersion. It comes with ErrReportFormat.
	ErrReportVersion = errors.New("unsupported SNP report version")
	// ErrSigningKey reports a SIGNER_INFO whose SIGNING_KEY does not name
	// the certificate type used to verify the report (VCEK), or names no
	// key at all. From ParseReport it comes with ErrReportFormat, from
	// VCEK.VerifyReportSignature with ErrReportSignature.
	ErrSigningKey = errors.New("report signing key does not match the certificate")
	// ErrProductName reports a product name that is not a known product
	// line with an optional stepping suffix (see ParseProduct). It comes
	// with ErrProduct, and from ParseVCEK with ErrVCEKFormat.
	ErrProductName = errors.New("invalid product name")
	// ErrCriticalExtension reports a certificate with a critical extension
	// this package does not process. It comes with ErrVCEKFormat for a VCEK
	// and with ErrRoots for an ARK or ASK.
	ErrCriticalExtension = errors.New("certificate has an unknown critical extension")
	// ErrProduct reports an unknown or inconsistent product line.
	ErrProduct = errors.New("unknown or inconsistent product line")
	// ErrVCEKFormat reports a VCEK certificate that is malformed or lacks AMD extensions.
	ErrVCEKFormat = errors.New("malformed VCEK certificate")
	// ErrChain reports a VCEK that does not chain to the pinned ASK and ARK.
	ErrChain = errors.New("VCEK not signed by a trusted AMD ASK/ARK")
	// ErrValidity reports a certificate used outside its validity period.
	ErrValidity = errors.New("certificate outside its validity period")
	// ErrReportSignature reports a report signature that the VCEK does not verify.
	ErrReportSignature = errors.New("SNP report signature invalid")
	// ErrChipID reports a VCEK hwID that differs from the report's CHIP_ID.
	ErrChipID = errors.New("VCEK hwID does not match the report's chip id")
	// ErrTCB reports a VCEK TCB that differs from the report's REPORTED_TCB.
	ErrTCB = errors.New("VCEK TCB does not match the report's reported TCB")
	// ErrRoots reports an unusable root certificate file.
	ErrRoots = errors.New("invalid AMD root certificates")
)

// Report is a parsed SNP attestation report. Raw aliases the parsed bytes.
type Report struct {
	Version         uint32
	GuestSVN        uint32
	Policy          uint64
	FamilyID        [16]byte
	ImageID         [16]byte
	VMPL            uint32
	SignatureAlgo   uint32
	CurrentTCB      TCB
	PlatformInfo    uint64
	SignerInfo      uint32
	ReportData      [64]byte
	Measurement     [48]byte
	HostData        [32]byte
	IDKeyDigest     [48]byte
	AuthorKeyDigest [48]byte
	ReportID        [32]byte
	ReportIDMA      [32]byte
	ReportedTCB     TCB
	CPUIDFamily     uint8 // version >= 3 only
	CPUIDModel      uint8 // version >= 3 only
	CPUIDStepping   uint8 // version >= 3 only
	ChipID          [ChipIDSize]byte
	CommittedTCB    TCB
	CurrentBuild    uint8
	CurrentMinor    uint8
	CurrentMajor    uint8
	CommittedBuild  uint8
	CommittedMinor  uint8
	CommittedMajor  uint8
	LaunchTCB       TCB
	Raw             []byte
}

// ParseReport parses a 1184-byte SNP attestation report. It checks the size,
// the version (MinReportVersion to MaxReportVersion), the signature
// algorithm and SIGNER_INFO (reserved bits zero, SIGNING_KEY VCEK or VLEK:
// reserved values and "none" are rejected with ErrSigningKey); it does not
// verify the signature (see VCEK.VerifyReportSignature, which also requires
// SIGNING_KEY = VCEK).
func ParseReport(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrReportFormat, len(b), ReportSize)
	}
	le32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	le64 := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	r := &Report{
		Version:       le32(0x00),
		GuestSVN:      le32(0x04),
		Policy:        le64(0x08),
		VMPL:          le32(0x30),
		SignatureAlgo: le32(0x34),
		CurrentTCB:    TCB(le64(0x38)),
		PlatformInfo:  le64(0x40),
		SignerInfo:    le32(0x48),
		ReportedTCB:   TCB(le64(0x180)),
		CommittedTCB:  TCB(le64(0x1E0)),
		LaunchTCB:     TCB(le64(0x1F0)),
		Raw:           b,
	}
	copy(r.FamilyID[:], b[0x10:])
	copy(r.ImageID[:], b[0x20:])
	copy(r.ReportData[:], b[0x50:])
	copy(r.Measurement[:], b[0x90:])
	copy(r.HostData[:], b[0xC0:])
	copy(r.IDKeyDigest[:], b[0xE0:])
	copy(r.AuthorKeyDigest[:], b[0x110:])
	copy(r.ReportID[:], b[0x140:])
	copy(r.ReportIDMA[:], b[0x160:])
	copy(r.ChipID[:], b[0x1A0:])
	r.CurrentBuild, r.CurrentMinor, r.CurrentMajor = b[0x1E8], b[0x1E9], b[0x1EA]
	r.CommittedBuild, r.CommittedMinor, r.CommittedMajor = b[0x1EC], b[0x1ED], b[0x1EE]
	if r.Version < MinReportVersion {
		return nil, fmt.Errorf("%w: %w: version %d is older than %d", ErrReportFormat, ErrReportVersion, r.Version, MinReportVersion)
	}
	if r.Version > MaxReportVersion {
		return nil, fmt.Errorf("%w: %w: version %d is newer than %d, the newest the AMD SEV-SNP ABI defines", ErrReportFormat, ErrReportVersion, r.Version, MaxReportVersion)
	}
	if r.Version >= 3 {
		r.CPUIDFamily, r.CPUIDModel, r.CPUIDStepping = b[0x188], b[0x189], b[0x18A]
	}
	if r.SignatureAlgo != SignatureAlgoECDSAP384SHA384 {
		return nil, fmt.Errorf("%w: signature algorithm %d, want %d (ECDSA P-384 SHA-384)", ErrReportFormat, r.SignatureAlgo, SignatureAlgoECDSAP384SHA384)
	}
	if r.SignerInfo&SignerInfoReserved != 0 {
		return nil, fmt.Errorf("%w: SIGNER_INFO 0x%08x has reserved bits 31:5 set", ErrReportFormat, r.SignerInfo)
	}
	switch k := r.SignerKey(); k {
	case SigningKeyVCEK, SigningKeyVLEK:
	case SigningKeyNone:
		return nil, fmt.Errorf("%w: %w: SIGNER_INFO says the report is not signed (SIGNING_KEY %d)", ErrReportFormat, ErrSigningKey, k)
	default:
		return nil, fmt.Errorf("%w: %w: SIGNER_INFO names the reserved SIGNING_KEY %d", ErrReportFormat, ErrSigningKey, k)
	}
	return r, nil
}

// Debug reports whether the guest policy allows debugging.
func (r *Report) Debug() bool { return r.Policy&PolicyDebug != 0 }

// SMT reports whether the guest policy allows simultaneous multithreading.
func (r *Report) SMT() bool { return r.Policy&PolicySMT != 0 }

// SignerKey returns the SIGNING_KEY field of SIGNER_INFO: 0 VCEK, 1 VLEK, 7 none.
func (r *Report) SignerKey() uint32 { return (r.SignerInfo >> 2) & 7 }

// ChipIDMasked reports whether MASK_CHIP_KEY is set: CHIP_ID is zeroed and
// no VCEK can be bound to the report.
func (r *Report) ChipIDMasked() bool { return r.SignerInfo&SignerInfoMaskChipKey != 0 }

// ProductFromCPUID returns the product line named by the report's CPUID
// fields (version 3 and later). ok is false for version 2 reports, which do
// not carry CPUID; err is set for an unknown family or model.
func (r *Report) ProductFromCPUID() (p Product, ok bool, err error) {
	if r.Version < 3 {
		return "", false, nil
	}
	switch r.CPUIDFamily {
	case 0x19:
		switch {
		case r.CPUIDModel == 0x01:
			return Milan, true, nil
		case r.CPUIDModel == 0x11, r.CPUIDModel >= 0xA0 && r.CPUIDModel <= 0xAF:
			return Genoa, true, nil
		}
	case 0x1A:
		return Turin, true, nil
	}
	return "", true, fmt.Errorf("%w: CPUID family 0x%02x model 0x%02x", ErrProduct, r.CPUIDFamily, r.CPUIDModel)
}
