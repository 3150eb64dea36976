package tdx_test

import (
	"crypto/x509"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// goTDXGuest verifies raw with go-tdx-guest (signatures and PCK chain under
// the pinned root, no collateral), capturing its stdout: with TrustedRoots
// set it must print nothing.
func goTDXGuest(t *testing.T, raw []byte) error {
	t.Helper()
	root, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	opts := &tdxverify.Options{TrustedRoots: pool, Now: &tdxverify.TimeSet{PckCertChain: fixtureTime, TcbInfo: fixtureTime,
		QeIdentity: fixtureTime, PckCrl: fixtureTime, RootCaCrl: fixtureTime}}
	r, w, perr := os.Pipe()
	if perr != nil {
		t.Fatal(perr)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = tdxverify.RawTdxQuote(raw, opts)
	os.Stdout = stdout
	w.Close()
	if out, _ := io.ReadAll(r); len(out) != 0 {
		t.Fatalf("go-tdx-guest wrote to stdout: %q", out)
	}
	return err
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
