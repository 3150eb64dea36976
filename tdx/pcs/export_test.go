package pcs

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// VerifiedQuote parses and verifies the real quote in the testdata file
// at testutil.TDXFixtureTime.
func VerifiedQuote(t testing.TB, file string) (*tdx.Quote, *tdx.Verified) {
	t.Helper()
	return tdxtest.RealQuote(t, file)
}
