//lint:file-ignore SA1019 the tests build invalid keys from raw coordinates on purpose, to compare with crypto/ecdsa on them

package fastverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"sync"
	"testing"
)

// testRSAKeys are RSA keys of 2048, 2049, 3072, 4095 and 4096 bits
// (generated for these tests with openssl genrsa; no secret): the odd sizes
// exercise PSS's emLen < k.
var testRSAKeys = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	data, err := os.ReadFile("testdata/rsa-test-keys.pem")
	if err != nil {
		return nil, err
	}
	var keys []*rsa.PrivateKey
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return keys, nil
		}
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
})

func rsaKeys(t testing.TB) []*rsa.PrivateKey {
	t.Helper()
	keys, err := testRSAKeys()
	if err != nil || len(keys) != 5 {
		t.Fatalf("test keys: %d, %v", len(keys), err)
	}
	for i, bits := range []int{2048, 2049, 3072, 4095, 4096} {
		if got := keys[i].N.BitLen(); got != bits {
			t.Fatalf("test key %d has %d bits, want %d", i, got, bits)
		}
	}
	return keys
}

// testECKeys are a few P-384 keys generated per process.
var testECKeys = sync.OnceValue(func() []*ecdsa.PrivateKey {
	var keys []*ecdsa.PrivateKey
	for range 3 {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

// rawSign returns m^d mod N (CRT), the RSA signature primitive without any
// encoding: tests sign encoded messages of their own making with it.
func rawSign(k *rsa.PrivateKey, m *big.Int) []byte {
	p, q := k.Primes[0], k.Primes[1]
	dp := new(big.Int).Mod(k.D, new(big.Int).Sub(p, big.NewInt(1)))
	dq := new(big.Int).Mod(k.D, new(big.Int).Sub(q, big.NewInt(1)))
	m1 := new(big.Int).Exp(m, dp, p)
	m2 := new(big.Int).Exp(m, dq, q)
	h := new(big.Int).Sub(m1, m2)
	h.Mul(h, new(big.Int).ModInverse(q, p))
	h.Mod(h, p)
	h.Mul(h, q).Add(h, m2)
	return h.FillBytes(make([]byte, k.Size()))
}

// errText is an error's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sameECDSA fails t unless VerifyECDSAP384 and ecdsa.Verify agree; it
// returns their verdict.
func sameECDSA(t testing.TB, pub *ecdsa.PublicKey, hash []byte, r, s *big.Int) bool {
	t.Helper()
	want := ecdsa.Verify(pub, hash, r, s)
	if got := VerifyECDSAP384(pub, hash, r, s); got != want {
		t.Fatalf("VerifyECDSAP384 = %v, ecdsa.Verify = %v (hash %x, r %x, s %x, key %x, %x)", got, want, hash, r, s, pub.X, pub.Y)
	}
	return want
}

// samePKCS1 fails t unless VerifyPKCS1v15, PublicKey.VerifyPKCS1v15 and
// rsa.VerifyPKCS1v15 return the same error; it returns stdlib's.
func samePKCS1(t testing.TB, pub *rsa.PublicKey, h crypto.Hash, hashed, sig []byte) error {
	t.Helper()
	want := rsa.VerifyPKCS1v15(pub, h, hashed, sig)
	if got := VerifyPKCS1v15(pub, h, hashed, sig); errText(got) != errText(want) {
		t.Fatalf("VerifyPKCS1v15 = %v, rsa.VerifyPKCS1v15 = %v (%d-bit key, hash %v, hashed %x, sig %x)", got, want, pub.N.BitLen(), h, hashed, sig)
	}
	if got := NewPublicKey(pub).VerifyPKCS1v15(h, hashed, sig); errText(got) != errText(want) {
		t.Fatalf("PublicKey.VerifyPKCS1v15 = %v, rsa.VerifyPKCS1v15 = %v (%d-bit key, hash %v, hashed %x, sig %x)", got, want, pub.N.BitLen(), h, hashed, sig)
	}
	return want
}

// samePSS fails t unless VerifyPSS and rsa.VerifyPSS return the same
// error; it returns stdlib's.
func samePSS(t testing.TB, pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte, opts *rsa.PSSOptions) error {
	t.Helper()
	want := rsa.VerifyPSS(pub, h, digest, sig, opts)
	if got := VerifyPSS(pub, h, digest, sig, opts); errText(got) != errText(want) {
		t.Fatalf("VerifyPSS = %v, rsa.VerifyPSS = %v (%d-bit key, hash %v, opts %+v, digest %x, sig %x)", got, want, pub.N.BitLen(), h, opts, digest, sig)
	}
	return want
}
