package verify_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// attackCase is one document with the nonce it is verified against.
type attackCase struct {
	name        string
	data, nonce []byte
}

// chipCases returns, for n private chips, each chip's genuine v1 evidence
// and documents that a check rejects after, or instead of, a genuine
// signature: another nonce, a debug guest (signed by the chip), the
// neighbour chip's VCEK, a changed measurement.
func chipCases(t *testing.T, n int) []attackCase {
	t.Helper()
	goods := make([]*testev.Evidence, n)
	chips := make([][64]byte, n)
	for i := range goods {
		chips[i][0], chips[i][1], chips[i][2] = byte(i+1), 0xC3, 0x3C
		goods[i] = (&testev.Builder{Version: 1, ChipID: &chips[i]}).MustBuild()
	}
	var out []attackCase
	for i, g := range goods {
		debug := (&testev.Builder{Version: 1, ChipID: &chips[i], Policy: testev.DebugPolicy}).MustBuild()
		other := *g.Evidence
		other.VCEK = goods[(i+1)%n].VCEKDER
		measured := *g.Evidence
		measured.HCLReport = append([]byte(nil), g.Evidence.HCLReport...)
		measured.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement] ^= 1
		out = append(out,
			attackCase{fmt.Sprint(i, " good"), g.JSON, g.Nonce},
			attackCase{fmt.Sprint(i, " nonce"), g.JSON, []byte("another nonce")},
			attackCase{fmt.Sprint(i, " debug"), debug.JSON, debug.Nonce},
			attackCase{fmt.Sprint(i, " other vcek"), encode(t, &other), g.Nonce},
			attackCase{fmt.Sprint(i, " measurement"), encode(t, &measured), g.Nonce},
		)
	}
	return out
}

// cacheVerdict is a verification's outcome: the claims, or the failed
// check ("?" for an error that names none).
type cacheVerdict struct {
	claims *verify.Claims
	check  verify.Check
}

// verifyOutcome verifies c with v.
func verifyOutcome(v *verify.Verifier, c attackCase) cacheVerdict {
	claims, err := v.Evidence(context.Background(), c.data, c.nonce)
	if err == nil {
		return cacheVerdict{claims: claims}
	}
	if verr, ok := errors.AsType[*verify.Error](err); ok {
		return cacheVerdict{check: verr.Check}
	}
	return cacheVerdict{check: "?"}
}

// TestCacheConcurrentAttack: goroutines verify, through one Verifier whose
// caches hold two entries each (evicting all the time, also entries other
// calls are using), genuine and rejected documents of several chips of the
// same private chain, some with a cancelled context. Every verdict is the
// one a Verifier without a cache gives (same claims, or the same check), a
// cancelled call fails with its context's error alone, and the caches stay
// within their bound. Run it with -race.
func TestCacheConcurrentAttack(t *testing.T) {
	cases := chipCases(t, 4)
	fresh := newVerifier(t, verify.Config{Roots: testev.Roots(), Cache: verify.CacheConfig{Disable: true}})
	want := make([]cacheVerdict, len(cases))
	for i, c := range cases {
		want[i] = verifyOutcome(fresh, c)
	}
	if want[0].claims == nil || want[1].check != verify.CheckNonce || want[2].check != verify.CheckDebug ||
		want[3].check != verify.CheckChipID || want[4].check != verify.CheckReportSignature {
		t.Fatalf("uncached verdicts of chip 0: %+v", want[:5])
	}
	v := newVerifier(t, verify.Config{Roots: testev.Roots(), Cache: verify.CacheConfig{Entries: 2}})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 3 * len(cases) {
				i := (k*(g+1) + g) % len(cases)
				if (k+g)%7 == 0 {
					if _, err := v.Evidence(cancelled, cases[i].data, cases[i].nonce); !errors.Is(err, context.Canceled) || errors.Is(err, verify.ErrRejected) {
						t.Errorf("%s, cancelled: err = %v, want context.Canceled alone", cases[i].name, err)
					}
					continue
				}
				got := verifyOutcome(v, cases[i])
				if got.check != want[i].check || !reflect.DeepEqual(got.claims, want[i].claims) {
					t.Errorf("%s: cached verdict %q (claims %v), uncached %q", cases[i].name, got.check, got.claims != nil, want[i].check)
				}
			}
		})
	}
	wg.Wait()
	s := v.Stats()
	for _, c := range []verify.CacheStats{s.VCEKs, s.Reports, s.HCLReports, s.Evidence} {
		if c.Entries > 2 {
			t.Errorf("a cache holds %d entries, over its bound of 2: %+v", c.Entries, s)
		}
	}
	if s.VCEKs.Hits == 0 || s.Reports.Hits == 0 {
		t.Errorf("no cache hit (%+v): the test did not exercise the cache", s)
	}
}

