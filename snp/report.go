package snp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Report layout constants (AMD SEV-SNP ABI, publication 56860, table
// ATTESTATION_REPORT). This package is the one place that knows them: the
// emulator, the synthetic evidence builder and the tests build reports with
// Report.Marshal and SignReport.
const (
	// ReportSize is the size of an SNP attestation report.
	ReportSize = 0x4A0
	// SignedSize is the number of leading report bytes covered by the signature.
	SignedSize = 0x2A0
	// ChipIDSize is the size of the CHIP_ID field.
	ChipIDSize = 64
	// SignatureAlgoECDSAP384SHA384 is the only signature algorithm defined for reports.
	SignatureAlgoECDSAP384SHA384 = 1
	// SignatureComponentSize is the size of R and of S: 72-byte
	// little-endian integers.
	SignatureComponentSize = 72
	// MinReportVersion is the oldest report version AMD's ABI defines (and
	// this package parses).
	MinReportVersion = 1
	// MaxReportVersion is the newest report version the AMD SEV-SNP
	// firmware ABI defines, and the newest accepted: a report claiming a
	// later version has a layout nobody has specified.
	//
	// The layouts, by version (see ReportVersionLayout):
	//   - 1 (ABI before rev. 1.51): the fields up to CHIP_ID; 0x1E0..0x2A0 reserved.
	//   - 2 (rev. 1.51): adds COMMITTED_TCB, CURRENT and COMMITTED firmware
	//     versions and LAUNCH_TCB (0x1E0..0x1F8).
	//   - 3 (rev. 1.55): adds CPUID family, model and stepping (0x188..0x18A).
	//   - 4: the layout of version 3 (go-sev-guest abi.ReportVersion4; the
	//     virtee sev crate parses 3 and 4 alike).
	//   - 5 (rev. 1.58): adds LAUNCH_MIT_VECTOR (0x1F8) and CURRENT_MIT_VECTOR (0x200).
	//
	// go-sev-guest v0.14.0+ abi.MaxSupportedReportVersion (= 5, "aligns ...
	// with the latest AMD SEV-SNP ABI specification (Rev 1.58)") and the
	// virtee sev crate ("V5 ... mitigation vector fields") agree. Real
	// reports carry versions 1, 2, 3 and 5 (testdata/ holds 2 and 3).
	MaxReportVersion = 5
)

// Byte offsets of the report fields. Tests that mutate raw reports use
// these rather than numbers of their own.
const (
	OffsetVersion          = 0x000
	OffsetGuestSVN         = 0x004
	OffsetPolicy           = 0x008
	OffsetFamilyID         = 0x010
	OffsetImageID          = 0x020
	OffsetVMPL             = 0x030
	OffsetSignatureAlgo    = 0x034
	OffsetCurrentTCB       = 0x038
	OffsetPlatformInfo     = 0x040
	OffsetSignerInfo       = 0x048
	OffsetReportData       = 0x050
	OffsetMeasurement      = 0x090
	OffsetHostData         = 0x0C0
	OffsetIDKeyDigest      = 0x0E0
	OffsetAuthorKeyDigest  = 0x110
	OffsetReportID         = 0x140
	OffsetReportIDMA       = 0x160
	OffsetReportedTCB      = 0x180
	OffsetCPUID            = 0x188 // family, model, stepping (version >= 3)
	OffsetChipID           = 0x1A0
	OffsetCommittedTCB     = 0x1E0 // version >= 2
	OffsetCurrentVersion   = 0x1E8 // build, minor, major (version >= 2)
	OffsetCommittedVersion = 0x1EC // build, minor, major (version >= 2)
	OffsetLaunchTCB        = 0x1F0 // version >= 2
	OffsetLaunchMitVector  = 0x1F8 // version >= 5
	OffsetCurrentMitVector = 0x200 // version >= 5
	OffsetSignatureR       = SignedSize
	OffsetSignatureS       = SignedSize + SignatureComponentSize
	// signatureEnd is the end of S; the rest of the signature area is reserved.
	signatureEnd = OffsetSignatureS + SignatureComponentSize
)

// ReportLayout says which optional fields a report version carries.
type ReportLayout struct {
	// CPUID: CPUID family, model and stepping at 0x188 (version 3 on).
	CPUID bool
	// TCBs: COMMITTED_TCB, the firmware versions and LAUNCH_TCB at
	// 0x1E0..0x1F8 (version 2 on).
	TCBs bool
	// MitVectors: LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (version 5 on).
	MitVectors bool
	// PolicyBits are the GUEST_POLICY bits a report of this version may
	// carry (PolicyDefinedV1 or PolicyDefined); every other bit is
	// reserved and must be zero, and PolicyReservedMBO must be one.
	PolicyBits uint64
}

// ReportVersionLayout returns the layout of report version v; ok is false
// for versions AMD's ABI does not define (0 and above MaxReportVersion),
// for which the layout of the newest version is returned.
func ReportVersionLayout(v uint32) (l ReportLayout, ok bool) {
	switch v {
	case 1:
		return ReportLayout{PolicyBits: PolicyDefinedV1}, true
	case 2:
		return ReportLayout{TCBs: true, PolicyBits: PolicyDefined}, true
	case 3, 4:
		return ReportLayout{CPUID: true, TCBs: true, PolicyBits: PolicyDefined}, true
	case 5:
		return ReportLayout{CPUID: true, TCBs: true, MitVectors: true, PolicyBits: PolicyDefined}, true
	}
	return ReportLayout{CPUID: true, TCBs: true, MitVectors: true, PolicyBits: PolicyDefined}, false
}

// SIGNER_INFO (report offset 0x48). The field exists in every report
// version this package accepts: version 2 reports of ABI rev. 1.51 defined
// only AUTHOR_KEY_EN and kept the other bits reserved (zero), which reads
// as SIGNING_KEY = VCEK and MASK_CHIP_KEY = 0; MASK_CHIP_KEY and
// SIGNING_KEY were defined in later revisions (go-sev-guest parses the field
// for every version). Every real Azure report in testdata/ (versions 2 and
// 3) carries 0: signed by the VCEK, chip key not masked, no author key.
//
// MASK_CHIP_KEY is not MASK_CHIP_ID: both are host settings (SNP_CONFIG),
// but MASK_CHIP_ID zeroes CHIP_ID and has no bit in the report (a zero
// CHIP_ID is its only trace), while MASK_CHIP_KEY masks the chip key, the
// VCEK: the firmware then signs no report with it (Linux's psp-sev.h:
// "whether attestation reports are signed or not"; virtee/sev #303 on
// the two being confused, as go-sev-guest's comment still does).
const (
	// SignerInfoAuthorKeyEn is AUTHOR_KEY_EN (bit 0): the ID block's ID
	// key was signed by an author key, whose signature the firmware
	// checked at launch (AUTHOR_KEY_DIGEST is that key's digest).
	SignerInfoAuthorKeyEn = 1 << 0
	// SignerInfoMaskChipKey is MASK_CHIP_KEY (bit 1): the host masked the
	// chip key (VCEK), so no genuine report with this bit is signed by a
	// VCEK. It says nothing about CHIP_ID (see above).
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

// Bits of GUEST_POLICY (report offset 0x08; AMD SEV-SNP ABI, table
// GUEST_POLICY). Bits 15:0 are the oldest firmware ABI (major.minor) the
// guest runs on.
const (
	// PolicyABIMinor and PolicyABIMajor are ABI_MINOR (bits 7:0) and
	// ABI_MAJOR (bits 15:8).
	PolicyABIMinor = 0xFF << 0
	PolicyABIMajor = 0xFF << 8
	// PolicySMT is SMT (bit 16): the host may run the guest with SMT on.
	PolicySMT = 1 << 16
	// PolicyReservedMBO is bit 17: reserved, must be one.
	PolicyReservedMBO = 1 << 17
	// PolicyMigrateMA is MIGRATE_MA (bit 18): a migration agent may be
	// associated with the guest.
	PolicyMigrateMA = 1 << 18
	// PolicyDebug is DEBUG (bit 19): the host may debug (decrypt) the guest.
	PolicyDebug = 1 << 19
	// PolicySingle is SINGLE_SOCKET (bit 20): the guest runs on one socket.
	PolicySingle = 1 << 20
	// PolicyCXLAllow is CXL_ALLOW (bit 21, ABI rev. 1.55): CXL may be
	// populated with devices or memory.
	PolicyCXLAllow = 1 << 21
	// PolicyMemAES256XTS is MEM_AES_256_XTS (bit 22, ABI rev. 1.55):
	// memory must be encrypted with AES-256-XTS.
	PolicyMemAES256XTS = 1 << 22
	// PolicyRAPLDis is RAPL_DIS (bit 23, ABI rev. 1.55): RAPL must be off.
	PolicyRAPLDis = 1 << 23
	// PolicyCiphertextHiding is CIPHERTEXT_HIDING (bit 24, ABI rev. 1.55):
	// ciphertext hiding for DRAM must be on.
	PolicyCiphertextHiding = 1 << 24
	// PolicyPageSwapDisable is PAGE_SWAP_DISABLE (bit 25, ABI rev. 1.58):
	// the guest may not use the page move and swap commands.
	PolicyPageSwapDisable = 1 << 25

	// PolicyDefinedV1 are the bits a version 1 report's policy may carry:
	// version 1 reports come from firmware older than ABI rev. 1.51, whose
	// GUEST_POLICY ends at SINGLE_SOCKET (bits 63:21 reserved, zero).
	PolicyDefinedV1 = PolicyABIMinor | PolicyABIMajor | PolicySMT | PolicyReservedMBO |
		PolicyMigrateMA | PolicyDebug | PolicySingle
	// PolicyDefined are the bits a report of versions 2 to 5 may carry:
	// those of ABI rev. 1.58, the newest this package knows (bits 63:26
	// reserved, zero). Bits 21 to 25 are allowed from version 2 on:
	// firmware does not bump the report version with the policy bits it
	// learns (the ABI rev. 1.55 bits came without a new version, and real
	// firmware 1.55 builds sign version 2, 3 and 5 reports alike:
	// testdata/genxt-confido, constellation/aws-vlek-report-2024, oak), so
	// the version cannot tell which of them its firmware knew.
	PolicyDefined = PolicyDefinedV1 | PolicyCXLAllow | PolicyMemAES256XTS | PolicyRAPLDis |
		PolicyCiphertextHiding | PolicyPageSwapDisable
)

// Report is a parsed SNP attestation report: every field of every layout
// (fields a version does not carry are zero). Raw aliases the parsed bytes;
// Marshal builds the bytes back from the fields.
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
	CommittedTCB    TCB   // version >= 2 only
	CurrentBuild    uint8 // version >= 2 only
	CurrentMinor    uint8 // version >= 2 only
	CurrentMajor    uint8 // version >= 2 only
	CommittedBuild  uint8 // version >= 2 only
	CommittedMinor  uint8 // version >= 2 only
	CommittedMajor  uint8 // version >= 2 only
	LaunchTCB       TCB   // version >= 2 only
	// LaunchMitVector and CurrentMitVector are version >= 5 only.
	LaunchMitVector  uint64
	CurrentMitVector uint64
	// SignatureR and SignatureS are the signature (little-endian integers).
	SignatureR, SignatureS [SignatureComponentSize]byte
	Raw                    []byte
}

// reserved is a byte range of the report that must be zero.
type reserved struct{ lo, hi int }

// reservedRanges returns the ranges that are reserved in layout l.
func reservedRanges(l ReportLayout) []reserved {
	rs := []reserved{{OffsetSignerInfo + 4, OffsetReportData}}
	if l.CPUID {
		rs = append(rs, reserved{OffsetCPUID + 3, OffsetChipID})
	} else {
		rs = append(rs, reserved{OffsetCPUID, OffsetChipID})
	}
	if l.TCBs {
		rs = append(rs, reserved{OffsetCurrentVersion + 3, OffsetCommittedVersion}, reserved{OffsetCommittedVersion + 3, OffsetLaunchTCB})
	} else {
		rs = append(rs, reserved{OffsetCommittedTCB, OffsetLaunchMitVector})
	}
	if l.MitVectors {
		rs = append(rs, reserved{OffsetCurrentMitVector + 8, SignedSize})
	} else {
		rs = append(rs, reserved{OffsetLaunchMitVector, SignedSize})
	}
	return append(rs, reserved{signatureEnd, ReportSize})
}

// Sentinel errors of parsing a report, returned (wrapped) by this package.
var (
	// ErrReportFormat reports a malformed attestation report.
	ErrReportFormat = errors.New("malformed SNP report")
	// ErrReportVersion reports a report version AMD's ABI does not define
	// (outside MinReportVersion..MaxReportVersion). It comes with
	// ErrReportFormat.
	ErrReportVersion = errors.New("unsupported SNP report version")
	// ErrGuestPolicy reports a GUEST_POLICY that AMD's ABI does not allow
	// in a report of its version: bit 17 (reserved, must be one) clear, or
	// a reserved bit set (see ReportLayout.PolicyBits). Firmware refuses
	// such a policy at launch, so no genuine report carries one. It comes
	// with ErrReportFormat.
	ErrGuestPolicy = errors.New("guest policy violates AMD's ABI")
	// ErrSigningKey reports a SIGNER_INFO whose SIGNING_KEY does not name
	// the certificate type used to verify the report (VCEK), or names no
	// key at all. From ParseReport it comes with ErrReportFormat, from
	// VCEK.VerifyReportSignature with ErrReportSignature.
	ErrSigningKey = errors.New("report signing key does not match the certificate")
)

// ParseReport parses a 1184-byte SNP attestation report with the layout of
// its version (see MaxReportVersion). It checks the size, the version
// (1 to 5; others fail with ErrReportVersion), that every reserved byte of
// that layout is zero, the guest policy (bit 17 one, the bits the version
// does not define zero: ErrGuestPolicy), the signature algorithm and
// SIGNER_INFO (reserved bits zero, SIGNING_KEY VCEK or VLEK: reserved
// values and "none" are rejected with ErrSigningKey). It does not verify
// the signature (see
// VCEK.VerifyReportSignature). For every report it accepts,
// Marshal returns the parsed bytes.
func ParseReport(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrReportFormat, len(b), ReportSize)
	}
	le32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	le64 := func(off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }
	r := &Report{Version: le32(OffsetVersion), Raw: b}
	l, ok := ReportVersionLayout(r.Version)
	if !ok {
		return nil, fmt.Errorf("%w: %w: version %d; AMD's SEV-SNP ABI defines versions %d to %d", ErrReportFormat, ErrReportVersion, r.Version, MinReportVersion, MaxReportVersion)
	}
	for _, rs := range reservedRanges(l) {
		if !format.AllZero(b[rs.lo:rs.hi]) {
			return nil, fmt.Errorf("%w: reserved bytes 0x%03x..0x%03x of a version %d report are not zero", ErrReportFormat, rs.lo, rs.hi, r.Version)
		}
	}
	r.GuestSVN, r.Policy = le32(OffsetGuestSVN), le64(OffsetPolicy)
	r.VMPL, r.SignatureAlgo = le32(OffsetVMPL), le32(OffsetSignatureAlgo)
	r.CurrentTCB, r.PlatformInfo = TCB(le64(OffsetCurrentTCB)), le64(OffsetPlatformInfo)
	r.SignerInfo, r.ReportedTCB = le32(OffsetSignerInfo), TCB(le64(OffsetReportedTCB))
	for _, f := range r.byteFields() {
		copy(f.dst, b[f.off:])
	}
	if l.CPUID {
		r.CPUIDFamily, r.CPUIDModel, r.CPUIDStepping = b[OffsetCPUID], b[OffsetCPUID+1], b[OffsetCPUID+2]
	}
	if l.TCBs {
		r.CommittedTCB, r.LaunchTCB = TCB(le64(OffsetCommittedTCB)), TCB(le64(OffsetLaunchTCB))
		v, c := b[OffsetCurrentVersion:], b[OffsetCommittedVersion:]
		r.CurrentBuild, r.CurrentMinor, r.CurrentMajor = v[0], v[1], v[2]
		r.CommittedBuild, r.CommittedMinor, r.CommittedMajor = c[0], c[1], c[2]
	}
	if l.MitVectors {
		r.LaunchMitVector, r.CurrentMitVector = le64(OffsetLaunchMitVector), le64(OffsetCurrentMitVector)
	}
	if err := checkPolicy(r.Policy, r.Version, l); err != nil {
		return nil, err
	}
	if err := r.checkSigner(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkPolicy checks GUEST_POLICY against the ABI for a report of
// version v (layout l): bit 17 set, the bits l does not define clear.
func checkPolicy(policy uint64, v uint32, l ReportLayout) error {
	if policy&PolicyReservedMBO == 0 {
		return fmt.Errorf("%w: %w: GUEST_POLICY 0x%x has bit 17 (reserved, must be one) clear", ErrReportFormat, ErrGuestPolicy, policy)
	}
	if extra := policy &^ l.PolicyBits; extra != 0 {
		return fmt.Errorf("%w: %w: GUEST_POLICY 0x%x sets bits 0x%x that are reserved (must be zero) in a version %d report", ErrReportFormat, ErrGuestPolicy, policy, extra, v)
	}
	return nil
}

// checkSigner checks SIGNATURE_ALGO and SIGNER_INFO.
func (r *Report) checkSigner() error {
	if r.SignatureAlgo != SignatureAlgoECDSAP384SHA384 {
		return fmt.Errorf("%w: signature algorithm %d, want %d (ECDSA P-384 SHA-384)", ErrReportFormat, r.SignatureAlgo, SignatureAlgoECDSAP384SHA384)
	}
	if r.SignerInfo&SignerInfoReserved != 0 {
		return fmt.Errorf("%w: SIGNER_INFO 0x%08x has reserved bits 31:5 set", ErrReportFormat, r.SignerInfo)
	}
	switch k := r.SignerKey(); k {
	case SigningKeyVCEK, SigningKeyVLEK:
	case SigningKeyNone:
		return fmt.Errorf("%w: %w: SIGNER_INFO says the report is not signed (SIGNING_KEY %d)", ErrReportFormat, ErrSigningKey, k)
	default:
		return fmt.Errorf("%w: %w: SIGNER_INFO names the reserved SIGNING_KEY %d", ErrReportFormat, ErrSigningKey, k)
	}
	return nil
}

// byteField is a byte-array field of the report and its offset.
type byteField struct {
	off int
	dst []byte
}

// byteFields lists r's byte-array fields present in every version.
func (r *Report) byteFields() []byteField {
	return []byteField{
		{OffsetFamilyID, r.FamilyID[:]}, {OffsetImageID, r.ImageID[:]},
		{OffsetReportData, r.ReportData[:]}, {OffsetMeasurement, r.Measurement[:]},
		{OffsetHostData, r.HostData[:]}, {OffsetIDKeyDigest, r.IDKeyDigest[:]},
		{OffsetAuthorKeyDigest, r.AuthorKeyDigest[:]}, {OffsetReportID, r.ReportID[:]},
		{OffsetReportIDMA, r.ReportIDMA[:]}, {OffsetChipID, r.ChipID[:]},
		{OffsetSignatureR, r.SignatureR[:]}, {OffsetSignatureS, r.SignatureS[:]},
	}
}

// Marshal returns the 1184 bytes of r in the layout of r.Version: fields
// the version does not carry are not written (they stay zero), as are
// the reserved bytes. A version AMD does not define is written with the
// newest layout, so tests can build reports that ParseReport rejects.
// Marshal ignores Raw; sign the result with SignReport.
func (r *Report) Marshal() []byte {
	b := make([]byte, ReportSize)
	le := binary.LittleEndian
	le.PutUint32(b[OffsetVersion:], r.Version)
	le.PutUint32(b[OffsetGuestSVN:], r.GuestSVN)
	le.PutUint64(b[OffsetPolicy:], r.Policy)
	le.PutUint32(b[OffsetVMPL:], r.VMPL)
	le.PutUint32(b[OffsetSignatureAlgo:], r.SignatureAlgo)
	le.PutUint64(b[OffsetCurrentTCB:], uint64(r.CurrentTCB))
	le.PutUint64(b[OffsetPlatformInfo:], r.PlatformInfo)
	le.PutUint32(b[OffsetSignerInfo:], r.SignerInfo)
	le.PutUint64(b[OffsetReportedTCB:], uint64(r.ReportedTCB))
	for _, f := range r.byteFields() {
		copy(b[f.off:], f.dst)
	}
	l, _ := ReportVersionLayout(r.Version)
	if l.CPUID {
		b[OffsetCPUID], b[OffsetCPUID+1], b[OffsetCPUID+2] = r.CPUIDFamily, r.CPUIDModel, r.CPUIDStepping
	}
	if l.TCBs {
		le.PutUint64(b[OffsetCommittedTCB:], uint64(r.CommittedTCB))
		le.PutUint64(b[OffsetLaunchTCB:], uint64(r.LaunchTCB))
		copy(b[OffsetCurrentVersion:], []byte{r.CurrentBuild, r.CurrentMinor, r.CurrentMajor})
		copy(b[OffsetCommittedVersion:], []byte{r.CommittedBuild, r.CommittedMinor, r.CommittedMajor})
	}
	if l.MitVectors {
		le.PutUint64(b[OffsetLaunchMitVector:], r.LaunchMitVector)
		le.PutUint64(b[OffsetCurrentMitVector:], r.CurrentMitVector)
	}
	return b
}

// ErrSign reports a report that SignReport cannot sign: not ReportSize
// bytes, or no ECDSA P-384 key.
var ErrSign = errors.New("cannot sign SNP report")

// SignReport signs raw[0:0x2A0] with key (ECDSA P-384, SHA-384), as the
// AMD secure processor does with the VCEK or VLEK, and writes R at 0x2A0
// and S at 0x2E8 as 72-byte little-endian integers; the rest of the
// signature area is zeroed. It is for emulators and tests: the key never
// appears in an error.
func SignReport(raw []byte, key *ecdsa.PrivateKey) error {
	if len(raw) != ReportSize {
		return fmt.Errorf("%w: %w: %d bytes, want %d", ErrSign, ErrReportFormat, len(raw), ReportSize)
	}
	if key == nil || key.Curve != elliptic.P384() {
		return fmt.Errorf("%w: the key is not ECDSA P-384", ErrSign)
	}
	digest := sha512.Sum384(raw[:SignedSize])
	rInt, sInt, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSign, err)
	}
	clear(raw[SignedSize:])
	putLE(raw[OffsetSignatureR:OffsetSignatureS], rInt)
	putLE(raw[OffsetSignatureS:signatureEnd], sInt)
	return nil
}

