package hcl

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

const (
	magic = "HCLA"

	requestTypeReport = 2
	igvmVersion       = 1
)

// Byte offsets of the fields of an HCL report (all little-endian uint32
// but the magic and the reports). They are exported for tests and tools
// that build or corrupt a report field by field; Parse and Build are the
// only code of the module that reads or writes them.
const (
	OffsetMagic         = 0  // "HCLA"
	OffsetHeaderVersion = 4  // 1 or 2
	OffsetReportSize    = 8  // RuntimeDataOffset + variable_data_size
	OffsetRequestType   = 12 // 2
	OffsetStatus        = 16 // 0
	OffsetReserved      = 20 // 12 zero bytes
	// OffsetHardware is where the hardware report (SNP report or TDREPORT,
	// HardwareReportSize bytes) starts.
	OffsetHardware = HeaderSize
	// OffsetDataSize starts the IGVM request header: data_size =
	// IGVMHeaderSize + variable_data_size.
	OffsetDataSize    = OffsetHardware + HardwareReportSize // 1216
	OffsetIGVMVersion = OffsetDataSize + 4                  // 1220
	OffsetReportType  = OffsetDataSize + 8                  // 1224
	OffsetHashType    = OffsetDataSize + 12                 // 1228
	OffsetVarDataSize = OffsetDataSize + 16                 // 1232; the runtime data follows at RuntimeDataOffset
)

// Report is a parsed HCL report. All byte slices are copies: they do not
// alias the blob given to [Parse].
type Report struct {
	// HeaderVersion is the HCLA header version (1 or 2).
	HeaderVersion uint32
	// ReportSize is the number of bytes in use (RuntimeDataOffset + len(RuntimeDataRaw)).
	ReportSize uint32
	// RequestType is the paravisor's request type (always 2).
	RequestType uint32
	// Status is the paravisor's status (always 0).
	Status uint32

	// DataSize is the IGVM request data size (IGVMHeaderSize + len(RuntimeDataRaw)).
	DataSize uint32
	// IGVMVersion is the IGVM request header version (always 1).
	IGVMVersion uint32
	// Type is the kind of hardware report (SNP or TDX).
	Type ReportType
	// HashType is the hash that binds the runtime data into REPORT_DATA.
	HashType HashType

	// Hardware is the whole 1184-byte hardware report region (offset 32).
	Hardware []byte
	// SNPReport is the 1184-byte AMD SEV-SNP ATTESTATION_REPORT for Type SNP
	// (the same bytes as Hardware), nil otherwise.
	SNPReport []byte
	// TDReport is the 1024-byte TDX TDREPORT for Type TDX (the first 1024
	// bytes of Hardware), nil otherwise.
	TDReport []byte

	// RuntimeDataRaw is exactly the variable_data_size bytes of runtime-data
	// JSON: the bytes whose digest REPORT_DATA carries. It is never cut at a
	// NUL byte and never includes the padding.
	RuntimeDataRaw []byte
	// RuntimeData is RuntimeDataRaw parsed.
	RuntimeData *RuntimeData

	// Size is the blob's length, padding included: what Parse read, what
	// Marshal writes (0 there means no padding).
	Size int
}

