package eventlog

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestCheckSignatureListShortEntries: a SignatureSize under the 16-byte
// owner GUID is refused even when it divides the entries evenly (the
// cases of TestCheckSignatureList that are under 16 do not divide them).
func TestCheckSignatureListShortEntries(t *testing.T) {
	digests := SignatureList(CertSHA256, EFIGUID{Data1: 1}, make([]byte, 32), make([]byte, 32)) // 96 bytes of entries
	for _, size := range []uint32{1, 2, 3, 4, 6, 8, 12} {
		b := append([]byte(nil), digests...)
		binary.LittleEndian.PutUint32(b[24:], size)
		if err := checkSignatureList(b); err == nil || !strings.Contains(err.Error(), "SignatureSize") {
			t.Errorf("SignatureSize %d: %v, want a SignatureSize error", size, err)
		}
	}
}
