package fastverify

import "math/bits"

// addMulVVWGeneric is addMulVVW in Go: it adds x·y to z (len(z) ≥
// len(x)) over len(x) limbs and returns the carry limb.
func addMulVVWGeneric(z, x []uint64, y uint64) (carry uint64) {
	z = z[:len(x)]
	for i, xi := range x {
		hi, lo := bits.Mul64(xi, y)
		lo, c := bits.Add64(lo, z[i], 0)
		hi += c
		lo, c = bits.Add64(lo, carry, 0)
		z[i], carry = lo, hi+c
	}
	return carry
}
