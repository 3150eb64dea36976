//lint:file-ignore SA1019 the tests build invalid keys from raw coordinates on purpose, to compare with crypto/ecdsa on them

package fastverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"math/big"
	"testing"
)

// sign returns an ECDSA signature of hash by k as integers.
func sign(t testing.TB, k *ecdsa.PrivateKey, hash []byte) (*big.Int, *big.Int) {
	t.Helper()
	r, s, err := ecdsa.Sign(rand.Reader, k, hash)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

// ecdsaCase is one edge case: a hash, a signature and a public key built
// from a valid signature.
type ecdsaCase struct {
	name string
	want bool // ecdsa.Verify's verdict, asserted too
	mod  func(k *ecdsa.PrivateKey, hash []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int)
}

func TestECDSAEdgeCases(t *testing.T) {
	n := elliptic.P384().Params().N
	p := elliptic.P384().Params().P
	add := func(a, b *big.Int) *big.Int { return new(big.Int).Add(a, b) }
	same := func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
		return &k.PublicKey, h, r, s
	}
	withRS := func(fr, fs func(r, s *big.Int) *big.Int) func(*ecdsa.PrivateKey, []byte, *big.Int, *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
		return func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			return &k.PublicKey, h, fr(r, s), fs(r, s)
		}
	}
	keepR := func(r, _ *big.Int) *big.Int { return r }
	keepS := func(_, s *big.Int) *big.Int { return s }
	val := func(v *big.Int) func(_, _ *big.Int) *big.Int { return func(_, _ *big.Int) *big.Int { return v } }
	withKey := func(x, y func(k *ecdsa.PublicKey) *big.Int) func(*ecdsa.PrivateKey, []byte, *big.Int, *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
		return func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			return &ecdsa.PublicKey{Curve: elliptic.P384(), X: x(&k.PublicKey), Y: y(&k.PublicKey)}, h, r, s
		}
	}
	kx := func(k *ecdsa.PublicKey) *big.Int { return k.X }
	ky := func(k *ecdsa.PublicKey) *big.Int { return k.Y }
	cases := []ecdsaCase{
		{"valid", true, same},
		{"high s (n - s)", true, withRS(keepR, func(_, s *big.Int) *big.Int { return new(big.Int).Sub(n, s) })},
		{"r = 0", false, withRS(val(big.NewInt(0)), keepS)},
		{"s = 0", false, withRS(keepR, val(big.NewInt(0)))},
		{"r < 0", false, withRS(func(r, _ *big.Int) *big.Int { return new(big.Int).Neg(r) }, keepS)},
		{"s < 0", false, withRS(keepR, func(_, s *big.Int) *big.Int { return new(big.Int).Neg(s) })},
		{"r = n", false, withRS(val(n), keepS)},
		{"s = n", false, withRS(keepR, val(n))},
		{"r + n", false, withRS(func(r, _ *big.Int) *big.Int { return add(r, n) }, keepS)},
		{"s + n", false, withRS(keepR, func(_, s *big.Int) *big.Int { return add(s, n) })},
		{"r + 1", false, withRS(func(r, _ *big.Int) *big.Int { return add(r, big.NewInt(1)) }, keepS)},
		{"r, s swapped", false, withRS(func(_, s *big.Int) *big.Int { return s }, func(r, _ *big.Int) *big.Int { return r })},
		{"r = s = 1", false, withRS(val(big.NewInt(1)), val(big.NewInt(1)))},
		{"wrong hash", false, func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			h2 := append([]byte(nil), h...)
			h2[0] ^= 1
			return &k.PublicKey, h2, r, s
		}},
		{"hash with a trailing byte (truncated away)", true, func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			return &k.PublicKey, append(append([]byte(nil), h...), 0xff), r, s
		}},
		{"short hash", false, func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			return &k.PublicKey, h[:20], r, s
		}},
		{"empty hash", false, func(k *ecdsa.PrivateKey, h []byte, r, s *big.Int) (*ecdsa.PublicKey, []byte, *big.Int, *big.Int) {
			return &k.PublicKey, nil, r, s
		}},
		{"key off the curve", false, withKey(func(k *ecdsa.PublicKey) *big.Int { return add(k.X, big.NewInt(1)) }, ky)},
		{"key at infinity (0, 0)", false, withKey(func(*ecdsa.PublicKey) *big.Int { return new(big.Int) }, func(*ecdsa.PublicKey) *big.Int { return new(big.Int) })},
		{"key x = p", false, withKey(func(*ecdsa.PublicKey) *big.Int { return p }, ky)},
		{"key y + p (too long)", false, withKey(kx, func(k *ecdsa.PublicKey) *big.Int { return add(k.Y, p) })},
		{"key -y", false, withKey(kx, func(k *ecdsa.PublicKey) *big.Int { return new(big.Int).Neg(k.Y) })},
		{"key p - y (the negated point)", false, withKey(kx, func(k *ecdsa.PublicKey) *big.Int { return new(big.Int).Sub(p, k.Y) })},
	}
	for _, k := range testECKeys() {
		hash := sha512.Sum384([]byte("fastverify edge cases"))
		r, s := sign(t, k, hash[:])
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pub, h, r2, s2 := c.mod(k, hash[:], r, s)
				if got := sameECDSA(t, pub, h, r2, s2); got != c.want {
					t.Errorf("ecdsa.Verify = %v, want %v", got, c.want)
				}
			})
		}
	}
}

