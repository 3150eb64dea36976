package hcl

import (
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strconv"
)

// NV indices of the Azure vTPM used by the paravisor.
const (
	// NVIndexReport is the NV index holding the HCL report.
	NVIndexReport = 0x01400001
	// NVIndexUserData is the NV index whose content the paravisor copies,
	// zero-padded to 64 bytes, into the runtime data's "user-data" when it
	// regenerates the report.
	NVIndexUserData = 0x01400002
)

// Sizes and offsets of the HCL report layout.
const (
	// HeaderSize is the size of the HCLA header that precedes the hardware report.
	HeaderSize = 32
	// HardwareReportSize is the size of the hardware report region.
	HardwareReportSize = 1184
	// SNPReportSize is the size of an AMD SEV-SNP ATTESTATION_REPORT.
	SNPReportSize = 1184
	// TDReportSize is the size of an Intel TDX TDREPORT.
	TDReportSize = 1024
	// IGVMHeaderSize is the size of the IGVM request header that follows the
	// hardware report (data_size, version, report_type, hash type, variable_data_size).
	IGVMHeaderSize = 20
	// RuntimeDataOffset is the offset of the runtime-data JSON in the blob (1236).
	RuntimeDataOffset = HeaderSize + HardwareReportSize + IGVMHeaderSize
	// ReportDataSize is the size of the REPORT_DATA field of the hardware report.
	ReportDataSize = 64
	// UserDataSize is the size of the decoded "user-data" of the runtime data.
	UserDataSize = 64

	// MaxReportSize bounds the blob accepted by Parse and produced by Build.
	// Real NV indices are 2048, 2600 or 2900 bytes.
	MaxReportSize = 64 << 10
	// MaxRuntimeDataSize bounds the runtime-data JSON.
	MaxRuntimeDataSize = MaxReportSize - RuntimeDataOffset

	snpReportDataOffset = 0x50
	tdReportDataOffset  = 128 // REPORTMACSTRUCT.reportdata
)

// ReportType is the kind of hardware report inside an HCL report.
type ReportType uint32

// Report types defined by the paravisor's IGVM request header.
const (
	ReportTypeInvalid ReportType = 0
	ReportTypeVBS     ReportType = 1
	ReportTypeSNP     ReportType = 2
	ReportTypeTVM     ReportType = 3
	ReportTypeTDX     ReportType = 4
)

// String returns "SNP", "TDX", ... or "ReportType(n)" for unknown values.
func (t ReportType) String() string {
	return enumName("ReportType", uint32(t), "Invalid", "VBS", "SNP", "TVM", "TDX")
}

// HashType is the hash algorithm the paravisor used to bind the runtime data
// into REPORT_DATA.
type HashType uint32

// Hash types defined by the paravisor's IGVM request header.
const (
	HashTypeInvalid HashType = 0
	HashTypeSHA256  HashType = 1
	HashTypeSHA384  HashType = 2
	HashTypeSHA512  HashType = 3
)

// String returns "SHA-256", "SHA-384", "SHA-512", or "HashType(n)".
func (h HashType) String() string {
	return enumName("HashType", uint32(h), "Invalid", "SHA-256", "SHA-384", "SHA-512")
}

// enumName returns names[v], or "typ(v)" when v has no name.
func enumName(typ string, v uint32, names ...string) string {
	if uint64(v) < uint64(len(names)) {
		return names[v]
	}
	return typ + "(" + strconv.FormatUint(uint64(v), 10) + ")"
}

// Valid reports whether h is SHA-256, SHA-384 or SHA-512.
func (h HashType) Valid() bool { return h >= HashTypeSHA256 && h <= HashTypeSHA512 }

// Size returns the digest size in bytes, or 0 for an invalid hash type.
func (h HashType) Size() int {
	switch h {
	case HashTypeSHA256:
		return sha256.Size
	case HashTypeSHA384:
		return sha512.Size384
	case HashTypeSHA512:
		return sha512.Size
	}
	return 0
}

// New returns a new hash.Hash for h, or nil for an invalid hash type.
func (h HashType) New() hash.Hash {
	switch h {
	case HashTypeSHA256:
		return sha256.New()
	case HashTypeSHA384:
		return sha512.New384()
	case HashTypeSHA512:
		return sha512.New()
	}
	return nil
}

// Sum returns the digest of b with h, or nil for an invalid hash type.
func (h HashType) Sum(b []byte) []byte {
	switch h {
	case HashTypeSHA256:
		s := sha256.Sum256(b)
		return s[:]
	case HashTypeSHA384:
		s := sha512.Sum384(b)
		return s[:]
	case HashTypeSHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	return nil
}
