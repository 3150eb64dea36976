package fastverify

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// randLimbs returns l random limbs.
func randLimbs(r *rand.Rand, l int) []uint64 {
	out := make([]uint64, l)
	for i := range out {
		out[i] = r.Uint64()
	}
	return out
}

// limbsInt returns the integer of little-endian limbs x.
func limbsInt(x []uint64) *big.Int {
	v := new(big.Int)
	for i := len(x) - 1; i >= 0; i-- {
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(x[i]))
	}
	return v
}

// TestAddMulVVW holds addMulVVW (assembly where the CPU allows) and its Go
// version to math/big, for lengths that do and do not take the assembly,
// with all-ones limbs (the largest carries) among random ones.
func TestAddMulVVW(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for l := range 70 {
		for trial := range 20 {
			x, z := randLimbs(r, l), randLimbs(r, l)
			y := r.Uint64()
			if trial == 0 {
				for i := range x {
					x[i], z[i] = ^uint64(0), ^uint64(0)
				}
				y = ^uint64(0)
			}
			want := new(big.Int).Add(limbsInt(z), new(big.Int).Mul(limbsInt(x), new(big.Int).SetUint64(y)))
			for name, f := range map[string]func(z, x []uint64, y uint64) uint64{"addMulVVW": addMulVVW, "generic": addMulVVWGeneric} {
				zz := append([]uint64(nil), z...)
				c := f(zz, x, y)
				if got := limbsInt(append(zz, c)); got.Cmp(want) != 0 {
					t.Fatalf("%s, %d limbs: %x, want %x", name, l, got, want)
				}
			}
		}
	}
}

// TestMontgomeryExp holds exp65537 to math/big's Exp for random odd
// moduli of 2048 to 4096 bits, sizes whose limb count is and is not a
// multiple of 8, and bases 0, 1, n-1 and random ones.
func TestMontgomeryExp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	e := big.NewInt(fastE)
	for _, bits := range []int{2048, 2049, 2100, 2111, 3072, 3100, 4000, 4094, 4096} {
		for range 4 {
			n := limbsInt(randLimbs(r, (bits+63)/64))
			n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
			for i := n.BitLen() - 1; i >= bits; i-- {
				n.SetBit(n, i, 0)
			}
			m := newMontgomery(n)
			l := len(m.n)
			bases := []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(n, big.NewInt(1))}
			for range 4 {
				bases = append(bases, new(big.Int).Mod(limbsInt(randLimbs(r, l)), n))
			}
			for _, s := range bases {
				got := limbsInt(m.exp65537(limbs(s, l)))
				if want := new(big.Int).Exp(s, e, n); got.Cmp(want) != 0 {
					t.Fatalf("%d bits: %x^65537 = %x, want %x", bits, s, got, want)
				}
			}
		}
	}
}
