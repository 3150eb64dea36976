// Package fakekeys holds the private keys of the emulated CVM's fake AMD
// chain (see package fakeamd). They are PUBLIC TEST KEYS: committed to the
// repository on purpose, protecting nothing, unrelated to AMD. Only the
// emulator (which signs SNP reports with the VCEK key) and tests should
// import this package; verifiers only need fakeamd's public certificates.
//
// Each call parses the embedded PEM and returns a fresh key, so callers may
// not modify shared state through it.
package fakekeys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	_ "embed"

	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
)

var (
	//go:embed ark_key.pem
	arkKeyPEM []byte
	//go:embed ask_key.pem
	askKeyPEM []byte
	//go:embed vcek_key.pem
	vcekKeyPEM []byte
)

// rsaKey returns the RSA-4096 key of an embedded key file, nil if it is
// broken.
func rsaKey(name string, b []byte) *rsa.PrivateKey {
	k, err := fakepki.RSAKey(name, b, 4096)
	if err != nil {
		return nil
	}
	return k
}

// VCEKKey returns the fake VCEK's ECDSA P-384 private key, which signs the
// emulated CVM's SNP reports. It returns nil only if the embedded key is
// broken, which this package's tests rule out.
func VCEKKey() *ecdsa.PrivateKey {
	k, err := fakepki.ECDSAKey("VCEK", vcekKeyPEM, elliptic.P384())
	if err != nil {
		return nil
	}
	return k
}

// ASKKey returns the fake ASK's RSA-4096 private key, which signs the fake
// VCEK (nil only if the embedded key is broken).
func ASKKey() *rsa.PrivateKey { return rsaKey("ASK", askKeyPEM) }

// ARKKey returns the fake ARK's RSA-4096 private key, which signs itself and
// the fake ASK (nil only if the embedded key is broken).
func ARKKey() *rsa.PrivateKey { return rsaKey("ARK", arkKeyPEM) }
