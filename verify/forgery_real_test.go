package verify_test

import (
	"context"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// attackerRuntimeData is runtime data a guest that is not Azure's
// paravisor writes: its own AK (testev.AKKey, whose private key it holds)
// as HCLAkPub, and the victim's VM configuration.
func attackerRuntimeData(t *testing.T) []byte {
	t.Helper()
	rd := hcl.RuntimeData{
		Keys:     []hcl.JWK{hcl.NewRSAJWK(hcl.KidAK, []string{"sign"}, &testev.AKKey().PublicKey)},
		VMConfig: testev.DefaultVMConfig(),
	}
	b, err := rd.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRealNonAzureReportsAsHCL is the forgery of SPEC §11 with genuine
// AMD signatures: every real report of realReports that verifies bare but
// is not Azure's paravisor's (GCP, Oak, YAXI, Signal, virtee bare metal,
// AWS VLEK-signed; versions 2, 3 and 5; Milan, Genoa, Turin) is wrapped in
// an HCL report whose runtime data names the attacker's AK, with a quote
// by that AK over the verifier's nonce and the victim's PCRs. Under the
// pinned AMD roots, as a stored HCL report and as evidence, a VMPL 0
// report is paravisor-identity and any other VMPL is vmpl (an HCL report
// needs VMPL 0 whatever the policy's vmpl); with allow_any_paravisor the
// REPORT_DATA, which the attacker cannot choose after the fact, is still
// runtime-data-binding. Nothing verifies.
func TestRealNonAzureReportsAsHCL(t *testing.T) {
	rd := attackerRuntimeData(t)
	tmpl := (&testev.Builder{Version: 1}).MustBuild() // the attacker's quote
	n := 0
	for _, rr := range realReports() {
		if rr.want != "" || rr.claims.paravisor == verify.ParavisorAzure {
			continue
		}
		n++
		t.Run(rr.name, func(t *testing.T) {
			report := testutil.ReadFile(t, rr.report)[:snp.ReportSize]
			blob, err := hcl.Build(hcl.ReportTypeSNP, report, rd, testev.DefaultHCLSize)
			if err != nil {
				t.Fatal(err)
			}
			ev := &evidence.Evidence{Version: 1, Quote: tmpl.Evidence.Quote, HCLReport: blob, VCEK: certDER(t, rr.cert)}
			js, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want := verify.CheckParavisorIdentity
			if rr.claims.vmpl != 0 {
				want = verify.CheckVMPL
			}
			for _, p := range []struct {
				name  string
				pol   verify.Policy
				check verify.Check
			}{
				{"policy of the bare report", rr.policy, want},
				{"allow_any_paravisor", withAnyParavisor(rr.policy), verify.CheckRuntimeData},
			} {
				if p.check == verify.CheckRuntimeData && want == verify.CheckVMPL {
					p.check = want
				}
				cfg := verify.Config{Now: rr.at, Policy: p.pol}
				_, err := reportWith(context.Background(), blob, certDER(t, rr.cert), cfg)
				wantCheckIn(t, p.name+", HCL report", err, p.check)
				_, err = verify.Evidence(context.Background(), js, tmpl.Nonce, cfg)
				wantCheckIn(t, p.name+", evidence", err, p.check)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d real non-Azure reports", n)
	}
}

// withAnyParavisor returns pol allowing any paravisor.
func withAnyParavisor(pol verify.Policy) verify.Policy {
	pol.AllowAnyParavisor = true
	return pol
}

// wantCheckIn is wantCheck naming what was verified.
func wantCheckIn(t *testing.T, what string, err error, check verify.Check) {
	t.Helper()
	t.Run(what, func(t *testing.T) { wantCheck(t, err, check) })
}
