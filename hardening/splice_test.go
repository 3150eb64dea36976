package hardening_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// thimVCEK returns the VCEK of the real THIM response (Milan, chip b12164b4,
// another chip than every evidence fixture).
func thimVCEK(t testing.TB) []byte {
	t.Helper()
	c, err := imds.Parse(testutil.ReadFile(t, "azure-thim/uvm_host_amd_certificate.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c.VCEK
}

func milanOnlyRoots() *snp.Roots {
	return (&snp.Roots{}).Add(snp.DefaultRoots().Chains(snp.Milan)[0])
}

func genoaOnlyRoots() *snp.Roots {
	return (&snp.Roots{}).Add(snp.DefaultRoots().Chains(snp.Genoa)[0])
}

func emulatedOnlyRoots(t testing.TB) *snp.Roots {
	c, err := snp.ParseChainPEM(fakeamd.ChainPEM())
	if err != nil {
		t.Fatal(err)
	}
	c.Emulated = true
	return (&snp.Roots{}).Add(c)
}

// getter returns a VCEKGetter that answers every request with der (or err):
// a compromised network, IMDS or KDS.
func getter(der []byte, err error) verify.VCEKGetter {
	return verify.VCEKGetterFunc(func(context.Context, verify.VCEKRequest) ([]byte, error) { return der, err })
}

type spliceCase struct {
	name string
	// build returns the spliced evidence, the nonce the verifier expects,
	// and options (nil: the pinned roots at testutil.FixtureTime()).
	build func(t *testing.T, fx map[string]*fixture) (ev *evidence.Evidence, nonce []byte, opts *verify.Verifier)
	want  verify.Check
}

// splice returns a deep copy of fixture name with change applied.
func splice(fx map[string]*fixture, name string, change func(ev *evidence.Evidence)) (*evidence.Evidence, []byte) {
	ev := cloneEvidence(fx[name].ev)
	change(ev)
	return ev, fx[name].nonce
}

func spliceCases() []spliceCase {
	at := func(now time.Time) *verify.Verifier {
		return verifierOf(verify.Config{Now: now, Cache: verify.CacheConfig{Disable: true}})
	}
	roots := func(r *snp.Roots) *verify.Verifier {
		return verifierOf(verify.Config{Now: testutil.FixtureTime(), Roots: r})
	}
	return []spliceCase{
		// Report of one VM, quote of another: the quote is signed by
		// another AK than the one the report binds.
		{"v1 report + v2 quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, _ := splice(fx, "v1", func(ev *evidence.Evidence) { ev.Quote = fx["v2"].ev.Quote })
			return ev, fx["v2"].nonce, nil
		}, verify.CheckQuoteSignature},
		{"v2 report + v1 quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, _ := splice(fx, "v2", func(ev *evidence.Evidence) { ev.Quote = fx["v1"].ev.Quote })
			return ev, fx["v1"].nonce, nil
		}, verify.CheckQuoteSignature},
		{"Genoa report + Milan quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, _ := splice(fx, "genoa", func(ev *evidence.Evidence) { ev.Quote = fx["v1"].ev.Quote })
			return ev, fx["v1"].nonce, nil
		}, verify.CheckQuoteSignature},
		{"Milan report + Genoa quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, _ := splice(fx, "hcl", func(ev *evidence.Evidence) { ev.Quote = fx["genoa"].ev.Quote })
			return ev, fx["genoa"].nonce, nil
		}, verify.CheckQuoteSignature},
		// The HCL report of another VM (with its own, matching VCEK) and
		// this VM's quote.
		{"HCL report + VCEK of v2 with the v1 quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) {
				ev.HCLReport, ev.VCEK = fx["v2"].ev.HCLReport, fx["v2"].ev.VCEK
			})
			return ev, n, nil
		}, verify.CheckQuoteSignature},
		{"HCL report of Genoa with the Milan quote and VCEK", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.HCLReport = fx["genoa"].ev.HCLReport })
			return ev, n, nil
		}, verify.CheckProduct},
		{"HCL report of another Milan VM, VCEK and quote of v1", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.HCLReport = fx["hcl"].ev.HCLReport })
			return ev, n, nil
		}, verify.CheckChipID},
		{"TDX HCL report with an SNP quote", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) {
				ev.HCLReport = testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin")
			})
			return ev, n, nil
		}, verify.CheckReportType},
		{"bare SNP report (THIM) in place of the HCL report", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.HCLReport = testutil.ReadFile(t, "azure-thim/snp_report.bin") })
			return ev, n, nil
		}, verify.CheckHCLFormat},

		// A VCEK of another chip.
		{"Genoa VCEK on Milan evidence (report v3, CPUID Milan)", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = fx["genoa"].ev.VCEK })
			return ev, n, nil
		}, verify.CheckProduct},
		{"Milan VCEK on Genoa evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "genoa", func(ev *evidence.Evidence) { ev.VCEK = fx["v1"].ev.VCEK })
			return ev, n, nil
		}, verify.CheckProduct},
		{"THIM VCEK (another Milan chip) on trustee v1 evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = thimVCEK(t) })
			return ev, n, nil
		}, verify.CheckChipID},
		{"THIM VCEK on trustee v2 evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v2", func(ev *evidence.Evidence) { ev.VCEK = thimVCEK(t) })
			return ev, n, nil
		}, verify.CheckChipID},
		{"THIM VCEK on Genoa evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "genoa", func(ev *evidence.Evidence) { ev.VCEK = thimVCEK(t) })
			return ev, n, nil
		}, verify.CheckProduct},
		{"VCEK of v2's chip on v1 evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = fx["v2"].ev.VCEK })
			return ev, n, nil
		}, verify.CheckChipID},
		{"ASK certificate in place of the VCEK", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = snp.DefaultRoots().Chains(snp.Milan)[0].ASK.Raw })
			return ev, n, nil
		}, verify.CheckVCEKFormat},
		{"emulated CVM's VCEK on real evidence", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = fakeamd.VCEK().Raw })
			return ev, n, nil
		}, verify.CheckVCEKChain},

		// VCEK from the network: a getter (IMDS, KDS, a cache) that lies.
		{"no VCEK, getter returns another chip's VCEK", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = nil })
			return ev, n, verifierOf(verify.Config{Now: testutil.FixtureTime(), VCEKGetter: getter(thimVCEK(t), nil)})
		}, verify.CheckChipID},
		{"no VCEK, getter returns the emulated VCEK", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.VCEK = nil })
			return ev, n, verifierOf(verify.Config{Now: testutil.FixtureTime(), VCEKGetter: getter(fakeamd.VCEK().Raw, nil)})
		}, verify.CheckVCEKChain},
		{"no VCEK, getter returns garbage", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v2", func(ev *evidence.Evidence) { ev.VCEK = nil })
			return ev, n, verifierOf(verify.Config{Now: testutil.FixtureTime(), VCEKGetter: getter([]byte("not a certificate"), nil)})
		}, verify.CheckVCEKFormat},
		{"no VCEK, getter fails", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v2", func(ev *evidence.Evidence) { ev.VCEK = nil })
			return ev, n, verifierOf(verify.Config{Now: testutil.FixtureTime(), VCEKGetter: getter(nil, os.ErrDeadlineExceeded)})
		}, verify.CheckVCEKMissing},
		{"no VCEK, offline", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "genoa", func(ev *evidence.Evidence) { ev.VCEK = nil })
			return ev, n, nil
		}, verify.CheckVCEKMissing},

		// Roots: only the pinned chain of the evidence's product line verifies it.
		{"Genoa evidence against Milan-only roots", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["genoa"].ev, fx["genoa"].nonce, roots(milanOnlyRoots())
		}, verify.CheckVCEKChain},
		{"Milan evidence against Genoa-only roots", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, fx["v1"].nonce, roots(genoaOnlyRoots())
		}, verify.CheckVCEKChain},
		{"Milan evidence against no roots", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v2"].ev, fx["v2"].nonce, roots(&snp.Roots{})
		}, verify.CheckVCEKChain},
		{"Milan evidence against the emulated chain only", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["hcl"].ev, fx["hcl"].nonce, roots(emulatedOnlyRoots(t))
		}, verify.CheckVCEKChain},
		{"Milan evidence against the testev private roots", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v0"].ev, fx["v0"].nonce, roots(testev.Roots())
		}, verify.CheckVCEKChain},

		// The clock.
		{"verification time after the VCEK expired", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, fx["v1"].nonce, at(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
		}, verify.CheckCertValidity},
		{"verification time before the VCEK was issued", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["genoa"].ev, fx["genoa"].nonce, at(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC))
		}, verify.CheckCertValidity},

		// Nonces.
		{"v2 evidence, nonce of another challenge (Genoa's)", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v2"].ev, fx["genoa"].nonce, nil
		}, verify.CheckNonce},
		{"v1 evidence, another text nonce", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, []byte("challengf"), nil
		}, verify.CheckNonce},
		{"v1 evidence, nonce prefix", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, []byte("challeng"), nil
		}, verify.CheckNonce},
		{"v1 evidence, nonce extended", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, []byte("challenge\x00"), nil
		}, verify.CheckNonce},
		{"v1 evidence, nil nonce", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, nil, nil
		}, verify.CheckNonce},
		{"v1 evidence, empty nonce", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, []byte{}, nil
		}, verify.CheckNonce},
		{"v2 evidence, 49-byte nonce starting with the quoted 48 bytes", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v2"].ev, append(append([]byte(nil), fx["v2"].nonce...), 0), nil
		}, verify.CheckNonce},
		{"Genoa evidence, 47-byte prefix of the nonce", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["genoa"].ev, fx["genoa"].nonce[:47], nil
		}, verify.CheckNonce},

		// PCR values of another VM.
		{"v1 evidence with v2's PCR values", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.Quote.PCRs = fx["v2"].ev.Quote.PCRs })
			return ev, n, nil
		}, verify.CheckPCRDigest},
		{"Genoa evidence with Milan PCR values", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "genoa", func(ev *evidence.Evidence) { ev.Quote.PCRs = fx["hcl"].ev.Quote.PCRs })
			return ev, n, nil
		}, verify.CheckPCRDigest},
		{"v1 evidence with PCR 0 and 1 swapped", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) {
				p := ev.Quote.PCRs
				p[0], p[1] = p[1], p[0]
			})
			return ev, n, nil
		}, verify.CheckPCRDigest},
		{"v1 evidence with v2's PCR 7 only", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			ev, n := splice(fx, "v1", func(ev *evidence.Evidence) { ev.Quote.PCRs[7] = fx["v2"].ev.Quote.PCRs[7] })
			return ev, n, nil
		}, verify.CheckPCRDigest},

		// Freshness: the report of v0/v1 was not refreshed with the nonce.
		{"v1 report with RequireFreshReport", func(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
			return fx["v1"].ev, fx["v1"].nonce, verifierOf(verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{RequireFreshReport: true}})
		}, verify.CheckUserData},
	}
}

