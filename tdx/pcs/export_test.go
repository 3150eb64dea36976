package pcs

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// VerifiedQuote parses and verifies the real quote in the testdata file
// at testutil.TDXFixtureTime.
func VerifiedQuote(t testing.TB, file string) (*tdx.Quote, *tdx.Verified) {
	t.Helper()
	q, err := tdx.ParseQuote(testutil.ReadFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := q.Verify(tdx.VerifyOptions{Now: testutil.TDXFixtureTime()})
	if err != nil {
		t.Fatal(err)
	}
	return q, v
}
