package hcl

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// TestJWKBoundsEdges pins the exact bounds of RSAPublicKey that
// TestJWKRSAPublicKey's cases leave open: the longest n and e accepted
// (an 8192-bit modulus, 2^31-1, in their one form) and one character more
// (ErrTooLarge, before decoding), and the largest
// exponent (2^31-1) and the next odd one, and the modulus sizes just
// inside and just outside MinRSABits..MaxRSABits.
func TestJWKBoundsEdges(t *testing.T) {
	ak, _ := realKeys(t)
	b64 := base64.RawURLEncoding.EncodeToString
	const maxNChars = (MaxRSABits/8*4 + 2) / 3
	// The largest modulus: exactly maxNChars characters, the bound.
	n := new(big.Int).Lsh(big.NewInt(1), MaxRSABits)
	n.Sub(n, big.NewInt(1))
	if len(b64(n.Bytes())) != maxNChars {
		t.Fatalf("%d-bit modulus: %d characters, want %d", MaxRSABits, len(b64(n.Bytes())), maxNChars)
	}
	if k, err := (&JWK{Kty: "RSA", E: "AQAB", N: b64(n.Bytes())}).RSAPublicKey(); err != nil || k.N.BitLen() != MaxRSABits {
		t.Errorf("%d-bit modulus: %v", MaxRSABits, err)
	}
	odd := func(bits uint) string {
		m := new(big.Int).Lsh(big.NewInt(1), bits-1)
		return b64(m.SetBit(m, 0, 1).Bytes())
	}
	if k, err := (&JWK{Kty: "RSA", E: "AQAB", N: odd(MinRSABits)}).RSAPublicKey(); err != nil || k.N.BitLen() != MinRSABits {
		t.Errorf("%d-bit modulus: %v", MinRSABits, err)
	}
	for _, c := range []struct {
		name string
		k    JWK
		err  error
	}{
		{"n one over the length bound", JWK{Kty: "RSA", E: "AQAB", N: strings.Repeat("A", maxNChars+1)}, format.ErrTooLarge},
		{"n 64 over the length bound", JWK{Kty: "RSA", E: "AQAB", N: strings.Repeat("A", maxNChars+64)}, format.ErrTooLarge},
		{"e of 7 characters", JWK{Kty: "RSA", E: strings.Repeat("A", 7), N: ak.N}, format.ErrTooLarge},
		{"e of 8 characters", JWK{Kty: "RSA", E: "AAAAAAEAAQ"[2:], N: ak.N}, format.ErrTooLarge},
		{"e of 16 characters", JWK{Kty: "RSA", E: strings.Repeat("A", 12) + "AQAB", N: ak.N}, format.ErrTooLarge},
		{"largest modulus padded", JWK{Kty: "RSA", E: "AQAB", N: base64.URLEncoding.EncodeToString(n.Bytes())}, format.ErrTooLarge},
		{"largest modulus with a leading zero octet", JWK{Kty: "RSA", E: "AQAB", N: b64(append([]byte{0}, n.Bytes()...))}, format.ErrTooLarge},
		{"n of MinRSABits-1 bits", JWK{Kty: "RSA", E: "AQAB", N: odd(MinRSABits - 1)}, ErrBadKey},
		{"n of MaxRSABits+1 bits", JWK{Kty: "RSA", E: "AQAB", N: odd(MaxRSABits + 1)}, ErrBadKey},
		{"e 2^31+1", JWK{Kty: "RSA", E: b64([]byte{0x80, 0, 0, 1}), N: ak.N}, ErrBadKey},
		{"e 2^32-1", JWK{Kty: "RSA", E: b64([]byte{0xff, 0xff, 0xff, 0xff}), N: ak.N}, ErrBadKey},
	} {
		if _, err := c.k.RSAPublicKey(); !errors.Is(err, c.err) || !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	if k, err := (&JWK{Kty: "RSA", E: b64([]byte{0x7f, 0xff, 0xff, 0xff}), N: ak.N}).RSAPublicKey(); err != nil || k.E != 1<<31-1 {
		t.Errorf("e 2^31-1: %v", err)
	}
	if k, err := (&JWK{Kty: "RSA", E: b64([]byte{0x7f, 0xff, 0xff, 0xfd}), N: ak.N}).RSAPublicKey(); err != nil || k.E != 1<<31-3 || len(b64([]byte{0x7f, 0xff, 0xff, 0xfd})) != 6 {
		t.Errorf("e of 6 characters: %v", err)
	}
}

// TestParseRuntimeDataSizeBound: runtime data of exactly
// MaxRuntimeDataSize bytes is parsed; one byte more is ErrTooLarge.
func TestParseRuntimeDataSizeBound(t *testing.T) {
	doc := []byte(`{"keys":[]}`)
	at := append(bytes.Clone(doc), bytes.Repeat([]byte(" "), MaxRuntimeDataSize-len(doc))...)
	if _, err := ParseRuntimeData(at); err != nil {
		t.Errorf("%d bytes: %v", len(at), err)
	}
	if _, err := ParseRuntimeData(append(at, ' ')); !errors.Is(err, format.ErrTooLarge) {
		t.Errorf("%d bytes: %v, want ErrTooLarge", len(at)+1, err)
	}
}
