package verify_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// warmTDX returns a Verifier with cfg that verified trustee's v1 TDX
// evidence once (its PCK chain and TD quote cached), the evidence and its
// nonce.
func warmTDX(t *testing.T, cfg verify.Config) (*verify.Verifier, []byte, []byte) {
	t.Helper()
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	nonce := quotedNonce(t, data)
	v := newVerifier(t, cfg)
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	if s := v.Stats(); s.PCKChains.Entries != 1 || s.TDQuotes.Entries != 1 {
		t.Fatalf("after one success: %d PCK chains, %d TD quotes cached, want 1 and 1", s.PCKChains.Entries, s.TDQuotes.Entries)
	}
	return v, data, nonce
}

// TestTDXCacheHit: the same TDX evidence again skips the PCK chain and TD
// quote signatures (cache hits) and gives the same claims.
func TestTDXCacheHit(t *testing.T) {
	v, data, nonce := warmTDX(t, tdxOpts())
	want, err := tdxVerify(t, data, tdxOpts())
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Evidence(context.Background(), data, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Stats(); s.PCKChains.Hits != 1 || s.TDQuotes.Hits != 1 {
		t.Fatalf("second verification: %+v %+v, want one hit each", s.PCKChains, s.TDQuotes)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cached claims %+v, uncached %+v", got, want)
	}
}

// TestTDXCachedTamperedQuote: with the PCK chain (and the genuine quote)
// cached, every signed region of the TD quote, changed, is still rejected
// by the check that rejects it uncached.
func TestTDXCachedTamperedQuote(t *testing.T) {
	v, _, nonce := warmTDX(t, tdxOpts())
	for _, e := range tdQuoteEdits() {
		t.Run(e.name, func(t *testing.T) {
			c, err := v.Evidence(context.Background(), e.evidence(t), nonce)
			wantOutcome(t, c, err, e.want)
		})
	}
	if s := v.Stats(); s.PCKChains.Hits == 0 || s.PCKChains.Entries != 1 || s.TDQuotes.Entries != 1 {
		t.Fatalf("the tampered quotes did not reuse the chain, or filled the cache: %+v %+v", s.PCKChains, s.TDQuotes)
	}
}

// TestTDXCacheRechecksValidity: a cached PCK chain is checked again at
// the verification time: after its certificates expire, the same evidence
// is rejected by tdx-pck-chain.
func TestTDXCacheRechecksValidity(t *testing.T) {
	v, data, nonce := warmTDX(t, tdxOpts())
	verify.SetNowForTest(v, time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := v.Evidence(context.Background(), data, nonce)
	wantOutcome(t, c, err, verify.CheckTDXPCKChain)
	if s := v.Stats(); s.PCKChains.Hits != 1 {
		t.Fatalf("the expired chain was not a cache hit (%+v): the test checks nothing", s.PCKChains)
	}
}

// TestTDXCacheKeysOnRoot: a chain cached under a test's root is not
// trusted once the pinned Intel root is back.
func TestTDXCacheKeysOnRoot(t *testing.T) {
	data, root := resigned(t, func(*tdx.Quote) {})
	nonce := quotedNonce(t, data)
	v := newVerifier(t, tdxOpts())
	verify.SetTDXRootForTest(v, root)
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	verify.SetTDXRootForTest(v, nil)
	c, err := v.Evidence(context.Background(), data, nonce)
	wantOutcome(t, c, err, verify.CheckTDXPCKChain)
}

// TestTDXRejectedFillsNoCache: TDX evidence whose TD quote verifies but
// which is rejected later (a wrong nonce) caches no PCK chain or quote.
func TestTDXRejectedFillsNoCache(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	v := newVerifier(t, tdxOpts())
	c, err := v.Evidence(context.Background(), data, []byte("another nonce"))
	wantOutcome(t, c, err, verify.CheckNonce)
	if s := v.Stats(); s.PCKChains.Entries != 0 || s.TDQuotes.Entries != 0 {
		t.Fatalf("rejected evidence cached %+v %+v", s.PCKChains, s.TDQuotes)
	}
}

// TestTDXCachedHCLReport: the HCL report of TDX evidence is parsed once
// (a cache hit the second time), and its cached entry is never taken for
// an SNP one: the same HCL report without its TD quote is still rejected
// as a TDX report where SNP evidence is verified.
func TestTDXCachedHCLReport(t *testing.T) {
	v, data, nonce := warmTDX(t, tdxOpts())
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	if s := v.Stats(); s.HCLReports.Hits != 1 {
		t.Fatalf("HCL report cache %+v, want one hit", s.HCLReports)
	}
	bare := tdxWith(t, func(ev *evidence.Evidence) { ev.TDQuote = nil })
	c, err := v.Evidence(context.Background(), bare, nonce)
	wantOutcome(t, c, err, verify.CheckReportType)
}

// TestTDXCacheConcurrent: goroutines verifying the same TDX evidence with
// one Verifier share its cached chain, quote and HCL report (read-only;
// the race detector checks it) and all get the claims of a fresh
// verification.
func TestTDXCacheConcurrent(t *testing.T) {
	v, data, nonce := warmTDX(t, tdxOpts())
	want, err := tdxVerify(t, data, tdxOpts())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := v.Evidence(context.Background(), data, nonce)
			if err == nil && !reflect.DeepEqual(got, want) {
				err = errors.New("cached claims differ from a fresh verification's")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestTDXCacheRevocationEveryCall is TestCacheRevocationEveryCall for TDX:
// Intel's PCK CRLs are evaluated on every verification, also when the PCK
// chain and the TD quote's signatures come from the cache. A PCK (or its
// CA) that Intel's collateral revokes after the evidence verified is
// rejected at once, and accepted again only when the collateral says so.
func TestTDXCacheRevocationEveryCall(t *testing.T) {
	f := tdxtest.New(t)
	data := resignedBy(t, f, func(*tdx.Quote) {})
	nonce := quotedNonce(t, data)
	intel := realCollateral(t)
	load := func(c tdxtest.Collateral) *pcs.Collateral {
		c.TCBInfo, c.QEIdentity, c.FMSPC = intel.TCBInfos["00806f050000"].Signed.Raw, intel.QEIdentity.Signed.Raw, "00806f050000"
		return testutil.Must(pcs.LoadDir(f.FS(t, c)))(t)
	}
	good, revokedPCK, revokedCA := load(tdxtest.Collateral{}), load(tdxtest.Collateral{RevokePCK: true}), load(tdxtest.Collateral{RevokeCA: true})
	var now *pcs.Collateral
	asked := 0
	cfg := tdxOpts()
	cfg.Policy.TDXTCBStatuses = []string{pcs.UpToDate, pcs.OutOfDate} // the test TCB info says OutOfDate
	cfg.TDXCollateralGetter = getterFunc(func(context.Context, verify.TDXCollateralRequest) (*pcs.Collateral, error) {
		asked++
		return now, nil
	})
	v := newVerifier(t, cfg)
	verify.SetTDXRootForTest(v, f.Root)
	for i, step := range []struct {
		coll *pcs.Collateral
		want verify.Check
	}{
		{good, ""}, // fills the caches
		{revokedPCK, verify.CheckTDXPCKRevoked},
		{good, ""},
		{revokedCA, verify.CheckTDXPCKRevoked},
		{good, ""},
	} {
		now, asked = step.coll, 0
		c, err := v.Evidence(context.Background(), data, nonce)
		wantOutcome(t, c, err, step.want)
		if asked != 1 {
			t.Fatalf("step %d: the collateral was asked for %d times, want once", i, asked)
		}
	}
	if s := v.Stats(); s.PCKChains.Hits < 4 || s.TDQuotes.Hits < 4 {
		t.Fatalf("the chain and quote came from the cache %d and %d times, want at least 4 (the test would not test the cache)", s.PCKChains.Hits, s.TDQuotes.Hits)
	}
}
