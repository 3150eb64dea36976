package pcs_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	tdxpcs "github.com/google/go-tdx-guest/pcs"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// staticGetter answers go-tdx-guest's collateral requests from the
// collateral directory (the URLs and headers of Intel PCS).
type staticGetter struct{ t *testing.T }

func (g staticGetter) file(name string) []byte {
	return testutil.ReadFile(g.t, testutil.IntelCollateralDir+name)
}

func (g staticGetter) Get(u string) (map[string][]string, []byte, error) {
	chain := []string{url.QueryEscape(string(g.file("tcb-signing-chain.pem")))}
	switch u {
	case tdxpcs.TcbInfoURL("00806f050000"):
		return map[string][]string{tdxpcs.TcbInfoIssuerChainPhrase: chain}, g.file("tcbinfo-tdx-00806f050000.json"), nil
	case tdxpcs.QeIdentityURL():
		return map[string][]string{tdxpcs.SgxQeIdentityIssuerChainPhrase: chain}, g.file("qeidentity-tdx.json"), nil
	case tdxpcs.PckCrlURL("platform"):
		return map[string][]string{tdxpcs.SgxPckCrlIssuerChainPhrase: {url.QueryEscape(string(g.file("pckcrl-issuer-chain.pem")))}}, g.file("pckcrl-platform.der"), nil
	case "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der":
		return nil, g.file("rootcacrl.der"), nil
	}
	return nil, nil, fmt.Errorf("no such collateral: %s", u)
}

// oracle runs go-tdx-guest's full verification (collateral, revocation,
// TCB status) at now.
func oracle(t *testing.T, raw []byte, now time.Time) error {
	return tdxtest.GoTDXGuest(t, raw, tdxverify.Options{GetCollateral: true, CheckRevocations: true, Getter: staticGetter{t},
		Now: &tdxverify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now}})
}

// TestOracleGoTDXGuest: go-tdx-guest, given the same collateral, accepts
// exactly the quotes and times at which we say UpToDate, and fails where
// our collateral has expired.
func TestOracleGoTDXGuest(t *testing.T) {
	c := loadReal(t)
	for _, file := range []string{"intel-collateral/azure-tdx-quote-teekit.bin", "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin", "ita-aztdx/td-quote.bin"} {
		for _, at := range []time.Time{testutil.TDXFixtureTime(), time.Date(2025, 10, 2, 7, 3, 52, 0, time.UTC)} {
			raw := testutil.ReadFile(t, file)
			theirs := oracle(t, raw, at)
			q, err := tdx.ParseQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			v, err := q.Verify(tdx.VerifyOptions{Now: at})
			if err != nil {
				t.Fatal(err)
			}
			r, ours := c.Evaluate(q, v, pcs.Options{Now: at})
			upToDate := ours == nil && r.Status == pcs.UpToDate
			if upToDate != (theirs == nil) {
				t.Errorf("%s at %s: ours %v %+v, go-tdx-guest %v", file, at, ours, r, theirs)
			}
		}
	}
}