// TestCacheAcrossPolicies: nothing a cache holds depends on the policy. A
// Verifier made by WithPolicy from one whose caches were filled by
// evidence its permissive policy accepts (a debug guest) shares those
// caches and still rejects that evidence, by the check a Verifier without
// a cache names; the permissive one still accepts it.
func TestCacheAcrossPolicies(t *testing.T) {
	ev := (&testev.Builder{Version: 1, Policy: testev.DebugPolicy}).MustBuild()
	permissive := verify.Policy{AllowDebug: true}
	above := testev.DefaultTCB(snp.Milan)
	above.SNP++
	other := make(verify.HexBytes, 48)
	other[0] = 0x0E // no zero digest: a policy may not list one
	for _, tc := range []struct {
		name   string
		strict verify.Policy
		check  verify.Check
	}{
		{"debug", verify.Policy{}, verify.CheckDebug},
		{"measurement", verify.Policy{AllowDebug: true, Measurements: []verify.HexBytes{other}}, verify.CheckMeasurement},
		{"min tcb", verify.Policy{AllowDebug: true, MinTCB: &above}, verify.CheckMinTCB},
		{"product", verify.Policy{AllowDebug: true, Products: []string{string(snp.Genoa)}}, verify.CheckProduct},
		{"paravisor", verify.Policy{AllowDebug: true, IDKeyDigests: []verify.HexBytes{other}}, verify.CheckParavisorIdentity},
		{"pcrs", verify.Policy{AllowDebug: true, PCRs: map[int]verify.HexBytes{7: other[:32]}}, verify.CheckPCRPolicy},
		{"fresh report", verify.Policy{AllowDebug: true, RequireFreshReport: true}, verify.CheckUserData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newVerifier(t, verify.Config{Roots: testev.Roots(), Policy: tc.strict}).Evidence(context.Background(), ev.JSON, ev.Nonce)
			wantCheck(t, err, tc.check)
			v := newVerifier(t, verify.Config{Roots: testev.Roots(), Policy: permissive})
			mustVerify(t, v, ev.JSON, ev.Nonce)
			strict, err := v.WithPolicy(tc.strict)
			if err != nil {
				t.Fatal(err)
			}
			_, err = strict.Evidence(context.Background(), ev.JSON, ev.Nonce)
			wantCheck(t, err, tc.check)
			mustVerify(t, v, ev.JSON, ev.Nonce)
			if s := v.Stats(); s != strict.Stats() || s.VCEKs.Hits < 2 || s.Reports.Hits < 2 || s.HCLReports.Hits < 2 {
				t.Fatalf("the strict verification did not come from the cache: %+v", s)
			}
		})
	}
}

// TestForge30CrossRequest: one Verifier (one serve) first verifies genuine
// input, then crafted input reusing parts of it; the cache hits must not
// skip the check that the second input fails.
func TestForge30CrossRequest(t *testing.T) {
	ctx := context.Background()
	t.Run("VMPL 1 report verified bare, then wrapped as evidence", func(t *testing.T) {
		// A guest OS below the paravisor asks for a report whose
		// REPORT_DATA binds runtime data of its own (its own AK): the
		// report is genuine and carries the paravisor's ID key digest.
		ev := (&testev.Builder{Version: 1, VMPL: 1}).MustBuild()
		v := newVerifier(t, verify.Config{Roots: testev.Roots(), Policy: verify.Policy{VMPL: 1}})
		if _, err := v.Report(ctx, ev.Report, ev.VCEKDER); err != nil {
			t.Fatal(err)
		}
		_, err := v.Evidence(ctx, ev.JSON, ev.Nonce)
		wantCheck(t, err, verify.CheckVMPL)
		// The HCL report through Report: the paravisor's level too.
		_, err = v.Report(ctx, ev.Evidence.HCLReport, ev.VCEKDER)
		wantCheck(t, err, verify.CheckVMPL)
		if s := v.Stats(); s.Reports.Hits < 2 || s.VCEKs.Hits < 2 {
			t.Fatalf("the signature was not a cache hit: %+v", s)
		}
	})
	t.Run("v1 verified, then relabelled v2", func(t *testing.T) {
		data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
		nonce := quotedNonce(t, data)
		v := newVerifier(t, fixedOpts())
		mustVerify(t, v, data, nonce)
		ev := decode(t, data)
		ev.Version = 2
		_, err := v.Evidence(ctx, encode(t, ev), nonce)
		wantCheck(t, err, verify.CheckUserData)
		if s := v.Stats(); s.HCLReports.Hits == 0 {
			t.Fatalf("the HCL report was not a cache hit: %+v", s)
		}
	})
	t.Run("TDX HCL report verified, then given as SEV-SNP evidence", func(t *testing.T) {
		tdxData := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
		v := newVerifier(t, tdxOpts())
		mustVerify(t, v, tdxData, quotedNonce(t, tdxData))
		snpEv := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"))
		ev := decode(t, tdxData)
		ev.TDQuote, ev.VCEK = nil, snpEv.VCEK
		_, err := v.Evidence(ctx, encode(t, ev), quotedNonce(t, tdxData))
		wantCheck(t, err, verify.CheckReportType)
	})
	t.Run("SEV-SNP HCL report verified, then given with a TD quote", func(t *testing.T) {
		snpData := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
		v := newVerifier(t, verify.Config{Now: testutil.FixtureTime()})
		mustVerify(t, v, snpData, quotedNonce(t, snpData))
		ev := decode(t, snpData)
		ev.VCEK, ev.TDQuote = nil, decode(t, testutil.ReadFile(t, tdxDir+"evidence-v1.json")).TDQuote
		_, err := v.Evidence(ctx, encode(t, ev), quotedNonce(t, snpData))
		wantCheck(t, err, verify.CheckReportType)
	})
	t.Run("VLEK verified archived (--at), then at a time past its year", func(t *testing.T) {
		nb := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		b := vlekBuilder(snp.Milan, func(b *testev.Builder) {
			b.Version = 1
			b.VCEK.NotBefore, b.VCEK.NotAfter = nb, nb.AddDate(1, 0, 0)
		})
		ev := b.MustBuild()
		v := newVerifier(t, verify.Config{Roots: testev.Roots(), Now: nb.AddDate(0, 6, 0)})
		mustVerify(t, v, ev.JSON, ev.Nonce)
		verify.SetNowForTest(v, nb.AddDate(1, 0, 1))
		_, err := v.Evidence(ctx, ev.JSON, ev.Nonce)
		wantCheck(t, err, verify.CheckCertValidity)
		if s := v.Stats(); s.VCEKs.Hits == 0 {
			t.Fatalf("the VLEK chain was not a cache hit: %+v", s)
		}
	})
}
