package fastverify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
)

// digestOf returns the h digest of msg (SHA-256 or SHA-384).
func digestOf(h crypto.Hash, msg []byte) []byte {
	if h == crypto.SHA384 {
		d := sha512.Sum384(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

// rsaMutation is one way of corrupting a valid signature.
type rsaMutation struct {
	name string
	mod  func(k *rsa.PrivateKey, sig []byte) []byte
}

// rsaMutations corrupt the signature, or the encoded message under it (the
// result re-signed with the raw primitive).
func rsaMutations() []rsaMutation {
	em := func(f func(em []byte)) func(k *rsa.PrivateKey, sig []byte) []byte {
		return func(k *rsa.PrivateKey, sig []byte) []byte {
			m := new(big.Int).SetBytes(sig)
			m.Exp(m, big.NewInt(int64(k.E)), k.N)
			b := m.FillBytes(make([]byte, k.Size()))
			f(b)
			if new(big.Int).SetBytes(b).Cmp(k.N) >= 0 {
				return b
			}
			return rawSign(k, new(big.Int).SetBytes(b))
		}
	}
	muts := []rsaMutation{
		{"valid", func(_ *rsa.PrivateKey, sig []byte) []byte { return sig }},
		{"one byte short", func(_ *rsa.PrivateKey, sig []byte) []byte { return sig[1:] }},
		{"leading zero byte added", func(_ *rsa.PrivateKey, sig []byte) []byte { return append([]byte{0}, sig...) }},
		{"empty", func(*rsa.PrivateKey, []byte) []byte { return nil }},
		{"signature = N", func(k *rsa.PrivateKey, _ []byte) []byte { return k.N.FillBytes(make([]byte, k.Size())) }},
		{"signature = N - 1", func(k *rsa.PrivateKey, _ []byte) []byte {
			return new(big.Int).Sub(k.N, big.NewInt(1)).FillBytes(make([]byte, k.Size()))
		}},
		{"signature + N (when it fits)", func(k *rsa.PrivateKey, sig []byte) []byte {
			v := new(big.Int).Add(new(big.Int).SetBytes(sig), k.N)
			if v.BitLen() > 8*k.Size() {
				return append([]byte{1}, sig...)
			}
			return v.FillBytes(make([]byte, k.Size()))
		}},
		{"zero", func(k *rsa.PrivateKey, _ []byte) []byte { return make([]byte, k.Size()) }},
		{"one", func(k *rsa.PrivateKey, _ []byte) []byte { b := make([]byte, k.Size()); b[len(b)-1] = 1; return b }},
		{"all ones", func(k *rsa.PrivateKey, _ []byte) []byte {
			b := make([]byte, k.Size())
			for i := range b {
				b[i] = 0xff
			}
			return b
		}},
		{"last bit flipped", func(_ *rsa.PrivateKey, sig []byte) []byte {
			b := append([]byte(nil), sig...)
			b[len(b)-1] ^= 1
			return b
		}},
	}
	// The encoded message, byte by byte at its structural positions:
	// first bytes, the PKCS#1 padding / PSS DB, separator, DigestInfo or
	// salt, hash and trailer.
	for _, pos := range []int{0, 1, 2, 10, 100, -70, -67, -66, -51, -50, -49, -34, -33, -20, -1} {
		for _, x := range []byte{0x01, 0x80} {
			muts = append(muts, rsaMutation{"EM byte", em(func(b []byte) {
				i := pos
				if i < 0 {
					i += len(b)
				}
				b[i] ^= x
			})})
		}
	}
	return append(muts,
		rsaMutation{"EM top bit set", em(func(b []byte) { b[0] |= 0x80 })},
		rsaMutation{"EM trailer 0xbc <-> 0x01", em(func(b []byte) { b[len(b)-1] ^= 0xbd })},
	)
}

func TestPKCS1v15Differential(t *testing.T) {
	for _, k := range rsaKeys(t) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := digestOf(h, []byte("fastverify pkcs1"))
			sig, err := rsa.SignPKCS1v15(nil, k, h, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range rsaMutations() {
				err := samePKCS1(t, &k.PublicKey, h, d, m.mod(k, sig))
				if (err == nil) != (m.name == "valid") {
					t.Errorf("%d bits, %v, %s: %v", k.N.BitLen(), h, m.name, err)
				}
			}
			// Wrong digest, digest of the other length, other hashes
			// (handed to the standard library), a PSS signature.
			samePKCS1(t, &k.PublicKey, h, digestOf(h, []byte("other")), sig)
			samePKCS1(t, &k.PublicKey, h, d[:20], sig)
			samePKCS1(t, &k.PublicKey, crypto.SHA512, d, sig)
			samePKCS1(t, &k.PublicKey, crypto.Hash(0), d, sig)
			pss, err := rsa.SignPSS(rand.Reader, k, h, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if samePKCS1(t, &k.PublicKey, h, d, pss) == nil {
				t.Error("a PSS signature verified as PKCS#1 v1.5")
			}
		}
	}
}

func TestPSSDifferential(t *testing.T) {
	salts := []int{rsa.PSSSaltLengthAuto, rsa.PSSSaltLengthEqualsHash, 20, 32, 48, 64, -2, 1 << 30}
	for _, k := range rsaKeys(t) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := digestOf(h, []byte("fastverify pss"))
			for _, signSalt := range []int{rsa.PSSSaltLengthEqualsHash, 48} {
				sig, err := rsa.SignPSS(rand.Reader, k, h, d, &rsa.PSSOptions{SaltLength: signSalt})
				if err != nil {
					t.Fatal(err)
				}
				for _, vs := range salts {
					samePSS(t, &k.PublicKey, h, d, sig, &rsa.PSSOptions{SaltLength: vs})
				}
				samePSS(t, &k.PublicKey, h, d, sig, nil)
				opts := &rsa.PSSOptions{SaltLength: signSalt}
				for _, m := range rsaMutations() {
					err := samePSS(t, &k.PublicKey, h, d, m.mod(k, sig), opts)
					if (err == nil) != (m.name == "valid") {
						t.Errorf("%d bits, %v, salt %d, %s: %v", k.N.BitLen(), h, signSalt, m.name, err)
					}
				}
				samePSS(t, &k.PublicKey, h, digestOf(h, []byte("other")), sig, opts)
				samePSS(t, &k.PublicKey, h, d[:20], sig, opts)
			}
			p1, err := rsa.SignPKCS1v15(nil, k, h, d)
			if err != nil {
				t.Fatal(err)
			}
			if samePSS(t, &k.PublicKey, h, d, p1, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil {
				t.Error("a PKCS#1 v1.5 signature verified as PSS")
			}
		}
	}
}

func TestRSAKeysOutsideTheFastProfile(t *testing.T) {
	k := rsaKeys(t)[0]
	d := digestOf(crypto.SHA256, []byte("keys"))
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []*rsa.PublicKey{
		{N: k.N, E: 3}, {N: k.N, E: 65539}, {N: k.N, E: 1}, {N: k.N, E: -65537},
		{N: new(big.Int).Add(k.N, big.NewInt(1)), E: 65537}, // even
		{N: new(big.Int).Rsh(k.N, 1100), E: 65537},          // 948 bits
		{N: new(big.Int).Neg(k.N), E: 65537},
	} {
		samePKCS1(t, pub, crypto.SHA256, d, sig)
		samePSS(t, pub, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
}

// FuzzRSAPKCS1v15 compares VerifyPKCS1v15 with rsa.VerifyPKCS1v15: a valid
// signature, raw signature bytes, or an encoded message corrupted at pos
// (or given whole by a) and signed with the raw primitive.
func FuzzRSAPKCS1v15(f *testing.F) {
	for mode := range byte(5) {
		f.Add(byte(0), byte(0), []byte("m"), mode, uint16(0), []byte{1})
		f.Add(byte(4), byte(1), []byte("m"), mode, uint16(500), []byte{0x80})
	}
	f.Fuzz(func(t *testing.T, keySel, hashSel byte, msg []byte, mode byte, pos uint16, a []byte) {
		k := rsaKeys(t)[int(keySel)%5]
		h := []crypto.Hash{crypto.SHA256, crypto.SHA384}[hashSel%2]
		d := digestOf(h, msg)
		sig, err := rsa.SignPKCS1v15(nil, k, h, d)
		if err != nil {
			t.Fatal(err)
		}
		samePKCS1(t, &k.PublicKey, h, d, fuzzSignature(k, sig, mode, pos, a))
		if mode%5 == 4 {
			samePKCS1(t, &k.PublicKey, h, a, sig)
		}
	})
}

// FuzzRSAPSS is FuzzRSAPKCS1v15 for RSASSA-PSS, with the salt lengths of
// signing and verification chosen by saltSel.
func FuzzRSAPSS(f *testing.F) {
	for mode := range byte(5) {
		f.Add(byte(4), byte(1), byte(0), []byte("m"), mode, uint16(0), []byte{1})
		f.Add(byte(1), byte(0), byte(5), []byte("m"), mode, uint16(200), []byte{0x80})
	}
	salts := []int{rsa.PSSSaltLengthEqualsHash, 0, 20, 32, 48, 64, 1, 200}
	f.Fuzz(func(t *testing.T, keySel, hashSel, saltSel byte, msg []byte, mode byte, pos uint16, a []byte) {
		k := rsaKeys(t)[int(keySel)%5]
		h := []crypto.Hash{crypto.SHA256, crypto.SHA384}[hashSel%2]
		d := digestOf(h, msg)
		sig, err := rsa.SignPSS(rand.Reader, k, h, d, &rsa.PSSOptions{SaltLength: salts[saltSel%4]})
		if err != nil {
			t.Fatal(err)
		}
		opts := &rsa.PSSOptions{SaltLength: salts[(saltSel/4)%8]}
		samePSS(t, &k.PublicKey, h, d, fuzzSignature(k, sig, mode, pos, a), opts)
		if mode%5 == 4 {
			samePSS(t, &k.PublicKey, h, a, sig, opts)
		}
	})
}

// fuzzSignature returns sig (mode 0 and 4), a itself (1), the signature of
// sig's encoded message with byte pos XORed with a[0] (2), or of a as the
// encoded message (3); an encoded message not below N is returned as is.
func fuzzSignature(k *rsa.PrivateKey, sig []byte, mode byte, pos uint16, a []byte) []byte {
	var em []byte
	switch mode % 5 {
	case 1:
		return a
	case 2:
		m := new(big.Int).SetBytes(sig)
		em = m.Exp(m, big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, k.Size()))
		x := byte(1)
		if len(a) > 0 {
			x = a[0]
		}
		em[int(pos)%len(em)] ^= x
	case 3:
		if len(a) > k.Size() {
			a = a[:k.Size()]
		}
		em = make([]byte, k.Size())
		copy(em[k.Size()-len(a):], a)
	default:
		return sig
	}
	m := new(big.Int).SetBytes(em)
	if m.Cmp(k.N) >= 0 {
		return em
	}
	return rawSign(k, m)
}
