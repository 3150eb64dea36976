package fastverify

import (
	"bytes"
	"crypto"
	"crypto/fips140"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
)

// fastE is the only public exponent of the fast path.
const fastE = 65537

// Modulus sizes of the fast path, in bits.
const (
	minFastBits = 2048
	maxFastBits = 4096
)

// DER of the DigestInfo prefixes (RFC 8017, section 9.2, note 1).
var (
	prefixSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	prefixSHA384 = []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
)

// fastKey reports whether pub is in the fast profile: e = 65537 and an odd
// modulus of 2048 to 4096 bits (which the standard library accepts too), and
// FIPS 140 mode off.
func fastKey(pub *rsa.PublicKey) bool {
	if pub == nil || pub.N == nil || pub.E != fastE || fipsOn() {
		return false
	}
	bits := pub.N.BitLen()
	return pub.N.Sign() > 0 && pub.N.Bit(0) == 1 && bits >= minFastBits && bits <= maxFastBits
}

// fipsOn reports whether FIPS 140 mode is on (then crypto/rsa decides).
func fipsOn() bool { return fips140.Enabled() }

// digestInfoPrefix returns the DigestInfo prefix of h for the fast path,
// or nil when h is not SHA-256 or SHA-384.
func digestInfoPrefix(h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		return prefixSHA256
	case crypto.SHA384:
		return prefixSHA384
	}
	return nil
}

// VerifyPKCS1v15 verifies an RSASSA-PKCS1-v1_5 signature as
// rsa.VerifyPKCS1v15 does, for every input: SHA-256 and SHA-384 with a key
// in the fast profile are verified here (the whole encoded message is
// compared with the one expected), anything else by rsa.VerifyPKCS1v15.
// NewPublicKey prepares a key once for many verifications.
func VerifyPKCS1v15(pub *rsa.PublicKey, h crypto.Hash, hashed, sig []byte) error {
	return NewPublicKey(pub).VerifyPKCS1v15(h, hashed, sig)
}

// pkcs1Encoded reports whether the k-byte em is the EMSA-PKCS1-v1_5
// encoding of hashed with the DigestInfo prefix (RFC 8017, section 9.2),
// compared whole: EM = 0x00 || 0x01 || PS (0xff, k - tLen - 3 ≥ 8 bytes) ||
// 0x00 || T, T = prefix || hashed.
func pkcs1Encoded(em, prefix, hashed []byte) bool {
	k := len(em)
	tLen := len(prefix) + len(hashed)
	if k < tLen+11 {
		return false
	}
	psEnd := k - tLen - 1
	if em[0] != 0 || em[1] != 1 || em[psEnd] != 0 {
		return false
	}
	for _, b := range em[2:psEnd] {
		if b != 0xff {
			return false
		}
	}
	return bytes.Equal(em[psEnd+1:psEnd+1+len(prefix)], prefix) && bytes.Equal(em[k-len(hashed):], hashed)
}

// VerifyPSS verifies an RSASSA-PSS signature as rsa.VerifyPSS does, for
// every input. SHA-256 and SHA-384 with a key in the fast profile and a
// fixed salt length (rsa.PSSSaltLengthEqualsHash or a positive length) are
// verified here, per RFC 8017 section 9.1.2; anything else, salt-length
// auto-detection included, by rsa.VerifyPSS.
func VerifyPSS(pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte, opts *rsa.PSSOptions) error {
	var newHash func() hash.Hash
	switch h {
	case crypto.SHA256:
		newHash = sha256.New
	case crypto.SHA384:
		newHash = sha512.New384
	}
	sLen := rsa.PSSSaltLengthAuto
	if opts != nil {
		sLen = opts.SaltLength
	}
	if sLen == rsa.PSSSaltLengthEqualsHash {
		sLen = h.Size()
	}
	if newHash == nil || sLen <= 0 || !fastKey(pub) || sLen > pub.Size() {
		return rsa.VerifyPSS(pub, h, digest, sig, opts)
	}
	if len(sig) != pub.Size() {
		return rsa.ErrVerification
	}
	em, ok := NewPublicKey(pub).encrypt(sig)
	if !ok {
		return rsa.ErrVerification
	}
	if !emsaPSSVerify(newHash(), digest, em, pub.N.BitLen()-1, sLen) {
		return rsa.ErrVerification
	}
	return nil
}

// emsaPSSVerify is EMSA-PSS-VERIFY (RFC 8017, section 9.1.2) with MGF1 over
// the same hash, given the k-byte integer em (the top bytes beyond emLen
// must be zero).
func emsaPSSVerify(hf hash.Hash, mHash, em []byte, emBits, sLen int) bool {
	emLen := (emBits + 7) / 8
	for len(em) > emLen {
		if em[0] != 0 {
			return false
		}
		em = em[1:]
	}
	hLen := hf.Size()
	if len(mHash) != hLen || emLen < hLen+sLen+2 || em[emLen-1] != 0xbc {
		return false
	}
	topMask := byte(0xff >> (8*emLen - emBits)) // the bits of em[0] that count
	if em[0]&^topMask != 0 {
		return false
	}
	dbLen := emLen - hLen - 1
	db := bytes.Clone(em[:dbLen])
	hh := em[dbLen : emLen-1]
	mgf1XOR(hf, db, hh)
	db[0] &= topMask
	psLen := dbLen - sLen - 1
	for _, b := range db[:psLen] {
		if b != 0 {
			return false
		}
	}
	if db[psLen] != 1 {
		return false
	}
	hf.Reset()
	var zeros [8]byte
	hf.Write(zeros[:])
	hf.Write(mHash)
	hf.Write(db[dbLen-sLen:])
	return bytes.Equal(hf.Sum(nil), hh)
}

// mgf1XOR XORs into out the MGF1 mask of seed (RFC 8017, appendix B.2.1).
func mgf1XOR(hf hash.Hash, out, seed []byte) {
	var counter [4]byte
	var block []byte
	for done := 0; done < len(out); {
		hf.Reset()
		hf.Write(seed)
		hf.Write(counter[:])
		block = hf.Sum(block[:0])
		for i := 0; i < len(block) && done < len(out); i++ {
			out[done] ^= block[i]
			done++
		}
		binary.BigEndian.PutUint32(counter[:], binary.BigEndian.Uint32(counter[:])+1)
	}
}
