package hcl

import "crypto/sha256"

// Azure's UEFI firmware (Hyper-V, VmMeasurementDxe) measures the VM's
// identity into PCR 6 as EV_COMPACT_HASH events: SHA-256 of the ASCII string
// "UUID: " + vmUniqueId (the runtime data's vm-configuration.vmUniqueId, no
// terminating NUL), on newer firmware then SHA-256 of an architecture string
// (ArchX64 or ArchARM64), then the EV_SEPARATOR (SHA-256 of four zero bytes).

// PCR 6 architecture event strings of newer Azure firmware.
const (
	ArchX64   = `{"MachineArchitecture": "X64"}`
	ArchARM64 = `{"MachineArchitecture": "ARM64"}`
)

// PCR6UUIDPrefix is the prefix of the measured identity string.
const PCR6UUIDPrefix = "UUID: "

// Extend returns the SHA-256 PCR bank's extend: SHA-256(pcr ‖ digest).
func Extend(pcr, digest []byte) [32]byte {
	h := sha256.New()
	h.Write(pcr)
	h.Write(digest)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// PCR6 returns the SHA-256 value of PCR 6 after Azure's firmware measured
// vmUniqueID: E(E(0^32, H("UUID: "+id)), H(00000000)), or with arch (one of
// ArchX64, ArchARM64; "" for none) measured between the two:
// E(E(E(0^32, H("UUID: "+id)), H(arch)), H(00000000)), where E(a, b) =
// SHA-256(a ‖ b) and H is SHA-256.
func PCR6(vmUniqueID, arch string) [32]byte {
	var pcr [32]byte
	id := sha256.Sum256([]byte(PCR6UUIDPrefix + vmUniqueID))
	pcr = Extend(pcr[:], id[:])
	if arch != "" {
		a := sha256.Sum256([]byte(arch))
		pcr = Extend(pcr[:], a[:])
	}
	sep := sha256.Sum256([]byte{0, 0, 0, 0})
	return Extend(pcr[:], sep[:])
}