// putLE writes v into dst as a little-endian integer (v < 2^384 fits).
func putLE(dst []byte, v *big.Int) {
	be := v.Bytes()
	for i, c := range be {
		dst[len(be)-1-i] = c
	}
}

// Debug reports whether the guest policy allows debugging.
func (r *Report) Debug() bool { return r.Policy&PolicyDebug != 0 }

// SMT reports whether the guest policy allows simultaneous multithreading.
func (r *Report) SMT() bool { return r.Policy&PolicySMT != 0 }

// AuthorKeyEnabled reports whether SIGNER_INFO's AUTHOR_KEY_EN is set: the
// guest was launched with an ID block whose ID key an author key signed,
// and the firmware checked that signature (AUTHOR_KEY_DIGEST is that key's
// digest).
func (r *Report) AuthorKeyEnabled() bool { return r.SignerInfo&SignerInfoAuthorKeyEn != 0 }

// SignerKey returns the SIGNING_KEY field of SIGNER_INFO: 0 VCEK, 1 VLEK, 7 none.
func (r *Report) SignerKey() uint32 { return (r.SignerInfo >> 2) & 7 }

// ChipKeyMasked reports whether SIGNER_INFO's MASK_CHIP_KEY is set: the
// host masked the VCEK, so the report cannot be VCEK-signed (see
// SignerInfoMaskChipKey).
func (r *Report) ChipKeyMasked() bool { return r.SignerInfo&SignerInfoMaskChipKey != 0 }

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
