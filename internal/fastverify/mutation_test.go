package fastverify

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"
)

// TestPKCS1v15Separator (mutation testing, mutation29a): an encoded
// message whose 0x00 separator between the 0xff padding and the
// DigestInfo is changed (to 0x01 or 0xff), signed with the raw primitive,
// is rejected as crypto/rsa rejects it, for SHA-256 and SHA-384.
func TestPKCS1v15Separator(t *testing.T) {
	for _, k := range rsaKeys(t) {
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := digestOf(h, []byte("separator"))
			sig, err := rsa.SignPKCS1v15(nil, k, h, d)
			if err != nil {
				t.Fatal(err)
			}
			em := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, k.Size()))
			sep := len(em) - len(digestInfoPrefix(h)) - len(d) - 1
			if em[sep] != 0 || em[sep-1] != 0xff {
				t.Fatalf("separator not at %d", sep)
			}
			for _, x := range []byte{0x01, 0xff} {
				bad := append([]byte(nil), em...)
				bad[sep] = x
				if err := samePKCS1(t, &k.PublicKey, h, d, rawSign(k, new(big.Int).SetBytes(bad))); err == nil {
					t.Errorf("%d bits, %v: separator %#x accepted", k.N.BitLen(), h, x)
				}
			}
		}
	}
}

// TestPSSExtraLeadingByte (mutation testing): for a modulus of 8k+1 bits
// (the 2049-bit test key), EMSA-PSS's emLen is one byte shorter than the
// signature, and that extra leading byte of s^e mod N must be zero. A valid
// encoding with that byte set to 1, signed with the raw primitive, is
// rejected as crypto/rsa rejects it (without the check, the byte was
// skipped and the rest verified).
func TestPSSExtraLeadingByte(t *testing.T) {
	var k *rsa.PrivateKey
	for _, c := range rsaKeys(t) {
		if c.N.BitLen()%8 == 1 {
			k = c
		}
	}
	if k == nil {
		t.Fatal("no test key of 8k+1 bits")
	}
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
	tried := 0
	for i := 0; i < 64 && tried < 4; i++ {
		d := digestOf(crypto.SHA384, []byte{byte(i)})
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA384, d, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := samePSS(t, &k.PublicKey, crypto.SHA384, d, sig, opts); err != nil {
			t.Fatalf("genuine signature: %v", err)
		}
		em := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(k.E)), k.N).FillBytes(make([]byte, k.Size()))
		if em[0] != 0 {
			t.Fatalf("leading byte %#x of a genuine encoding", em[0])
		}
		em[0] = 1
		m := new(big.Int).SetBytes(em)
		if m.Cmp(k.N) >= 0 {
			continue // not a value the primitive can sign; try another digest
		}
		tried++
		if err := samePSS(t, &k.PublicKey, crypto.SHA384, d, rawSign(k, m), opts); err == nil {
			t.Errorf("digest %d: an encoding with a nonzero extra leading byte accepted", i)
		}
	}
	if tried == 0 {
		t.Fatal("no encoding below N to try")
	}
}