// TestSplice checks that evidence assembled from parts of different VMs,
// chips, challenges or trust anchors is rejected, each by the check that
// guards against that splice.
func TestSplice(t *testing.T) {
	fx := map[string]*fixture{}
	for _, f := range fixtures(t) {
		fx[f.name] = f
	}
	for _, tc := range spliceCases() {
		t.Run(tc.name, func(t *testing.T) {
			ev, nonce, opts := tc.build(t, fx)
			if opts == nil {
				opts = verifierOf(verify.Config{Now: testutil.FixtureTime()})
			}
			o := runDecoded(t, ev, nonce, opts)
			if o.bad != "" {
				t.Fatal(o.bad)
			}
			if o.claims != nil {
				t.Fatalf("spliced evidence ACCEPTED, want %s", tc.want)
			}
			if o.check != tc.want {
				t.Errorf("rejected by %s, want %s", o.check, tc.want)
			}
		})
	}
}

// TestRelabel re-encodes v0/v1 evidence as version 2: "version" is not
// signed, but version 2 claims that the report was refreshed with the nonce,
// which the user-data check refutes.
func TestRelabel(t *testing.T) {
	for _, name := range []string{"v0", "v1", "genoa", "hcl"} {
		t.Run(name+" relabelled v2", func(t *testing.T) {
			fx := fixtureByName(t, name)
			ev := cloneEvidence(fx.ev)
			ev.Version = 2
			data, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			o := runEvidence(t, data, fx.nonce, verifierOf(verify.Config{Now: testutil.FixtureTime()}))
			if o.bad != "" || o.claims != nil || o.check != verify.CheckUserData {
				t.Fatalf("got %v, want rejection by %s", o, verify.CheckUserData)
			}
		})
	}
	// The other direction is a downgrade, not a forgery: v2 evidence
	// relabelled v1 still verifies (the quote nonce proves freshness) but
	// its claims no longer say FreshReport; a verifier that needs a fresh
	// report sets Policy.RequireFreshReport, which still holds for it.
	t.Run("v2 relabelled v1", func(t *testing.T) {
		fx := fixtureByName(t, "v2")
		ev := cloneEvidence(fx.ev)
		ev.Version = 1
		data, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c, err := verify.Evidence(context.Background(), data, fx.nonce, verify.Config{Now: testutil.FixtureTime()})
		if err != nil {
			t.Fatal(err)
		}
		if c.FreshReport || c.EvidenceVersion != 1 {
			t.Errorf("downgraded evidence: FreshReport %v, version %d", c.FreshReport, c.EvidenceVersion)
		}
		c, err = verify.Evidence(context.Background(), data, fx.nonce, verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{RequireFreshReport: true}})
		if err != nil {
			t.Fatal(err)
		}
		if !c.FreshReport {
			t.Error("RequireFreshReport: FreshReport false")
		}
	})
}

