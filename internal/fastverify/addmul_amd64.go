//go:build !purego

package fastverify

import "golang.org/x/sys/cpu"

// addMulVVW adds x·y to z (len(z) ≥ len(x)) over len(x) limbs and returns
// the carry limb: with MULX, ADCX and ADOX (two carry chains) when the CPU
// has them.
func addMulVVW(z, x []uint64, y uint64) (carry uint64) {
	if len(z) >= len(x) && cpu.X86.HasADX && cpu.X86.HasBMI2 {
		return addMulVVWADX(z, x, y)
	}
	return addMulVVWGeneric(z, x, y)
}

// addMulVVWADX is addMulVVW in assembly, for a CPU with ADX and BMI2.
//
//go:noescape
func addMulVVWADX(z, x []uint64, y uint64) (carry uint64)
