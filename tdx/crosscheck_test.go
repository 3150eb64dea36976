package tdx_test

import (
	"encoding/hex"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// goTDXGuest verifies raw with go-tdx-guest (signatures and PCK chain under
// the pinned root, no collateral) at the fixture time.
func goTDXGuest(t *testing.T, raw []byte) error {
	return tdxtest.GoTDXGuest(t, raw, tdxverify.Options{Now: &tdxverify.TimeSet{PckCertChain: fixtureTime, TcbInfo: fixtureTime,
		QeIdentity: fixtureTime, PckCrl: fixtureTime, RootCaCrl: fixtureTime}})
}

// TestCrossCheckGoTDXGuest: on the real quotes and on every tampered
// region, our verdict is go-tdx-guest's; the FMSPC and PCESVN agree.
func TestCrossCheckGoTDXGuest(t *testing.T) {
	for _, rq := range realQuotes {
		q, raw := parseFile(t, rq.file)
		if err := goTDXGuest(t, raw); err != nil {
			t.Fatalf("%s: go-tdx-guest rejects: %v", rq.file, err)
		}
		v, err := q.Verify(tdx.VerifyOptions{Now: fixtureTime})
		if err != nil {
			t.Fatal(err)
		}
		var chain *tdxverify.PCKCertificateChain
		var ext *pcs.PckExtensions
		pb, err := abi.QuoteToProto(raw)
		if err == nil {
			chain, err = tdxverify.ExtractChainFromQuote(pb)
		}
		if err == nil {
			ext, err = pcs.PckCertificateExtensions(chain.PCKCertificate)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !chain.PCKCertificate.Equal(v.PCK) || ext.FMSPC != hex.EncodeToString(v.SGX.FMSPC[:]) || uint16(ext.TCB.PCESvn) != v.SGX.PCESVN {
			t.Errorf("go-tdx-guest: FMSPC %s PCESVN %d; ours %x %d", ext.FMSPC, uint16(ext.TCB.PCESvn), v.SGX.FMSPC, v.SGX.PCESVN)
		}
		for _, e := range quoteEdits(t) {
			blob := edited(t, rq.file, e)
			theirs := goTDXGuest(t, blob)
			q2, err := tdx.ParseQuote(blob)
			if err == nil {
				_, err = q2.Verify(tdx.VerifyOptions{Now: fixtureTime})
			}
			if (err == nil) != (theirs == nil) {
				t.Errorf("%s %s: ours %v, go-tdx-guest %v", rq.file, e.name, err, theirs)
			}
		}
	}
}