// TestSpliceSameVMOtherReport documents a known limit: v0 and v1 come from
// the same VM (same chip, same AK) with different HCL reports. The HCL
// report read at boot is not fresh, so v0's report with v1's quote is
// accepted, and the claims are v0's report with v1's quote: the AK, not the
// report, is what the quote binds. Only a refreshed report (v2,
// RequireFreshReport) binds the report to this challenge.
func TestSpliceSameVMOtherReport(t *testing.T) {
	v0, v1 := fixtureByName(t, "v0"), fixtureByName(t, "v1")
	ev := cloneEvidence(v1.ev)
	ev.HCLReport = v0.ev.HCLReport
	c, err := uncached().Decoded(context.Background(), ev, v1.nonce)
	if err != nil {
		t.Fatalf("same-VM splice: %v (if this is now rejected, update SECURITY.md's known limits)", err)
	}
	c0, err := uncached().Decoded(context.Background(), v0.ev, v0.nonce)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.AKPublic) != string(c0.AKPublic) || string(c.ReportData) != string(c0.ReportData) {
		t.Error("claims do not come from v0's report")
	}
	_, err = verifierOf(verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{RequireFreshReport: true}}).
		Decoded(context.Background(), ev, v1.nonce)
	if !isCheck(err, verify.CheckUserData) {
		t.Errorf("RequireFreshReport: got %v, want %s", err, verify.CheckUserData)
	}
}

