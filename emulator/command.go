//go:build cgo

package emulator

import "encoding/binary"

// TPM 2.0 command and response header facts used by the paravisor to
// recognise writes to the user-data NV index.
const (
	tpmHeaderSize = 10     // tag u16, size u32, command code / response code u32
	ccNVWrite     = 0x137  // TPM_CC_NV_Write
	tagNoSessions = 0x8001 // TPM_ST_NO_SESSIONS
	tagSessions   = 0x8002 // TPM_ST_SESSIONS
)

// nvWriteIndex returns the nvIndex handle of a TPM2_NV_Write command, and
// false for anything else or for a malformed command. The command layout is
// tag (u16), commandSize (u32), commandCode (u32), authHandle (u32),
// nvIndex (u32), all big-endian.
func nvWriteIndex(cmd []byte) (uint32, bool) {
	if len(cmd) < tpmHeaderSize+8 {
		return 0, false
	}
	tag := binary.BigEndian.Uint16(cmd[0:2])
	size := binary.BigEndian.Uint32(cmd[2:6])
	cc := binary.BigEndian.Uint32(cmd[6:10])
	if tag != tagSessions && tag != tagNoSessions {
		return 0, false
	}
	if uint64(size) != uint64(len(cmd)) || cc != ccNVWrite {
		return 0, false
	}
	return binary.BigEndian.Uint32(cmd[14:18]), true
}

// responseSucceeded reports whether a TPM response carries TPM_RC_SUCCESS.
func responseSucceeded(rsp []byte) bool {
	if len(rsp) < tpmHeaderSize {
		return false
	}
	size := binary.BigEndian.Uint32(rsp[2:6])
	return uint64(size) == uint64(len(rsp)) && binary.BigEndian.Uint32(rsp[6:10]) == 0
}
