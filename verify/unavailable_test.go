package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// A certificate source that is down is not a verdict on the evidence: the
// error must not match ErrRejected. A source that has no VCEK is.
func TestVCEKSourceUnavailableIsNotRejection(t *testing.T) {
	ev := decode(t, testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"))
	ev.VCEK = nil
	at := testutil.FixtureTime()

	down := verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
		return nil, fmt.Errorf("%w: connection refused", verify.ErrCertificateUnavailable)
	})
	_, err := decodedWith(context.Background(), ev, []byte("challenge"), verify.Config{Now: at, VCEKGetter: down})
	if err == nil || errors.Is(err, verify.ErrRejected) || !errors.Is(err, verify.ErrCertificateUnavailable) {
		t.Fatalf("source down: err = %v, want ErrCertificateUnavailable and not ErrRejected", err)
	}
	wantUnavailable(t, err, verify.CheckVCEKMissing)

	missing := verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
		return nil, errors.New("not in the cache (offline)")
	})
	_, err = decodedWith(context.Background(), ev, []byte("challenge"), verify.Config{Now: at, VCEKGetter: missing})
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckVCEKMissing {
		t.Fatalf("no VCEK: err = %v, want check %s", err, verify.CheckVCEKMissing)
	}
}

// Report has no quote: a policy that needs one fails closed.
func TestReportRejectsQuotePolicy(t *testing.T) {
	blob := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	at := testutil.FixtureTime()
	if _, err := reportWith(context.Background(), blob, vcek, verify.Config{Now: at}); err != nil {
		t.Fatalf("plain report: %v", err)
	}
	for name, tc := range map[string]struct {
		pol   verify.Policy
		check verify.Check
	}{
		"pcrs":  {verify.Policy{PCRs: map[int]verify.HexBytes{7: make([]byte, 32)}}, verify.CheckPCRPolicy},
		"fresh": {verify.Policy{RequireFreshReport: true}, verify.CheckUserData},
	} {
		_, err := reportWith(context.Background(), blob, vcek, verify.Config{Now: at, Policy: tc.pol})
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != tc.check {
			t.Errorf("%s: err = %v, want check %s", name, err, tc.check)
		}
		// TDXReport checks no quote either: a TD quote alone, and an HCL
		// report with its TD quote.
		for what, hq := range map[string][2][]byte{
			"TD quote":             {nil, testutil.ReadFile(t, "teekit-tdx/azure-td-quote-ita.bin")},
			"HCL report, TD quote": {testutil.ReadFile(t, "ita-aztdx/hcl-report.bin"), testutil.ReadFile(t, "ita-aztdx/td-quote.bin")},
		} {
			cfg := tdxOpts()
			if _, err := newVerifier(t, cfg).TDXReport(context.Background(), hq[0], hq[1]); err != nil {
				t.Fatalf("TDXReport, %s, no policy: %v", what, err)
			}
			cfg.Policy = tc.pol
			_, err := newVerifier(t, cfg).TDXReport(context.Background(), hq[0], hq[1])
			if !errors.As(err, &verr) || verr.Check != tc.check {
				t.Errorf("TDXReport, %s, %s: err = %v, want check %s", what, name, err, tc.check)
			}
		}
	}
}

// TestReportVCEKSource: Report's claims say where the VCEK came from:
// "given" when the caller passed it, "fetched" when the VCEKGetter
// supplied it.
func TestReportVCEKSource(t *testing.T) {
	blob := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	cfg := verify.Config{Now: testutil.FixtureTime(), VCEKGetter: verify.VCEKGetterFunc(func(context.Context, verify.VCEKRequest) ([]byte, error) {
		return vcek, nil
	})}
	for _, tc := range []struct {
		name string
		vcek []byte
		want string
	}{
		{"given", vcek, "given"},
		{"fetched", nil, "fetched"},
	} {
		claims, err := reportWith(context.Background(), blob, tc.vcek, cfg)
		if err != nil || claims.VCEKSource != tc.want {
			t.Errorf("%s: %v, VCEK source %q; want %q", tc.name, err, claimsSource(claims), tc.want)
		}
	}
}

func claimsSource(c *verify.Claims) string {
	if c == nil {
		return "(no claims)"
	}
	return c.VCEKSource
}

// A version 2 report names no product line, so a missing VCEK is asked for
// as Milan, then as Genoa; but a source that is down (or over its upstream
// budget) is asked once, not once per candidate.
func TestVCEKCandidatesStopWhenUnavailable(t *testing.T) {
	ev := (&testev.Builder{ReportVersion: 2, OmitVCEK: true}).MustBuild()
	for _, tc := range []struct {
		name      string
		err       error
		wantCalls int
		rejected  bool
	}{
		{"unavailable", fmt.Errorf("%w: 503", verify.ErrCertificateUnavailable), 1, false},
		{"not found", errors.New("404 not found"), 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var products []string
			get := verify.VCEKGetterFunc(func(ctx context.Context, r verify.VCEKRequest) ([]byte, error) {
				products = append(products, r.Product)
				return nil, tc.err
			})
			_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots(), VCEKGetter: get})
			if len(products) != tc.wantCalls {
				t.Errorf("getter asked for %v, want %d calls", products, tc.wantCalls)
			}
			if errors.Is(err, verify.ErrRejected) != tc.rejected {
				t.Errorf("err = %v, rejected %v, want %v", err, errors.Is(err, verify.ErrRejected), tc.rejected)
			}
		})
	}
}

// wantUnavailable asserts that err is an *verify.UnavailableError of check
// (no verdict), which does not match ErrRejected.
func wantUnavailable(t *testing.T, err error, check verify.Check) {
	t.Helper()
	uerr, ok := errors.AsType[*verify.UnavailableError](err)
	switch {
	case !ok:
		t.Fatalf("%v (%T) is no *verify.UnavailableError", err, err)
	case uerr.Check != check:
		t.Fatalf("UnavailableError check %s, want %s (%v)", uerr.Check, check, err)
	case errors.Is(err, verify.ErrRejected):
		t.Fatalf("%v matches ErrRejected", err)
	case !strings.HasPrefix(err.Error(), "verify: "+string(check)+": "):
		t.Fatalf("message %q does not start with the check", err)
	}
}

// TestReportPlatformPolicy: Report and TDXReport refuse a report of a
// platform the policy is not for (check platform), with no claims.
func TestReportPlatformPolicy(t *testing.T) {
	blob := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	snpCfg := verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{Platforms: []string{verify.PlatformTDX}}}
	claims, err := reportWith(context.Background(), blob, vcek, snpCfg)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckPlatform || claims != nil {
		t.Errorf("Report, SEV-SNP under a TDX-only policy: %v, claims %v; want check %s", err, claims != nil, verify.CheckPlatform)
	}
	tdxCfg := tdxOpts()
	tdxCfg.Policy.Platforms = []string{verify.PlatformSNP}
	claims, err = newVerifier(t, tdxCfg).TDXReport(context.Background(), nil, testutil.ReadFile(t, "teekit-tdx/azure-td-quote-ita.bin"))
	if !errors.As(err, &verr) || verr.Check != verify.CheckPlatform || claims != nil {
		t.Errorf("TDXReport under a SEV-SNP-only policy: %v, claims %v; want check %s", err, claims != nil, verify.CheckPlatform)
	}
}