// TestECDSAConstructed checks signatures built to hit the edges of the
// double-scalar multiplication: u1·G + u2·Q at infinity (rejected), and
// u1·G = u2·Q (a doubling; valid).
func TestECDSAConstructed(t *testing.T) {
	n := elliptic.P384().Params().N
	for _, k := range testECKeys() {
		d := k.D
		for i := range 8 {
			r := big.NewInt(int64(1000 + i))
			// e = -r·d: u1 + u2·d = (e + r·d)/s = 0 for every s.
			e := new(big.Int).Mul(r, d)
			e.Neg(e).Mod(e, n)
			if sameECDSA(t, &k.PublicKey, e.FillBytes(make([]byte, 48)), r, big.NewInt(int64(7+i))) {
				t.Fatal("a signature whose u1·G + u2·Q is infinity verified")
			}
			// u1·G = u2·Q = (kk/2)·G: r = x(kk·G), e = r·d, s = 2e/kk.
			kk := big.NewInt(int64(123457 + 2*i))
			x, _ := elliptic.P384().ScalarBaseMult(kk.Bytes())
			r = new(big.Int).Mod(x, n)
			e = new(big.Int).Mul(r, d)
			e.Mod(e, n)
			s := new(big.Int).Lsh(e, 1)
			s.Mul(s, new(big.Int).ModInverse(kk, n)).Mod(s, n)
			if !sameECDSA(t, &k.PublicKey, e.FillBytes(make([]byte, 48)), r, s) {
				t.Fatal("a valid signature with u1·G = u2·Q did not verify")
			}
		}
	}
}

func TestECDSAOtherCurveFallsBack(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.Sum384([]byte("p256"))
	r, s := sign(t, k, h[:])
	if !sameECDSA(t, &k.PublicKey, h[:], r, s) {
		t.Fatal("P-256 signature did not verify")
	}
}

func TestECDSARandom(t *testing.T) {
	for i := range 200 {
		k := testECKeys()[i%3]
		msg := []byte{byte(i), byte(i >> 8)}
		h := sha512.Sum384(msg)
		r, s := sign(t, k, h[:])
		if !sameECDSA(t, &k.PublicKey, h[:], r, s) {
			t.Fatal("valid signature rejected")
		}
		// A random r and s of every length up to 49 bytes.
		rb := make([]byte, i%50)
		sb := make([]byte, (i*7)%50)
		_, _ = rand.Read(rb)
		_, _ = rand.Read(sb)
		sameECDSA(t, &k.PublicKey, h[:], new(big.Int).SetBytes(rb), new(big.Int).SetBytes(sb))
	}
}

// FuzzECDSAP384 compares VerifyECDSAP384 with ecdsa.Verify on signatures
// made by a P-384 key and then corrupted as mode and a say.
func FuzzECDSAP384(f *testing.F) {
	for mode := range byte(10) {
		f.Add(byte(0), []byte("message"), mode, []byte{1, 2, 3})
	}
	f.Fuzz(func(t *testing.T, keySel byte, msg []byte, mode byte, a []byte) {
		k := testECKeys()[int(keySel)%3]
		pub := k.PublicKey
		h := sha512.Sum384(msg)
		hash := h[:]
		r, s := sign(t, k, hash)
		ai := new(big.Int).SetBytes(a)
		n := elliptic.P384().Params().N
		switch mode % 10 {
		case 1:
			r = ai
		case 2:
			s = ai
		case 3:
			r = new(big.Int).Add(r, ai)
		case 4:
			s = new(big.Int).Sub(n, s).Add(s, ai) // high s, plus a
		case 5:
			hash = a // a hash of any length
		case 6:
			pub.X = new(big.Int).Add(pub.X, ai)
		case 7:
			pub.Y = new(big.Int).Xor(pub.Y, ai)
		case 8:
			pub.X, pub.Y = ai, new(big.Int).SetBytes(msg)
		case 9:
			r, s = new(big.Int).SetBytes(msg), ai
		}
		sameECDSA(t, &pub, hash, r, s)
	})
}