// TestReportSplice covers Verifier.Report (stored reports, no quote): the
// real THIM report verifies with its VCEK, and nothing verifies with a VCEK
// of another chip.
func TestReportSplice(t *testing.T) {
	thimReport := testutil.ReadFile(t, "azure-thim/snp_report.bin")
	opts := verifierOf(verify.Config{Now: testutil.FixtureTime()})
	if _, err := opts.Report(context.Background(), thimReport, thimVCEK(t)); err != nil {
		t.Fatalf("genuine THIM report: %v", err)
	}
	toolingVCEK := testutil.PEMBlocks(t, testutil.ReadFile(t, "azure-cvm-tooling/certs.pem"), "CERTIFICATE")[0]
	// Each VCEK is another chip's: the cause named is vcek-chip-id, checked
	// before the signature the VCEK cannot verify.
	cases := []struct {
		name       string
		blob, vcek []byte
		want       verify.Check
	}{
		{"azure-cvm-tooling report with its certs.pem VCEK (another chip)", testutil.ReadFile(t, "azure-cvm-tooling/hcl-report-snp.bin"), toolingVCEK, verify.CheckChipID},
		{"THIM report with the trustee v1 VCEK", thimReport, fixtureByName(t, "v1").ev.VCEK, verify.CheckChipID},
		{"trustee HCL report with the THIM VCEK", readFile(t, "hcl-report.bin"), thimVCEK(t), verify.CheckChipID},
		{"THIM report with the Genoa VCEK", thimReport, fixtureByName(t, "genoa").ev.VCEK, verify.CheckChipID},
		{"TDX HCL report", testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin"), thimVCEK(t), verify.CheckReportType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := run(t, func() (*verify.Claims, error) {
				return verifierOf(verify.Config{Now: testutil.FixtureTime()}).Report(context.Background(), tc.blob, tc.vcek)
			})
			if o.bad != "" || o.claims != nil || o.check != tc.want {
				t.Fatalf("got %v, want rejection by %s", o, tc.want)
			}
		})
	}
}

