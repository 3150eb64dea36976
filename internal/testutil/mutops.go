package testutil

import (
	"encoding/binary"
	"slices"
)

// MutOpSize is the size of one encoded mutation of the differential tests'
// inputs (snp's against go-sev-guest, tdx's against go-tdx-guest): a
// selector byte that indexes the test's table of mutable fields, a byte of
// the test's mode bits, then the value, a little-endian uint64. Fuzz
// targets take a sequence of them, so that the fuzzer explores mutations
// of valid inputs rather than random bytes.
const MutOpSize = 10

// MutOp is one decoded mutation: Field indexes the test's table, Mode and
// Value mean what the test says.
type MutOp struct {
	Field int
	Mode  byte
	Value uint64
}

// EncodeMutOp encodes a mutation of the field that name calls field in
// fields (at most 256). It panics when no field has that name: the test
// cases that call it are package variables, built before any test can
// fail.
func EncodeMutOp[F any](fields []F, name func(F) string, field string, mode byte, value uint64) []byte {
	i := slices.IndexFunc(fields, func(f F) bool { return name(f) == field })
	if i < 0 || i > 0xFF {
		panic("unknown field " + field)
	}
	return binary.LittleEndian.AppendUint64([]byte{byte(i), mode}, value)
}

// MutOps decodes ops, each selector taken modulo n (the length of the
// test's table), so that any bytes a fuzzer makes select a field. A
// trailing partial mutation is ignored.
func MutOps(ops []byte, n int) []MutOp {
	out := make([]MutOp, 0, len(ops)/MutOpSize)
	for ; len(ops) >= MutOpSize; ops = ops[MutOpSize:] {
		out = append(out, MutOp{Field: int(ops[0]) % n, Mode: ops[1], Value: binary.LittleEndian.Uint64(ops[2:])})
	}
	return out
}
