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
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
)

var (
	//go:embed ark_key.pem
	arkKeyPEM []byte
	//go:embed ask_key.pem
	askKeyPEM []byte
	//go:embed vcek_key.pem
	vcekKeyPEM []byte
)

func parse(name string, b []byte) (any, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("fakekeys: %s: no PRIVATE KEY PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fakekeys: %s: %w", name, err)
	}
	return k, nil
}

func rsaKey(name string, b []byte) *rsa.PrivateKey {
	k, err := parse(name, b)
	if err != nil {
		return nil
	}
	r, ok := k.(*rsa.PrivateKey)
	if !ok || r.N.BitLen() != 4096 {
		return nil
	}
	return r
}

// VCEKKey returns the fake VCEK's ECDSA P-384 private key, which signs the
// emulated CVM's SNP reports. It returns nil only if the embedded key is
// broken, which this package's tests rule out.
func VCEKKey() *ecdsa.PrivateKey {
	k, err := parse("VCEK", vcekKeyPEM)
	if err != nil {
		return nil
	}
	e, ok := k.(*ecdsa.PrivateKey)
	if !ok || e.Curve.Params().Name != "P-384" {
		return nil
	}
	return e
}

// ASKKey returns the fake ASK's RSA-4096 private key, which signs the fake
// VCEK (nil only if the embedded key is broken).
func ASKKey() *rsa.PrivateKey { return rsaKey("ASK", askKeyPEM) }

// ARKKey returns the fake ARK's RSA-4096 private key, which signs itself and
// the fake ASK (nil only if the embedded key is broken).
func ARKKey() *rsa.PrivateKey { return rsaKey("ARK", arkKeyPEM) }
