package fastverify

import (
	"math/big"
	"math/bits"
)

// montgomery is a modulus prepared for Montgomery multiplication on
// 64-bit limbs, least significant first: R = 2^(64·len(n)).
type montgomery struct {
	n     []uint64 // the odd modulus
	n0inv uint64   // -n⁻¹ mod 2^64
	rr    []uint64 // R² mod n
}

// newMontgomery prepares the odd modulus n.
func newMontgomery(n *big.Int) *montgomery {
	l := (n.BitLen() + 63) / 64
	m := &montgomery{n: limbs(n, l)}
	inv := uint64(1) // Newton's iteration doubles the correct low bits
	for range 6 {
		inv *= 2 - m.n[0]*inv
	}
	m.n0inv = -inv
	rr := new(big.Int).Lsh(big.NewInt(1), uint(128*l))
	m.rr = limbs(rr.Mod(rr, n), l)
	return m
}

// limbs returns x < 2^(64·l) as l little-endian 64-bit limbs.
func limbs(x *big.Int, l int) []uint64 {
	b := x.FillBytes(make([]byte, 8*l))
	out := make([]uint64, l)
	for i := range out {
		for _, c := range b[len(b)-8*(i+1) : len(b)-8*i] {
			out[i] = out[i]<<8 | uint64(c)
		}
	}
	return out
}

// mul sets z = x·y·R⁻¹ mod n, for x, y < n, interleaving the product's
// rows with the reduction's (separated operand scanning); t is scratch of
// 2·len(n) limbs. z may alias x or y.
func (m *montgomery) mul(z, x, y, t []uint64) {
	n := m.n
	l := len(n)
	t = t[:2*l]
	clear(t)
	var over uint64 // carry out of t[i+l], added at the next row
	for i := range l {
		c1 := addMulVVW(t[i:i+l], x[:l], y[i])
		c2 := addMulVVW(t[i:i+l], n, t[i]*m.n0inv) // t[i] becomes 0
		s, k1 := bits.Add64(c1, c2, 0)
		s, k2 := bits.Add64(s, over, 0)
		t[i+l], over = s, k1+k2
	}
	m.final(z, t[l:], over)
}

// sqr sets z = x²·R⁻¹ mod n, for x < n: the square's products below the
// diagonal once, doubled, plus the diagonal, then Montgomery's reduction;
// t is scratch of 2·len(n) limbs. z may alias x.
func (m *montgomery) sqr(z, x, t []uint64) {
	l := len(m.n)
	t = t[:2*l]
	x = x[:l]
	clear(t)
	for i := range l - 1 {
		t[i+l] = addMulVVW(t[2*i+1:i+l], x[i+1:], x[i])
	}
	var c uint64
	for i, v := range t {
		t[i], c = v<<1|c, v>>63
	}
	for i, v := range x {
		hi, lo := bits.Mul64(v, v)
		t[2*i], c = bits.Add64(t[2*i], lo, c)
		t[2*i+1], c = bits.Add64(t[2*i+1], hi, c)
	}
	m.final(z, t[l:], m.reduce(t))
}

// reduceGeneric is Montgomery's reduction of t (2·len(n) limbs) in place:
// row by row, t += (t[i]·n0inv mod 2^64)·n·2^(64i), which zeroes t[i]. It
// returns the carry out of t's top limb: the result is over·R + t[l:].
func (m *montgomery) reduceGeneric(t []uint64) (over uint64) {
	n := m.n
	l := len(n)
	for i := range l {
		c := addMulVVW(t[i:i+l], n, t[i]*m.n0inv)
		s, k1 := bits.Add64(t[i+l], c, 0)
		s, k2 := bits.Add64(s, over, 0)
		t[i+l], over = s, k1+k2
	}
	return over
}

// final sets z = over·R + v mod n, for over·R + v < 2n.
func (m *montgomery) final(z, v []uint64, over uint64) {
	var b uint64
	for j, nj := range m.n {
		z[j], b = bits.Sub64(v[j], nj, b)
	}
	if over == 0 && b == 1 { // v < n
		copy(z[:len(m.n)], v)
	}
}

// exp65537 returns s^65537 mod n for s < n, s and the result as limbs.
func (m *montgomery) exp65537(s []uint64) []uint64 {
	l := len(m.n)
	buf := make([]uint64, 4*l)
	a, out, t := buf[:l], buf[l:2*l], buf[2*l:]
	m.mul(a, s, m.rr, t) // s·R
	for range 16 {
		m.sqr(a, a, t)
	}
	m.mul(out, a, s, t) // s^65537·R·R⁻¹
	return out
}
