package verify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The cache keys cover everything a cached result depends on. Each test
// verifies good evidence with a caching Verifier (filling its caches), then
// changes one input the cached results depend on, which must be rejected
// as it is without a cache.

func mustVerify(t *testing.T, v *verify.Verifier, data, nonce []byte) {
	t.Helper()
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
}

// TestCacheKeyRoots: a VCEK chain verified under some roots is not trusted
// under others.
func TestCacheKeyRoots(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	v := newVerifier(t, verify.Config{Roots: testev.Roots()})
	mustVerify(t, v, ev.JSON, ev.Nonce)
	verify.SetRootsForTest(v, snp.DefaultRoots()) // AMD's only
	_, err := v.Evidence(context.Background(), ev.JSON, ev.Nonce)
	wantCheck(t, err, verify.CheckVCEKChain)
	verify.SetRootsForTest(v, testev.Roots()) // another *Roots with the same chains
	mustVerify(t, v, ev.JSON, ev.Nonce)
}

// TestCacheKeyTime: a cached chain is checked for validity at every
// verification time.
func TestCacheKeyTime(t *testing.T) {
	notAfter := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	ev := (&testev.Builder{VCEK: testev.VCEKTemplate{NotAfter: notAfter}}).MustBuild()
	v := newVerifier(t, verify.Config{Roots: testev.Roots()})
	mustVerify(t, v, ev.JSON, ev.Nonce)
	verify.SetNowForTest(v, notAfter.Add(time.Hour))
	_, err := v.Evidence(context.Background(), ev.JSON, ev.Nonce)
	wantCheck(t, err, verify.CheckCertValidity)
	verify.SetNowForTest(v, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)) // before the VCEK's NotBefore
	_, err = v.Evidence(context.Background(), ev.JSON, ev.Nonce)
	wantCheck(t, err, verify.CheckCertValidity)
	verify.SetNowForTest(v, time.Time{})
	mustVerify(t, v, ev.JSON, ev.Nonce)
}

// TestCacheKeyReportSignatureVCEK: a report whose signature verified with
// one VCEK is not accepted with another VCEK of the same chip and TCB (a
// certificate for another key).
func TestCacheKeyReportSignatureVCEK(t *testing.T) {
	good := (&testev.Builder{}).MustBuild()
	v := newVerifier(t, verify.Config{Roots: testev.Roots()})
	mustVerify(t, v, good.JSON, good.Nonce)
	other, err := testev.PrivateChain(snp.Milan).IssueVCEK(testev.VCEKTemplate{
		HWID: good.ChipID[:], TCB: good.ReportedTCB, Key: testev.NewVCEKKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := *good.Evidence
	e.VCEK = other
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Evidence(context.Background(), data, good.Nonce)
	wantCheck(t, err, verify.CheckReportSignature)
	// And the good pair still verifies.
	mustVerify(t, v, good.JSON, good.Nonce)
}

// TestCacheKeyHCLBytes: a cached HCL report is not used for a blob that
// differs in any byte, padding included.
func TestCacheKeyHCLBytes(t *testing.T) {
	good := (&testev.Builder{}).MustBuild()
	v := newVerifier(t, verify.Config{Roots: testev.Roots()})
	mustVerify(t, v, good.JSON, good.Nonce)
	for _, off := range []int{0, 40, 0x50 + 32, 1300, len(good.Evidence.HCLReport) - 1} {
		e := *good.Evidence
		e.HCLReport = append([]byte(nil), e.HCLReport...)
		e.HCLReport[off] ^= 1
		data, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Evidence(context.Background(), data, good.Nonce); err == nil {
			t.Fatalf("HCL report changed at %d verified", off)
		}
	}
}

// TestCacheRepeatQuoteChecked: with everything but the quote cached, the
// quote is still checked in full.
func TestCacheRepeatQuoteChecked(t *testing.T) {
	good := (&testev.Builder{Version: 1}).MustBuild()
	v := newVerifier(t, verify.Config{Roots: testev.Roots()})
	mustVerify(t, v, good.JSON, good.Nonce)
	_, err := v.Evidence(context.Background(), good.JSON, []byte("another nonce"))
	wantCheck(t, err, verify.CheckNonce)
	e := *good.Evidence
	e.Quote.Signature = append([]byte(nil), e.Quote.Signature...)
	e.Quote.Signature[10] ^= 1
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Evidence(context.Background(), data, good.Nonce)
	wantCheck(t, err, verify.CheckQuoteSignature)
	e = *good.Evidence
	e.Quote.PCRs = append([][]byte(nil), e.Quote.PCRs...)
	e.Quote.PCRs[3] = make([]byte, 32)
	if data, err = e.Encode(); err != nil {
		t.Fatal(err)
	}
	_, err = v.Evidence(context.Background(), data, good.Nonce)
	wantCheck(t, err, verify.CheckPCRDigest)
}

// TestCacheRevocationEveryCall: revocation is asked on every verification,
// also when the VCEK chain, the report signature and the HCL report come
// from the cache: a VCEK revoked after evidence verified (a CRL update) is
// rejected at once, and accepted again only when the checker says so.
func TestCacheRevocationEveryCall(t *testing.T) {
	ev := (&testev.Builder{Version: 1}).MustBuild() // v1: the report is cached too
	var asked []string
	rc := &switchChecker{checker: checker{asked: &asked}}
	v := newVerifier(t, verify.Config{Roots: testev.Roots(), Revocation: rc})
	mustVerify(t, v, ev.JSON, ev.Nonce)
	if st := v.Stats(); st.VCEKs.Entries != 1 || st.Reports.Entries != 1 || st.HCLReports.Entries != 1 {
		t.Fatalf("caches not filled: %+v", st)
	}
	for _, revoked := range []bool{true, false, true} {
		rc.err = nil
		if revoked {
			rc.err = errors.New("revoked by test")
		}
		before := len(asked)
		_, err := v.Evidence(context.Background(), ev.JSON, ev.Nonce)
		if revoked {
			wantCheck(t, err, verify.CheckRevocation)
		} else if err != nil {
			t.Fatal(err)
		}
		if len(asked) == before {
			t.Fatalf("revoked=%v: the checker was not asked (a cache hit skipped revocation)", revoked)
		}
	}
	if st := v.Stats(); st.VCEKs.Hits < 3 {
		t.Errorf("the VCEK chain came from the cache %d times, want at least 3 (the test would not test the cache)", st.VCEKs.Hits)
	}
}

// switchChecker is a checker whose answer the test changes between calls.
type switchChecker struct{ checker }

func (c *switchChecker) CheckRevoked(ctx context.Context, product string, signingKey uint32, certs ...*x509.Certificate) error {
	return c.checker.CheckRevoked(ctx, product, signingKey, certs...)
}
