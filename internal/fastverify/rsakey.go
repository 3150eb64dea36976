package fastverify

import (
	"crypto"
	"crypto/rsa"
)

// PublicKey is an RSA public key prepared for repeated verification: the
// Barrett constant of its modulus is computed once, by NewPublicKey, where
// rsa.VerifyPKCS1v15 rebuilds its modulus representation on every call.
// A PublicKey is immutable and safe for concurrent use.
type PublicKey struct {
	pub *rsa.PublicKey // as given, for the standard-library fallback
	m   *montgomery    // nil outside the fast profile
}

// NewPublicKey prepares pub for VerifyPKCS1v15. A key outside the fast
// profile (see VerifyPKCS1v15) is kept as is and verified by crypto/rsa.
// pub must not be modified afterwards.
func NewPublicKey(pub *rsa.PublicKey) *PublicKey {
	p := &PublicKey{pub: pub}
	if !fastKey(pub) {
		return p
	}
	p.m = newMontgomery(pub.N)
	return p
}

// Public returns the key NewPublicKey was given.
func (p *PublicKey) Public() *rsa.PublicKey { return p.pub }

// VerifyPKCS1v15 is the package's VerifyPKCS1v15 with this key: the same
// result as rsa.VerifyPKCS1v15(p.Public(), h, hashed, sig) for every input.
func (p *PublicKey) VerifyPKCS1v15(h crypto.Hash, hashed, sig []byte) error {
	prefix := digestInfoPrefix(h)
	if p.m == nil || prefix == nil || len(hashed) != h.Size() || fipsOn() {
		return rsa.VerifyPKCS1v15(p.pub, h, hashed, sig)
	}
	if len(sig) != p.pub.Size() {
		return rsa.ErrVerification
	}
	em, ok := p.encrypt(sig)
	if !ok || !pkcs1Encoded(em, prefix, hashed) {
		return rsa.ErrVerification
	}
	return nil
}

// encrypt returns sig^65537 mod n as len(sig) bytes, big-endian, or false
// when sig, as an integer, is not below n.
func (p *PublicKey) encrypt(sig []byte) ([]byte, bool) {
	l := len(p.m.n)
	if len(sig) > 8*l {
		return nil, false
	}
	s := make([]uint64, l)
	for i, c := range sig {
		bit := 8 * (len(sig) - 1 - i)
		s[bit/64] |= uint64(c) << (bit % 64)
	}
	// s < n: compare from the top limb.
	below := false
	for i := l - 1; i >= 0; i-- {
		if s[i] != p.m.n[i] {
			below = s[i] < p.m.n[i]
			break
		}
	}
	if !below {
		return nil, false
	}
	r := p.m.exp65537(s)
	em := make([]byte, len(sig))
	for i := range em {
		bit := 8 * (len(em) - 1 - i)
		em[i] = byte(r[bit/64] >> (bit % 64))
	}
	return em, true
}
