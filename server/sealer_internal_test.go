package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/cloudflare/circl/dh/x25519"
	chpke "github.com/cloudflare/circl/hpke"
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
	suite := chpke.NewSuite(chpke.KEM_X25519_HKDF_SHA256, chpke.KDF_HKDF_SHA256, chpke.AEAD_AES256GCM)
	scheme := chpke.KEM_X25519_HKDF_SHA256.Scheme()
	for i := range 8 {
		_, pub, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		nonce := Nonce(bytes.Repeat([]byte{byte(i)}, ChallengeSize), pub)
		seed := bytes.Repeat([]byte{byte(0x40 + i)}, scheme.EncapsulationSeedSize())
		_, skE := scheme.DeriveKeyPair(seed)
		skBytes, err := skE.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var eph x25519.Key
		copy(eph[:], skBytes)
		s, err := sealerWithEphemeral(&eph, pub, nonce)
		if err != nil {
			t.Fatal(err)
		}
		secret := bytes.Repeat([]byte("secret "), i+1)
		got, err := s.seal(secret)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := scheme.UnmarshalBinaryPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		snd, err := suite.NewSender(pk, append([]byte(InfoPrefix), nonce...))
		if err != nil {
			t.Fatal(err)
		}
		enc, sl, err := snd.Setup(bytes.NewReader(seed))
		if err != nil {
			t.Fatal(err)
		}
		ct, err := sl.Seal(secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(enc, ct...); !bytes.Equal(got, want) {
			t.Fatalf("case %d: sealer gave %x, circl %x", i, got, want)
		}
		if _, err := s.seal(secret); err == nil {
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
	suite := chpke.NewSuite(chpke.KEM_X25519_HKDF_SHA256, chpke.KDF_HKDF_SHA256, chpke.AEAD_AES256GCM)
	scheme := chpke.KEM_X25519_HKDF_SHA256.Scheme()
	f.Fuzz(func(t *testing.T, recipient, ephSeed, nonce, secret []byte, raw bool) {
		if len(nonce) > 512 || len(secret) > 4096 {
			return
		}
		pub := recipient
		if !raw || len(recipient) != x25519.Size {
			seed := sha256.Sum256(recipient)
			pk, _ := scheme.DeriveKeyPair(seed[:])
			var err error
			if pub, err = pk.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		seed := sha256.Sum256(ephSeed)
		_, skE := scheme.DeriveKeyPair(seed[:])
		skBytes, err := skE.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var eph x25519.Key
		copy(eph[:], skBytes)
		s, ourErr := sealerWithEphemeral(&eph, pub, nonce)
		pk, err := scheme.UnmarshalBinaryPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		snd, err := suite.NewSender(pk, append([]byte(InfoPrefix), nonce...))
		if err != nil {
			t.Fatal(err)
		}
		enc, sl, theirErr := snd.Setup(bytes.NewReader(seed[:]))
		if (ourErr == nil) != (theirErr == nil) {
			t.Fatalf("pub %x: sealer error %v, circl error %v", pub, ourErr, theirErr)
		}
		if ourErr != nil {
			return
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
	})
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
