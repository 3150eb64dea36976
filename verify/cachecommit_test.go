package verify

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// cacheSizes returns the entries of each cache of v.
func cacheSizes(v *Verifier) [3]int {
	c := v.cache
	return [3]int{c.vceks.len(), c.reports.len(), c.hcls.len()}
}

// mustNew returns New(cfg) or fails the test.
func mustNew(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	return testutil.Must(New(cfg))(t)
}

func buildEv(t testing.TB, b testev.Builder) *testev.Evidence {
	t.Helper()
	e, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// getterOf serves der for any request, validated as a real getter does.
func getterOf(der []byte) VCEKGetter {
	return VCEKGetterFunc(func(ctx context.Context, r VCEKRequest) ([]byte, error) {
		if err := r.Validate(der); err != nil {
			return nil, err
		}
		return der, nil
	})
}

// TestRejectedFillsNoCache: evidence from a genuine (here: test) chip whose
// report signature verifies but that a later check rejects must leave every
// cache as it was; the same evidence made acceptable fills them, so the
// test can tell.
func TestRejectedFillsNoCache(t *testing.T) {
	otherNonce := []byte("not the nonce the quote carries")
	pcr7 := make([]byte, 32)
	pcr7[0] = 0xEE
	tcb := testev.DefaultTCB(snp.Milan)
	tcb.SNP++
	cases := []struct {
		name    string
		b       testev.Builder
		nonce   []byte // nil: the evidence's own
		fetch   bool   // the VCEK comes from a VCEKGetter
		opts    func(*Config)
		check   Check
		version int
	}{
		{name: "nonce", b: testev.Builder{Version: 1}, nonce: otherNonce, check: CheckNonce},
		{name: "nonce, fetched VCEK", b: testev.Builder{Version: 1, OmitVCEK: true}, nonce: otherNonce, fetch: true, check: CheckNonce},
		{name: "nonce v2, fetched VCEK", b: testev.Builder{Version: 2, OmitVCEK: true}, nonce: otherNonce, fetch: true, check: CheckNonce},
		{name: "quote signature", b: testev.Builder{Version: 1, QuoteKey: testev.OtherRSAKey()}, check: CheckQuoteSignature},
		{name: "pcr policy", b: testev.Builder{Version: 1}, opts: func(o *Config) { o.Policy.PCRs = map[int]HexBytes{7: pcr7} }, check: CheckPCRPolicy},
		{name: "vmpl", b: testev.Builder{Version: 1, VMPL: 1}, check: CheckVMPL},
		{name: "debug", b: testev.Builder{Version: 1, Policy: testev.DebugPolicy}, check: CheckDebug},
		{name: "min tcb, fetched VCEK", b: testev.Builder{Version: 1, OmitVCEK: true}, fetch: true,
			opts: func(o *Config) { o.Policy.MinTCB = &tcb }, check: CheckMinTCB},
		{name: "no ak", b: testev.Builder{Version: 1, OmitAK: true}, check: CheckAttestationKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := buildEv(t, tc.b)
			cfg := Config{Roots: e.Roots()}
			if tc.fetch {
				cfg.VCEKGetter = getterOf(e.VCEKDER)
			}
			if tc.opts != nil {
				tc.opts(&cfg)
			}
			v := mustNew(t, cfg)
			nonce := tc.nonce
			if nonce == nil {
				nonce = e.Nonce
			}
			for range 2 {
				_, err := v.Evidence(context.Background(), e.JSON, nonce)
				var verr *Error
				if !errors.As(err, &verr) || verr.Check != tc.check {
					t.Fatalf("err = %v, want check %s", err, tc.check)
				}
				if got := cacheSizes(v); got != [3]int{} {
					t.Fatalf("after a rejection the caches hold (vceks, reports, hcls) = %v, want none", got)
				}
			}
			// The control: the same evidence accepted fills the caches.
			okCfg := Config{Roots: e.Roots()}
			if tc.fetch {
				okCfg.VCEKGetter = getterOf(e.VCEKDER)
			}
			okV := mustNew(t, okCfg)
			okEv := buildEv(t, testev.Builder{Version: tc.b.Version, OmitVCEK: tc.b.OmitVCEK})
			if _, err := okV.Evidence(context.Background(), okEv.JSON, okEv.Nonce); err != nil {
				t.Fatal(err)
			}
			want := [3]int{1, 1, 1}
			if tc.b.Version >= 2 {
				want = [3]int{1, 0, 0} // a refreshed report is never cached
			}
			if got := cacheSizes(okV); got != want {
				t.Fatalf("after a success the caches hold %v, want %v", got, want)
			}
		})
	}
}

// TestRejectedReportFillsNoCache is TestRejectedFillsNoCache for Report
// (a bare SNP report and an HCL report).
func TestRejectedReportFillsNoCache(t *testing.T) {
	for _, bare := range []bool{true, false} {
		t.Run(fmt.Sprint("bare=", bare), func(t *testing.T) {
			bad := buildEv(t, testev.Builder{Version: 1, VMPL: 2})
			blob := bad.Evidence.HCLReport
			if bare {
				blob = bad.Report
			}
			v := mustNew(t, Config{Roots: bad.Roots()})
			_, err := v.Report(context.Background(), blob, bad.VCEKDER)
			var verr *Error
			if !errors.As(err, &verr) || verr.Check != CheckVMPL {
				t.Fatalf("err = %v, want check %s", err, CheckVMPL)
			}
			if got := cacheSizes(v); got != [3]int{} {
				t.Fatalf("after a rejection the caches hold %v, want none", got)
			}
			good := buildEv(t, testev.Builder{Version: 1})
			blob = good.Evidence.HCLReport
			want := [3]int{1, 1, 1}
			if bare {
				blob, want = good.Report, [3]int{1, 1, 0}
			}
			if _, err := v.Report(context.Background(), blob, good.VCEKDER); err != nil {
				t.Fatal(err)
			}
			if got := cacheSizes(v); got != want {
				t.Fatalf("after a success the caches hold %v, want %v", got, want)
			}
		})
	}
}

// TestManyRejectedDocumentsHoldNothing: distinct rejected documents, each
// with its own signed report, leave no trace in the caches.
func TestManyRejectedDocumentsHoldNothing(t *testing.T) {
	n := 64
	if testing.Short() {
		n = 8
	}
	v := mustNew(t, Config{Roots: testev.Roots()})
	for i := range n {
		var chip [64]byte
		chip[0], chip[1] = byte(i), byte(i>>8)
		e := buildEv(t, testev.Builder{Version: 1, ChipID: &chip, VCEK: testev.VCEKTemplate{}})
		if _, err := v.Evidence(context.Background(), e.JSON, []byte("wrong nonce")); !errors.Is(err, ErrRejected) {
			t.Fatalf("document %d: err = %v, want a rejection", i, err)
		}
	}
	if got := cacheSizes(v); got != [3]int{} {
		t.Fatalf("after %d rejected documents the caches hold %v, want none", n, got)
	}
}
