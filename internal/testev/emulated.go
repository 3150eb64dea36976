package testev

import (
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Emulated returns (a copy of) b set to build Milan evidence under the emulated CVM's
// fake AMD chain, signed with its committed keys (fakeamd's VCEK, chip id
// and TCB; fakekeys' VCEK key; the emulated paravisor's ID key digest):
// what anyone can forge without cgo or the emulator. It verifies only with
// the emulated chain trusted (fakeamd.Chain, --trust-emulated), and its
// claims then say Emulated.
func Emulated(b Builder) *Builder {
	chip := fakeamd.ChipID()
	tcb := snp.TCBParts{Bootloader: fakeamd.BlSPL, TEE: fakeamd.TeeSPL, SNP: fakeamd.SnpSPL, Microcode: fakeamd.UcodeSPL}
	id := fakeamd.IDKeyDigest()
	b.Product = snp.Milan
	b.VCEKDER, b.ReportKey = fakeamd.VCEKDER(), fakekeys.VCEKKey()
	b.ChipID, b.ReportedTCB, b.IDKeyDigest = &chip, &tcb, &id
	return &b
}