// Parse parses and sanity-checks an HCL report blob as read from NV index
// [NVIndexReport], padding included. It checks the magic, every version,
// type and size field (the hash type must be SHA-256, the only one the
// paravisor writes), that the padding after the runtime data (and, for
// TDX, after the TDREPORT) is zero, and that the runtime data is a
// well-formed JSON object. It does not check the binding between REPORT_DATA
// and the runtime data: call [Report.CheckBinding] for that.
//
// Errors are [*FormatError] values wrapping the package's sentinel errors.
func Parse(blob []byte) (*Report, error) {
	if len(blob) < RuntimeDataOffset {
		return nil, fieldErr("blob", fmt.Errorf("%w (%d < %d bytes)", format.ErrTruncated, len(blob), RuntimeDataOffset))
	}
	if len(blob) > MaxReportSize {
		return nil, fieldErr("blob", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(blob), MaxReportSize))
	}
	le := binary.LittleEndian
	if string(blob[:4]) != magic {
		return nil, fieldErr("magic", fmt.Errorf("%w (%x, want %x)", format.ErrBadMagic, blob[:4], magic))
	}
	h := readIGVMHeader(blob[OffsetDataSize:RuntimeDataOffset])
	r := &Report{
		HeaderVersion: le.Uint32(blob[OffsetHeaderVersion:]),
		ReportSize:    le.Uint32(blob[OffsetReportSize:]),
		RequestType:   le.Uint32(blob[OffsetRequestType:]),
		Status:        le.Uint32(blob[OffsetStatus:]),
		DataSize:      h.DataSize,
		IGVMVersion:   h.Version,
		Type:          h.Type,
		HashType:      h.HashType,
	}
	n := h.VariableDataSize

	if r.HeaderVersion != 1 && r.HeaderVersion != 2 {
		return nil, fieldErr("version", fmt.Errorf("%w (%d, want 1 or 2)", format.ErrUnsupportedVersion, r.HeaderVersion))
	}
	if r.RequestType != requestTypeReport {
		return nil, fieldErr("request_type", fmt.Errorf("%w (%d, want %d)", format.ErrUnexpectedValue, r.RequestType, requestTypeReport))
	}
	if r.Status != 0 {
		return nil, fieldErr("status", fmt.Errorf("%w (%d, want 0)", format.ErrUnexpectedValue, r.Status))
	}
	if !format.AllZero(blob[OffsetReserved:OffsetHardware]) {
		return nil, fieldErr("reserved", format.ErrNonZero)
	}
	if err := h.check(false, uint64(len(blob)-RuntimeDataOffset), format.ErrExceedsBlob); err != nil {
		return nil, err
	}
	if want := uint64(RuntimeDataOffset) + uint64(n); uint64(r.ReportSize) != want {
		return nil, fieldErr("report_size", fmt.Errorf("%w (%d, want %d)", format.ErrSizeMismatch, r.ReportSize, want))
	}
	if err := h.checkDataSize(); err != nil {
		return nil, err
	}
	end := RuntimeDataOffset + int(n) // checked: n <= len(blob)-RuntimeDataOffset
	if !format.AllZero(blob[end:]) {
		return nil, fieldErr("padding", format.ErrNonZero)
	}

	r.Hardware = clone(blob[OffsetHardware:OffsetDataSize])
	switch r.Type {
	case ReportTypeSNP:
		r.SNPReport = r.Hardware
	case ReportTypeTDX:
		if !format.AllZero(r.Hardware[TDReportSize:]) {
			return nil, fieldErr("hardware_report", fmt.Errorf("TDX padding after %d-byte TDREPORT: %w", TDReportSize, format.ErrNonZero))
		}
		r.TDReport = r.Hardware[:TDReportSize:TDReportSize]
	}
	r.RuntimeDataRaw = clone(blob[RuntimeDataOffset:end])
	rd, err := ParseRuntimeData(r.RuntimeDataRaw)
	if err != nil {
		return nil, err
	}
	r.RuntimeData = rd
	r.Size = len(blob)
	return r, nil
}

// RuntimeDataDigest returns the digest of RuntimeDataRaw with the report's
// hash type: the value the hardware report's REPORT_DATA must start with.
func (r *Report) RuntimeDataDigest() []byte {
	return r.HashType.Sum(r.RuntimeDataRaw)
}

// ReportData returns (a copy of) the 64-byte REPORT_DATA of the hardware
// report: offset 0x50 of the SNP report, or REPORTMACSTRUCT.reportdata
// (offset 128) of the TDREPORT. It returns nil for other report types or a
// Report not produced by Parse.
func (r *Report) ReportData() []byte {
	var off int
	switch r.Type {
	case ReportTypeSNP:
		off = snpReportDataOffset
	case ReportTypeTDX:
		off = tdReportDataOffset
	default:
		return nil
	}
	if len(r.Hardware) < off+ReportDataSize {
		return nil
	}
	return clone(r.Hardware[off : off+ReportDataSize])
}

// CheckBinding checks that the hardware report binds the runtime data as
// the paravisor does, for SNP and TDX alike: the hash type is SHA-256,
// REPORT_DATA[0:32] is SHA-256(RuntimeDataRaw) (compared in constant time)
// and REPORT_DATA[32:64] is zero. It returns nil on success and a
// [*FormatError] with Field "binding" wrapping [ErrBindingMismatch] (or
// [ErrUnsupportedHashType]) otherwise.
//
// This proves nothing by itself: the hardware report's signature must be
// verified too.
func (r *Report) CheckBinding() error {
	digest := r.RuntimeDataDigest()
	if r.HashType != HashTypeSHA256 || digest == nil {
		return fieldErr("binding", fmt.Errorf("%w (%v)", ErrUnsupportedHashType, r.HashType))
	}
	rd := r.ReportData()
	if rd == nil {
		return fieldErr("binding", fmt.Errorf("%w: no REPORT_DATA for report type %v", ErrUnsupportedReportType, r.Type))
	}
	if subtle.ConstantTimeCompare(digest, rd[:len(digest)]) != 1 {
		return fieldErr("binding", fmt.Errorf("%w: REPORT_DATA[0:%d] != %v(runtime data)", ErrBindingMismatch, len(digest), r.HashType))
	}
	if !format.AllZero(rd[len(digest):]) {
		return fieldErr("binding", fmt.Errorf("%w: REPORT_DATA[%d:%d] not zero", ErrBindingMismatch, len(digest), ReportDataSize))
	}
	return nil
}

