package verify_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
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

// emulatedTDXEvidence is Azure-shaped TDX evidence of the given version
// for nonce under the emulated TDX CVM's fake Intel chain: testev's
// runtime data (its AK, user-data = nonce for v2) and TPM quote, in an
// HCL report of type TDX whose TDREPORT (the emulated TD, REPORT_DATA =
// SHA-256 of the runtime data) the TD quote signs.
func emulatedTDXEvidence(t *testing.T, version int, nonce []byte) []byte {
	t.Helper()
	ev := decode(t, (&testev.Builder{Version: version, Nonce: nonce}).MustBuild().JSON)
	r, err := hcl.Parse(ev.HCLReport)
	if err != nil {
		t.Fatal(err)
	}
	var reportData [64]byte
	sum := sha256.Sum256(r.RuntimeDataRaw)
	copy(reportData[:], sum[:])
	body, err := fakeintel.DefaultBody(reportData)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tdx.TDReport{Type: [4]byte{0x81}, Body: body}
	if ev.HCLReport, err = hcl.Build(hcl.ReportTypeTDX, tr.Marshal(), r.RuntimeDataRaw, testev.DefaultHCLSize); err != nil {
		t.Fatal(err)
	}
	q, err := fakekeys.Quote(body)
	if err != nil {
		t.Fatal(err)
	}
	ev.TDQuote, ev.VCEK = q.Marshal(), nil
	return encode(t, ev)
}

// TestTDXRefreshedQuoteNotCached: the TD quote of v2 evidence signs the
// TDREPORT refreshed with the verifier's nonce (tdx-binding; REPORT_DATA
// binds user-data = the nonce), so it never comes again: it is neither
// looked up nor cached, and does not evict a quote that can come again
// (v1: the same TDREPORT until the VM reboots); its PCK chain is cached
// and shared. Before, each v2 quote was cached, and with a full cache
// evicted the v1 quote. The cache holds one entry of each kind here.
func TestTDXRefreshedQuoteNotCached(t *testing.T) {
	cfg := verify.Config{TrustEmulatedTDX: true, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Cache: verify.CacheConfig{Entries: 1}}
	v := newVerifier(t, cfg)
	ctx := context.Background()
	v1Nonce := []byte("a v1 nonce")
	v1 := emulatedTDXEvidence(t, 1, v1Nonce)
	if _, err := v.Evidence(ctx, v1, v1Nonce); err != nil {
		t.Fatal(err)
	}
	const n = 4
	for i := range n {
		nonce := fmt.Appendf(nil, "fresh nonce %d", i)
		c, err := v.Evidence(ctx, emulatedTDXEvidence(t, 2, nonce), nonce)
		if err != nil {
			t.Fatal(err)
		}
		if !c.FreshReport || c.Platform != verify.PlatformTDX || !c.Emulated {
			t.Fatalf("v2 claims: fresh %v, platform %q, emulated %v", c.FreshReport, c.Platform, c.Emulated)
		}
	}
	s := v.Stats()
	if s.TDQuotes.Entries != 1 || s.TDQuotes.Misses != 1 || s.TDQuotes.Hits != 0 {
		t.Errorf("TD quotes after 1 v1 and %d v2 verifications: %+v; want the v1 quote only, looked up once", n, s.TDQuotes)
	}
	if s.PCKChains.Entries != 1 || s.PCKChains.Hits != n {
		t.Errorf("PCK chains %+v, want the one chain, hit by every v2 verification", s.PCKChains)
	}
	if _, err := v.Evidence(ctx, v1, v1Nonce); err != nil {
		t.Fatal(err)
	}
	if s := v.Stats(); s.TDQuotes.Hits != 1 {
		t.Errorf("the v1 quote again: %+v, want a hit (it was not evicted)", s.TDQuotes)
	}
}
