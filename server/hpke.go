package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/cloudflare/circl/dh/x25519"
)

// The sender side of Suite in base mode (RFC 9180, sections 4.1, 5.1 and
// 5.2), written out so that one attestation costs one X25519 key
// generation, one X25519 shared secret, six HMAC-SHA256 computations and
// one AES-256-GCM seal, with a handful of allocations. The wire format is
// RFC 9180's: OpenSecret (crypto/hpke) opens it, and
// TestSealerMatchesCircl holds it to circl's HPKE byte for byte.

// Identifiers of Suite (RFC 9180, section 7).
const (
	kemX25519SHA256 = 0x0020
	kdfHKDFSHA256   = 0x0001
	aeadAES256GCM   = 0x0002
	encSize         = x25519.Size // Nenc = Npk
	aeadNonceSize   = 12          // Nn
	aeadKeySize     = 32          // Nk
)

// kemSuiteID and hpkeSuiteID are the suite_id strings of the KEM and of
// the whole suite.
var (
	kemSuiteID  = [5]byte{'K', 'E', 'M', kemX25519SHA256 >> 8, kemX25519SHA256 & 0xff}
	hpkeSuiteID = [10]byte{'H', 'P', 'K', 'E', kemX25519SHA256 >> 8, kemX25519SHA256 & 0xff,
		kdfHKDFSHA256 >> 8, kdfHKDFSHA256 & 0xff, aeadAES256GCM >> 8, aeadAES256GCM & 0xff}
)

// errLowOrder is the encapsulation failure of an X25519 public key of
// small order, whose shared secret is zero.
var errLowOrder = errors.New("X25519 public key of small order")

// hmacSHA256 returns HMAC-SHA256(key, msg) for a key of at most 64 bytes
// (RFC 2104; a shorter key is padded with zeros, so an empty salt and
// HashLen zero bytes give the same result, as HKDF-Extract wants).
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var pad [sha256.BlockSize]byte
	copy(pad[:], key)
	var buf [sha256.BlockSize + 192]byte
	b := buf[:0]
	for _, c := range pad {
		b = append(b, c^0x36)
	}
	inner := sha256.Sum256(append(b, msg...))
	b = buf[:0]
	for _, c := range pad {
		b = append(b, c^0x5c)
	}
	return sha256.Sum256(append(b, inner[:]...))
}

// labeledExtract is RFC 9180's LabeledExtract with HKDF-SHA256.
func labeledExtract(salt, suiteID []byte, label string, ikm []byte) [sha256.Size]byte {
	var buf [128]byte
	msg := append(append(append(append(buf[:0], "HPKE-v1"...), suiteID...), label...), ikm...)
	return hmacSHA256(salt, msg)
}

// labeledExpand is RFC 9180's LabeledExpand with HKDF-SHA256, for an output
// of at most one hash block (n ≤ 32): T(1) = HMAC(prk, labeled info ‖ 0x01).
func labeledExpand(prk []byte, suiteID []byte, label string, info []byte, n int) [sha256.Size]byte {
	var buf [192]byte
	msg := binary.BigEndian.AppendUint16(buf[:0], uint16(n))
	msg = append(append(append(append(msg, "HPKE-v1"...), suiteID...), label...), info...)
	t := hmacSHA256(prk, append(msg, 1))
	clear(t[n:])
	return t
}

// sealer seals one secret to one attester's public key for one exchange.
type sealer struct {
	enc   [encSize]byte
	aead  cipher.AEAD
	nonce [aeadNonceSize]byte
	used  bool
}

// newSealer checks that pub is a usable public key of Suite (32 bytes, and
// not of small order: the shared secret of encapsulation to it is not
// zero) and sets up the HPKE context sealing to it, with a fresh ephemeral
// key, so that each attestation pays for one encapsulation.
func newSealer(pub, nonce []byte) (*sealer, error) {
	var ephemeral x25519.Key
	if _, err := rand.Read(ephemeral[:]); err != nil {
		return nil, err
	}
	return sealerWithEphemeral(&ephemeral, pub, nonce)
}

// sealerWithEphemeral is newSealer with the ephemeral private key given.
func sealerWithEphemeral(ephemeral *x25519.Key, pub, nonce []byte) (*sealer, error) {
	if len(pub) != x25519.Size {
		return nil, errors.New("X25519 public key is not 32 bytes")
	}
	var pkR, dh x25519.Key
	copy(pkR[:], pub)
	s := new(sealer)
	x25519.KeyGen((*x25519.Key)(&s.enc), ephemeral)
	if !x25519.Shared(&dh, ephemeral, &pkR) {
		return nil, errLowOrder
	}
	// DHKEM ExtractAndExpand: kem_context = enc ‖ pkR.
	eaePRK := labeledExtract(nil, kemSuiteID[:], "eae_prk", dh[:])
	var kemContext [2 * encSize]byte
	copy(kemContext[:], s.enc[:])
	copy(kemContext[encSize:], pkR[:])
	shared := labeledExpand(eaePRK[:], kemSuiteID[:], "shared_secret", kemContext[:], sha256.Size)
	// KeySchedule, mode_base, empty psk and psk_id.
	var infoBuf [96]byte
	pskIDHash := labeledExtract(nil, hpkeSuiteID[:], "psk_id_hash", nil)
	infoHash := labeledExtract(nil, hpkeSuiteID[:], "info_hash", append(append(infoBuf[:0], InfoPrefix...), nonce...))
	var ksc [1 + 2*sha256.Size]byte // mode_base = 0
	copy(ksc[1:], pskIDHash[:])
	copy(ksc[1+sha256.Size:], infoHash[:])
	secret := labeledExtract(shared[:], hpkeSuiteID[:], "secret", nil)
	key := labeledExpand(secret[:], hpkeSuiteID[:], "key", ksc[:], aeadKeySize)
	baseNonce := labeledExpand(secret[:], hpkeSuiteID[:], "base_nonce", ksc[:], aeadNonceSize)
	block, err := aes.NewCipher(key[:aeadKeySize])
	if err != nil {
		return nil, err
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	copy(s.nonce[:], baseNonce[:aeadNonceSize])
	return s, nil
}

// seal encrypts secret with the context's first nonce (sequence number 0)
// and returns enc ‖ ciphertext, as hpke.Seal does. A sealer seals once: a
// second call is an error, never a reused nonce.
func (s *sealer) seal(secret []byte) ([]byte, error) {
	if s.used {
		return nil, errors.New("server: HPKE context already used")
	}
	s.used = true
	out := make([]byte, encSize, encSize+len(secret)+s.aead.Overhead())
	copy(out, s.enc[:])
	return s.aead.Seal(out, s.nonce[:], secret, nil), nil
}
