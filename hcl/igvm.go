package hcl

import (
	"encoding/binary"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// IGVMHeader is the 20-byte IGVM request header that follows the hardware
// report in an HCL report: data_size, version, report_type,
// report_data_hash_type and variable_data_size.
type IGVMHeader struct {
	DataSize         uint32
	Version          uint32
	Type             ReportType
	HashType         HashType
	VariableDataSize uint32
}

// ParseIGVMHeader parses and checks an IGVM request header on its own, as
// stored after a bare SNP report in 1204-byte report files (the HCL report's
// bytes 32..1236, without the runtime data). It checks what Parse checks
// of the header: version 1, an SNP report type (the header follows an SNP
// report), hash type SHA-256, a non-zero variable_data_size of at most
// MaxRuntimeDataSize and data_size = IGVMHeaderSize + variable_data_size.
// The runtime data itself is not there, so nothing binds to it. Errors are
// [*FormatError] values.
func ParseIGVMHeader(b []byte) (*IGVMHeader, error) {
	if len(b) != IGVMHeaderSize {
		return nil, fieldErr("igvm_header", fmt.Errorf("%w (%d bytes, want %d)", format.ErrSizeMismatch, len(b), IGVMHeaderSize))
	}
	h := readIGVMHeader(b)
	if err := h.check(true, MaxRuntimeDataSize, format.ErrTooLarge); err != nil {
		return nil, err
	}
	if err := h.checkDataSize(); err != nil {
		return nil, err
	}
	return h, nil
}

// readIGVMHeader reads the IGVMHeaderSize bytes of b as a header, unchecked.
func readIGVMHeader(b []byte) *IGVMHeader {
	le := binary.LittleEndian
	at := func(off int) uint32 { return le.Uint32(b[off-OffsetDataSize:]) }
	return &IGVMHeader{
		DataSize:         at(OffsetDataSize),
		Version:          at(OffsetIGVMVersion),
		Type:             ReportType(at(OffsetReportType)),
		HashType:         HashType(at(OffsetHashType)),
		VariableDataSize: at(OffsetVarDataSize),
	}
}

// check applies the header rules that Parse and ParseIGVMHeader share:
// version 1; a report type that is SNP or TDX, and SNP when afterSNP (a
// header stored after an SNP report must say SNP); hash
// type SHA-256; a variable_data_size of 1..maxVar, failing with kind
// above maxVar. data_size is checked apart ([IGVMHeader.checkDataSize]),
// since Parse checks report_size first.
func (h *IGVMHeader) check(afterSNP bool, maxVar uint64, kind error) error {
	switch {
	case h.Version != igvmVersion:
		return fieldErr("igvm_version", fmt.Errorf("%w (%d, want %d)", format.ErrUnsupportedVersion, h.Version, igvmVersion))
	case afterSNP && h.Type != ReportTypeSNP:
		return fieldErr("report_type", fmt.Errorf("%w (%v after an SNP report)", ErrUnsupportedReportType, h.Type))
	case h.Type != ReportTypeSNP && h.Type != ReportTypeTDX:
		return fieldErr("report_type", fmt.Errorf("%w (%v)", ErrUnsupportedReportType, h.Type))
	// The paravisor binds the runtime data with SHA-256 (for SNP and TDX
	// alike): REPORT_DATA = SHA-256(runtime data) || 32 zero bytes. Other
	// declared hashes would let REPORT_DATA[32:64] carry more digest bytes
	// of a format no paravisor writes.
	case h.HashType != HashTypeSHA256:
		return fieldErr("report_data_hash_type", fmt.Errorf("%w (%v, want SHA-256)", ErrUnsupportedHashType, h.HashType))
	case h.VariableDataSize == 0:
		return fieldErr("variable_data_size", format.ErrEmpty)
	case uint64(h.VariableDataSize) > maxVar:
		return fieldErr("variable_data_size", fmt.Errorf("%w (%d > %d)", kind, h.VariableDataSize, maxVar))
	}
	return nil
}

// checkDataSize checks data_size = IGVMHeaderSize + variable_data_size.
func (h *IGVMHeader) checkDataSize() error {
	if want := uint64(IGVMHeaderSize) + uint64(h.VariableDataSize); uint64(h.DataSize) != want {
		return fieldErr("data_size", fmt.Errorf("%w (%d, want %d)", format.ErrSizeMismatch, h.DataSize, want))
	}
	return nil
}
