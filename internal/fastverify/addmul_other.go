//go:build !amd64 || purego

package fastverify

// addMulVVW adds x·y to z (len(z) ≥ len(x)) over len(x) limbs and returns
// the carry limb.
func addMulVVW(z, x []uint64, y uint64) (carry uint64) {
	return addMulVVWGeneric(z, x, y)
}

// reduce is montgomery.reduceGeneric.
func (m *montgomery) reduce(t []uint64) (over uint64) {
	return m.reduceGeneric(t)
}
