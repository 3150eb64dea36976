package fastverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// BenchmarkVerify compares each fast path with its standard-library
// counterpart on the same valid signature.
func BenchmarkVerify(b *testing.B) {
	ek := testECKeys()[0]
	h384 := digestOf(crypto.SHA384, []byte("bench"))
	r, s := sign(b, ek, h384)
	keys := rsaKeys(b)
	k2048, k4096 := keys[0], keys[4]
	h256 := digestOf(crypto.SHA256, []byte("bench"))
	p1, err := rsa.SignPKCS1v15(nil, k2048, crypto.SHA256, h256)
	if err != nil {
		b.Fatal(err)
	}
	prepared := NewPublicKey(&k2048.PublicKey)
	pssOpts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	pss, err := rsa.SignPSS(rand.Reader, k4096, crypto.SHA384, h384, pssOpts)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ok   func() bool
	}{
		{"P384/fast", func() bool { return VerifyECDSAP384(&ek.PublicKey, h384, r, s) }},
		{"P384/stdlib", func() bool { return ecdsa.Verify(&ek.PublicKey, h384, r, s) }},
		{"PSS4096/fast", func() bool { return VerifyPSS(&k4096.PublicKey, crypto.SHA384, h384, pss, pssOpts) == nil }},
		{"PSS4096/stdlib", func() bool { return rsa.VerifyPSS(&k4096.PublicKey, crypto.SHA384, h384, pss, pssOpts) == nil }},
		{"PKCS1-2048/fast", func() bool { return VerifyPKCS1v15(&k2048.PublicKey, crypto.SHA256, h256, p1) == nil }},
		{"PKCS1-2048/prepared", func() bool { return prepared.VerifyPKCS1v15(crypto.SHA256, h256, p1) == nil }},
		{"PKCS1-2048/stdlib", func() bool { return rsa.VerifyPKCS1v15(&k2048.PublicKey, crypto.SHA256, h256, p1) == nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.ok() {
					b.Fatal("did not verify")
				}
			}
		})
	}
}