// TestTDXEvidenceNotVerified checks that TDX evidence, which is parsed but
// not verified, is rejected rather than accepted on its TPM quote alone.
func TestTDXEvidenceNotVerified(t *testing.T) {
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json"} {
		data := testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/"+f)
		o := runEvidence(t, data, []byte("challenge"), verifierOf(verify.Config{Now: testutil.FixtureTime()}))
		if o.bad != "" || o.claims != nil || o.check != verify.CheckReportType {
			t.Errorf("%s: got %v, want rejection by %s", f, o, verify.CheckReportType)
		}
	}
}

// TestSyntheticBinding uses evidence under a private chain (internal/testev)
// to reach the checks that real evidence of another chip cannot reach,
// because another chip's VCEK never verifies the report signature: a VCEK
// that shares the report key but names another chip or TCB.
func TestSyntheticBinding(t *testing.T) {
	other := testev.DefaultChipID(snp.Genoa)
	tcb := testev.DefaultTCB(snp.Milan)
	tcb.Microcode--
	cases := []struct {
		name string
		b    testev.Builder
		want verify.Check
	}{
		{"VCEK of another chip id, same key", testev.Builder{VCEK: testev.VCEKTemplate{HWID: other[:]}}, verify.CheckChipID},
		{"VCEK of another TCB, same key", testev.Builder{VCEK: testev.VCEKTemplate{TCB: tcb}}, verify.CheckVCEKTCB},
		{"report signed by another key", testev.Builder{ReportKey: testev.NewVCEKKey()}, verify.CheckReportSignature},
		{"quote signed by another key", testev.Builder{QuoteKey: testev.OtherRSAKey()}, verify.CheckQuoteSignature},
		{"Genoa-named VCEK from the Milan chain", testev.Builder{Chain: testev.PrivateChain(snp.Milan), VCEK: testev.VCEKTemplate{ProductName: "Genoa-B1"}}, verify.CheckVCEKChain},
		{"Genoa VCEK (Genoa chain) on a Milan report", testev.Builder{VCEK: testev.VCEKTemplate{ProductName: "Genoa-B1"}}, verify.CheckProduct},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			o := runDecoded(t, ev.Evidence, ev.Nonce, verifierOf(verify.Config{Roots: testev.Roots()}))
			if o.bad != "" || o.claims != nil || o.check != tc.want {
				t.Fatalf("got %v, want rejection by %s", o, tc.want)
			}
		})
	}
	// Control: the unmodified synthetic evidence verifies.
	ev := (&testev.Builder{}).MustBuild()
	if o := runDecoded(t, ev.Evidence, ev.Nonce, verifierOf(verify.Config{Roots: testev.Roots()})); o.claims == nil {
		t.Fatalf("synthetic control: %v", o)
	}
}
