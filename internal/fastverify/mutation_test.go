package fastverify

import (
	"crypto"
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
