package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/cloudflare/circl/dh/x25519"
	chpke "github.com/cloudflare/circl/hpke"
	circlkem "github.com/cloudflare/circl/kem"
)

// TestNewSealerRejectsLowOrderPoints: encapsulation to an X25519 point of
// small order (shared secret zero) fails, and a sealed secret opens with
// crypto/hpke (OpenSecret), the attester's side.
func TestNewSealerRejectsLowOrderPoints(t *testing.T) {
	for _, h := range []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		pub, _ := hex.DecodeString(h)
		if _, err := newSealer(pub, []byte("nonce")); err == nil {
			t.Errorf("newSealer accepted the low-order point %s", h)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := newSealer(make([]byte, n), []byte("nonce")); err == nil {
			t.Errorf("newSealer accepted a %d-byte key", n)
		}
	}
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSealer(pub, []byte("nonce"))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.seal([]byte("the secret"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenSecret(priv, []byte("nonce"), ct); err != nil || !bytes.Equal(got, []byte("the secret")) {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	if _, err := OpenSecret(priv, []byte("other nonce"), ct); err == nil {
		t.Fatal("the secret opened under another nonce")
	}
}

// TestSealerMatchesCircl: with the ephemeral key circl's HPKE derives from
// a seed, the sealer produces circl's encapsulated key and ciphertext byte
// for byte (same suite, base mode, same info), for several keys and nonces;
// and a sealer refuses to seal twice.
func TestSealerMatchesCircl(t *testing.T) {
	for i := range 8 {
		_, pub, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		nonce := Nonce(bytes.Repeat([]byte{byte(i)}, ChallengeSize), pub)
		seed := sha256.Sum256([]byte{byte(0x40 + i)})
		s := sealBoth(t, pub, seed, nonce, bytes.Repeat([]byte("secret "), i+1))
		if s == nil {
			t.Fatalf("case %d: the key of GenerateKey was refused", i)
		}
		if _, err := s.seal([]byte("again")); err == nil {
			t.Fatal("a sealer sealed twice (nonce reuse)")
		}
	}
}

// FuzzSealerMatchesCircl: for any recipient key (derived from a seed, or
// 32 raw bytes, low-order points included), ephemeral seed, nonce and
// secret, the sealer and circl's HPKE sender agree: both refuse the key,
// or both produce the same encapsulated key and ciphertext.
func FuzzSealerMatchesCircl(f *testing.F) {
	f.Add([]byte("recipient"), []byte("ephemeral"), []byte("nonce"), []byte("secret"), false)
	f.Add(make([]byte, 32), []byte{1}, []byte{}, []byte{}, true)
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte{2}, bytes.Repeat([]byte{7}, 80), bytes.Repeat([]byte{9}, 300), true)
	f.Fuzz(func(t *testing.T, recipient, ephSeed, nonce, secret []byte, raw bool) {
		if len(nonce) > 512 || len(secret) > 4096 {
			return
		}
		pub := recipient
		if !raw || len(recipient) != x25519.Size {
			seed := sha256.Sum256(recipient)
			pk, _ := circlKEM().DeriveKeyPair(seed[:])
			var err error
			if pub, err = pk.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		sealBoth(t, pub, sha256.Sum256(ephSeed), nonce, secret)
	})
}

// circlKEM is the KEM of Suite in circl's HPKE.
func circlKEM() circlkem.Scheme { return chpke.KEM_X25519_HKDF_SHA256.Scheme() }

// sealBoth seals secret to pub for nonce with the ephemeral key circl
// derives from seed, once with the sealer and once with circl's HPKE
// sender, and fails t unless both refuse pub or both give the same bytes.
// It returns the used sealer (nil when pub was refused).
func sealBoth(t *testing.T, pub []byte, seed [32]byte, nonce, secret []byte) *sealer {
	t.Helper()
	_, skE := circlKEM().DeriveKeyPair(seed[:])
	skBytes, err := skE.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var eph x25519.Key
	copy(eph[:], skBytes)
	s, ourErr := sealerWithEphemeral(&eph, pub, nonce)
	pk, err := circlKEM().UnmarshalBinaryPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	suite := chpke.NewSuite(chpke.KEM_X25519_HKDF_SHA256, chpke.KDF_HKDF_SHA256, chpke.AEAD_AES256GCM)
	snd, err := suite.NewSender(pk, append([]byte(InfoPrefix), nonce...))
	if err != nil {
		t.Fatal(err)
	}
	enc, sl, theirErr := snd.Setup(bytes.NewReader(seed[:]))
	if (ourErr == nil) != (theirErr == nil) {
		t.Fatalf("pub %x: sealer error %v, circl error %v", pub, ourErr, theirErr)
	}
	if ourErr != nil {
		return nil
	}
	got, err := s.seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sl.Seal(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(enc, ct...); !bytes.Equal(got, want) {
		t.Fatalf("pub %x: sealer gave %x, circl %x", pub, got, want)
	}
	return s
}

// BenchmarkSeal is the server's HPKE work per attestation: the
// encapsulation (ephemeral X25519 key, shared secret, key schedule) and
// the seal of a short secret.
func BenchmarkSeal(b *testing.B) {
	_, pub, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	nonce := Nonce(make([]byte, ChallengeSize), pub)
	b.ReportAllocs()
	for range b.N {
		s, err := newSealer(pub, nonce)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.seal([]byte("benchmark secret")); err != nil {
			b.Fatal(err)
		}
	}
}
