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
	le := binary.LittleEndian
	at := func(off int) uint32 { return le.Uint32(b[off-offDataSize:]) }
	h := &IGVMHeader{
		DataSize:         at(offDataSize),
		Version:          at(offIGVMVersion),
		Type:             ReportType(at(offReportType)),
		HashType:         HashType(at(offHashType)),
		VariableDataSize: at(offVarDataSize),
	}
	switch {
	case h.Version != igvmVersion:
		return nil, fieldErr("igvm_version", fmt.Errorf("%w (%d, want %d)", format.ErrUnsupportedVersion, h.Version, igvmVersion))
	case h.Type != ReportTypeSNP:
		return nil, fieldErr("report_type", fmt.Errorf("%w (%v after an SNP report)", ErrUnsupportedReportType, h.Type))
	case h.HashType != HashTypeSHA256:
		return nil, fieldErr("report_data_hash_type", fmt.Errorf("%w (%v, want SHA-256)", ErrUnsupportedHashType, h.HashType))
	case h.VariableDataSize == 0:
		return nil, fieldErr("variable_data_size", format.ErrEmpty)
	case h.VariableDataSize > MaxRuntimeDataSize:
		return nil, fieldErr("variable_data_size", fmt.Errorf("%w (%d > %d)", format.ErrTooLarge, h.VariableDataSize, MaxRuntimeDataSize))
	case uint64(h.DataSize) != uint64(IGVMHeaderSize)+uint64(h.VariableDataSize):
		return nil, fieldErr("data_size", fmt.Errorf("%w (%d, want %d)", format.ErrSizeMismatch, h.DataSize, uint64(IGVMHeaderSize)+uint64(h.VariableDataSize)))
	}
	return h, nil
}
