package collateral

import (
	"context"
	"crypto/x509"
	"log/slog"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
)

// EmulatedKDS is the emulated CVM's KDS, in process: a local Source (no
// request is sent) serving, for the fake chain's product line
// (fakeamd.Product) only, the fake AMD chain's cert chain and its two
// CRLs, signed by the fake ARK (fakeamd.VCEKCRLDER, fakeamd.VLEKCRLDER).
// It has no VCEK (the emulated CVM's IMDS serves it) and nothing of any
// other product line. It belongs in EmulatedChain only: a Chain whose ARK
// is AMD's rejects what it serves (issuer and signature).
type EmulatedKDS struct{}

// Name implements Source.
func (EmulatedKDS) Name() string { return "emulated KDS (" + fakeamd.ChainSource + ")" }

// Get implements Source.
func (s EmulatedKDS) Get(_ context.Context, kind Kind, q *Query) ([]byte, error) {
	if q.Product != fakeamd.Product {
		return nil, miss(s, kind)
	}
	switch kind {
	case KindCertChain:
		return fakeamd.ChainPEM(), nil
	case KindCRL:
		return fakeamd.VCEKCRLDER(), nil
	case KindVLEKCRL:
		return fakeamd.VLEKCRLDER(), nil
	}
	return nil, miss(s, kind)
}

// EmulatedChain returns the revocation checker of the emulated CVM's fake
// AMD chain (verify.Config.EmulatedRevocation): a Chain whose only ARK is
// the fake ARK (fakeamd.ARK, for fakeamd.Product) and whose only sources
// are its own Memory and EmulatedKDS, Offline. Its CheckRevoked is the
// Chain's, on the fake CRLs: the ASK and VCEK (or ASVK and VLEK) of the
// emulated chain are checked against both, and the revoked fake VCEK
// (fakeamd.RevokedVCEKDER) is a *RevokedError (Emulated set). It never
// asks AMD's KDS, never reads AMD's CRLs, and keeps the fake CRLs in its
// own memory only, out of every cache a Chain of AMD's roots reads (Disk,
// a fleet's Redis), whose slots are keyed by product line alone. logger
// may be nil.
func EmulatedChain(logger *slog.Logger) *Chain {
	return &Chain{
		Sources:  []Source{&Memory{}, EmulatedKDS{}},
		Offline:  true,
		emulated: true,
		Logger:   logger,
		ARK: func(product string) *x509.Certificate {
			if product != fakeamd.Product {
				return nil
			}
			return fakeamd.ARK()
		},
	}
}