// Build assembles an HCL report blob around a hardware report and runtime
// data, as the paravisor does; it is meant for emulation and tests. The
// header is header version 1 for SNP and 2 for TDX, request type 2, status 0,
// IGVM version 1, hash type SHA-256, report_size = 1236+n and data_size =
// 20+n where n = len(runtimeData), then zero padding up to size bytes
// (size 0 means no padding). See [Report.Marshal].
//
// For SNP, hardware must be the 1184-byte SNP report; for TDX, the 1024-byte
// TDREPORT (or 1184 bytes ending in zeros). Build does not compute
// REPORT_DATA: the caller puts HashTypeSHA256.Sum(runtimeData) there before
// the hardware report is signed. runtimeData is copied verbatim; it must be
// non-empty but is not validated, so tests can build malformed reports.
func Build(t ReportType, hardware []byte, runtimeData []byte, size int) ([]byte, error) {
	r := &Report{HeaderVersion: 1, RequestType: requestTypeReport, IGVMVersion: igvmVersion,
		Type: t, HashType: HashTypeSHA256, Hardware: hardware, RuntimeDataRaw: runtimeData, Size: size}
	if t == ReportTypeTDX {
		r.HeaderVersion = 2
	}
	return r.Marshal()
}

// Marshal returns the blob of r, the inverse of [Parse]: for every blob
// Parse accepts, Parse(blob).Marshal() == blob. It writes HeaderVersion,
// RequestType, Status, IGVMVersion, Type and HashType as they are (so tests
// can forge them), computes report_size and data_size from RuntimeDataRaw,
// and pads with zeros up to Size bytes (0: no padding). ReportSize,
// DataSize, SNPReport, TDReport and RuntimeData are not read.
//
// It checks sizes only: Type must be SNP (Hardware the 1184-byte report) or
// TDX (the 1024-byte TDREPORT, or 1184 bytes ending in zeros),
// RuntimeDataRaw must be 1..MaxRuntimeDataSize bytes and Size must hold
// everything and be at most MaxReportSize.
func (r *Report) Marshal() ([]byte, error) {
	if err := checkHardware(r.Type, r.Hardware); err != nil {
		return nil, err
	}
	n := len(r.RuntimeDataRaw)
	if n == 0 {
		return nil, fieldErr("variable_data", format.ErrEmpty)
	}
	if n > MaxRuntimeDataSize {
		return nil, fieldErr("variable_data", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, n, MaxRuntimeDataSize))
	}
	used := RuntimeDataOffset + n
	size := r.Size
	if size == 0 {
		size = used
	}
	if size < used || size > MaxReportSize {
		return nil, fieldErr("size", fmt.Errorf("%w: %d bytes, need %d..%d", format.ErrSizeMismatch, size, used, MaxReportSize))
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	copy(b, magic)
	le.PutUint32(b[OffsetHeaderVersion:], r.HeaderVersion)
	le.PutUint32(b[OffsetReportSize:], uint32(used))
	le.PutUint32(b[OffsetRequestType:], r.RequestType)
	le.PutUint32(b[OffsetStatus:], r.Status)
	copy(b[OffsetHardware:OffsetDataSize], r.Hardware)
	le.PutUint32(b[OffsetDataSize:], uint32(IGVMHeaderSize+n))
	le.PutUint32(b[OffsetIGVMVersion:], r.IGVMVersion)
	le.PutUint32(b[OffsetReportType:], uint32(r.Type))
	le.PutUint32(b[OffsetHashType:], uint32(r.HashType))
	le.PutUint32(b[OffsetVarDataSize:], uint32(n))
	copy(b[RuntimeDataOffset:], r.RuntimeDataRaw)
	return b, nil
}

// checkHardware checks the size of the hardware report of type t.
func checkHardware(t ReportType, hardware []byte) error {
	switch t {
	case ReportTypeSNP:
		if len(hardware) != SNPReportSize {
			return fieldErr("hardware_report", fmt.Errorf("%w: SNP report is %d bytes, want %d", format.ErrSizeMismatch, len(hardware), SNPReportSize))
		}
	case ReportTypeTDX:
		switch {
		case len(hardware) == TDReportSize:
		case len(hardware) == HardwareReportSize && format.AllZero(hardware[TDReportSize:]):
		default:
			return fieldErr("hardware_report", fmt.Errorf("%w: TDREPORT is %d bytes, want %d", format.ErrSizeMismatch, len(hardware), TDReportSize))
		}
	default:
		return fieldErr("report_type", fmt.Errorf("%w (%v)", ErrUnsupportedReportType, t))
	}
	return nil
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
