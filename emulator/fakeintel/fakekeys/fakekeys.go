// Package fakekeys holds the private keys of the emulated TDX CVM's fake
// Intel chain (see package fakeintel). They are PUBLIC TEST KEYS:
// committed to the repository on purpose, protecting nothing, unrelated to
// Intel. Only the emulator (which signs TD quotes with the PCK and
// attestation keys) and tests should import this package; verifiers only
// need fakeintel's public certificates.
package fakekeys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

var (
	//go:embed pck_key.pem
	pckKeyPEM []byte
	//go:embed attestation_key.pem
	akPEM []byte
)

// key parses an embedded P-256 PKCS #8 key.
func key(name string, b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("fakekeys: %s: no PRIVATE KEY PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fakekeys: %s: %w", name, err)
	}
	e, ok := k.(*ecdsa.PrivateKey)
	if !ok || e.Curve != elliptic.P256() {
		return nil, fmt.Errorf("fakekeys: %s: not an ECDSA P-256 key", name)
	}
	return e, nil
}

// SignQuote signs q as the emulated platform's quoting enclave: the fake
// PCK signs the QE report, whose report data binds the fake attestation
// key, which signs q's header and body (see intelcert.SignQuote).
func SignQuote(q *tdx.Quote) error {
	pck, err := key("PCK", pckKeyPEM)
	if err != nil {
		return err
	}
	ak, err := key("attestation key", akPEM)
	if err != nil {
		return err
	}
	return intelcert.SignQuote(q, fakeintel.ChainPEM(), pck, ak)
}
