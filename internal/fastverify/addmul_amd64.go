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

// reduce is montgomery.reduce: in assembly when the CPU has ADX and BMI2
// and the modulus has a multiple of 8 limbs.
func (m *montgomery) reduce(t []uint64) (over uint64) {
	l := len(m.n)
	if l > 0 && l%8 == 0 && len(t) >= 2*l && cpu.X86.HasADX && cpu.X86.HasBMI2 {
		return montReduceADX(t, m.n, m.n0inv)
	}
	return m.reduceGeneric(t)
}

// montReduceADX is montgomery.reduceGeneric in assembly, for len(n) a
// positive multiple of 8 and len(t) ≥ 2·len(n).
//
//go:noescape
func montReduceADX(t, n []uint64, n0inv uint64) (over uint64)
