package fastverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"math/big"

	"github.com/cloudflare/circl/ecc/p384"
)

// p384Size is the byte length of P-384 field elements and scalars.
const p384Size = 48

// VerifyECDSAP384 reports whether r, s is a valid ECDSA signature of hash by
// pub, as ecdsa.Verify(pub, hash, r, s) does, for every input. A P-384 key
// is verified in variable time; any other key goes to ecdsa.Verify.
func VerifyECDSAP384(pub *ecdsa.PublicKey, hash []byte, r, s *big.Int) bool {
	if pub == nil || pub.Curve != elliptic.P384() || r == nil || s == nil || fips140.Enabled() {
		return ecdsa.Verify(pub, hash, r, s)
	}
	// In ecdsa.Verify's order: r and s positive, then the key (Bytes does
	// the same conversion and checks: coordinates in range, on the curve),
	// then r and s below n.
	if r.Sign() <= 0 || s.Sign() <= 0 {
		return false
	}
	q, err := pub.Bytes()
	if err != nil || len(q) != 1+2*p384Size {
		return false
	}
	n := pub.Curve.Params().N
	if r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return false
	}
	// e: the leftmost 384 bits of hash (P-384's order is byte-aligned),
	// reduced modulo n.
	if len(hash) > p384Size {
		hash = hash[:p384Size]
	}
	e := new(big.Int).SetBytes(hash)
	if e.Cmp(n) >= 0 {
		e.Sub(e, n) // e < 2^384 < 2n
	}
	w := new(big.Int).ModInverse(s, n) // n is prime and 0 < s < n: never nil
	u1 := e.Mul(e, w)
	u1.Mod(u1, n)
	u2 := w.Mul(w, r)
	u2.Mod(u2, n)
	var b1, b2 [p384Size]byte
	qx := new(big.Int).SetBytes(q[1 : 1+p384Size])
	qy := new(big.Int).SetBytes(q[1+p384Size:])
	x, y := p384.P384().CombinedMult(qx, qy, u1.FillBytes(b1[:]), u2.FillBytes(b2[:]))
	if x.Sign() == 0 && y.Sign() == 0 { // the point at infinity
		return false
	}
	if x.Cmp(n) >= 0 {
		x.Sub(x, n) // x < p < 2n
	}
	return x.Cmp(r) == 0
}
