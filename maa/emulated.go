package maa

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/pem"
	"errors"
)

// The emulated MAA (package maa/fakemaa) signs its tokens with a PUBLIC
// TEST KEY committed to this repository; its certificate is embedded here
// so that any verifier can recognise it. Verify rejects a token signed by
// this key or naming EmulatedIssuer unless Config.TrustEmulated is set.
const (
	// EmulatedIssuer is the iss of every token of the emulated MAA. The
	// .invalid top-level domain never resolves.
	EmulatedIssuer = "https://emulated-maa.snp-vtpm.invalid"
	// EmulatedMarker is in the subject of the emulated MAA's certificate.
	EmulatedMarker = "EMULATED"
)

//go:embed emulated-maa-cert.pem
var emulatedCertPEM []byte

// ErrEmulated says that a token comes from the emulated MAA and the
// verifier does not trust it.
var ErrEmulated = errors.New("the token comes from the EMULATED MAA (a public test key); only --trust-emulated accepts it")

// EmulatedCertificate returns the DER certificate of the emulated MAA's
// signing key: self-signed, CA:FALSE, EmulatedMarker in its subject.
func EmulatedCertificate() []byte {
	block, _ := pem.Decode(emulatedCertPEM)
	if block == nil {
		return nil
	}
	return block.Bytes
}

// EmulatedKid is the kid of the emulated MAA's key: the standard base64
// of the SHA-256 of its certificate (MAA's kids are base64 digests too).
func EmulatedKid() string {
	d := sha256.Sum256(EmulatedCertificate())
	return base64.StdEncoding.EncodeToString(d[:])
}

// EmulatedJWKS returns the emulated MAA's JWKS, shaped like MAA's: the key
// only as x5c[0], no n or e.
func EmulatedJWKS() []byte {
	return []byte(`{"keys":[{"kid":"` + EmulatedKid() + `","kty":"RSA","x5c":["` +
		base64.StdEncoding.EncodeToString(EmulatedCertificate()) + `"]}]}`)
}

// EmulatedKeys returns the emulated MAA's keys as a KeySource.
func EmulatedKeys() (*KeySet, error) { return ParseJWKS(EmulatedJWKS()) }

// isEmulatedKey reports whether pub is the emulated MAA's key.
func isEmulatedKey(pub *rsa.PublicKey) bool {
	c, err := x509.ParseCertificate(EmulatedCertificate())
	if err != nil {
		return false
	}
	k, ok := c.PublicKey.(*rsa.PublicKey)
	return ok && k.Equal(pub)
}
