// Package fakekeys holds the private keys of the emulated TDX CVM's fake
// Intel chain (see package fakeintel). They are PUBLIC TEST KEYS:
// committed to the repository on purpose, protecting nothing, unrelated to
// Intel. Only the emulator (which signs TD quotes with the PCK and
// attestation keys) and tests should import this package; verifiers only
// need fakeintel's public certificates.
package fakekeys

import (
	"crypto/elliptic"
	_ "embed"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

var (
	//go:embed pck_key.pem
	pckKeyPEM []byte
	//go:embed attestation_key.pem
	akPEM []byte
)

// SignQuote signs q as the emulated platform's quoting enclave: the fake
// PCK signs the QE report, whose report data binds the fake attestation
// key, which signs q's header and body (see intelcert.SignQuote).
func SignQuote(q *tdx.Quote) error {
	pck, err := fakepki.ECDSAKey("PCK", pckKeyPEM, elliptic.P256())
	if err != nil {
		return err
	}
	ak, err := fakepki.ECDSAKey("attestation key", akPEM, elliptic.P256())
	if err != nil {
		return err
	}
	return intelcert.SignQuote(q, fakeintel.ChainPEM(), pck, ak)
}

// Quote returns the emulated platform's TD quote of body (fakeintel's
// template with body in it), signed by SignQuote.
func Quote(body tdx.Body) (*tdx.Quote, error) {
	q, err := fakeintel.NewQuote(body)
	if err != nil {
		return nil, err
	}
	if err := SignQuote(q); err != nil {
		return nil, err
	}
	return q, nil
}
