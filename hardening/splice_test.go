package hardening_test

import (
	"bytes"
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
	c, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	return (&snp.Roots{}).Add(c)
}

// getter returns a VCEKGetter that answers every request with der (or err):
// a compromised network, IMDS or KDS.
func getter(der []byte, err error) verify.VCEKGetter {
	return verify.VCEKGetterFunc(func(context.Context, verify.VCEKRequest) ([]byte, error) { return der, err })
}

type spliceCase struct {
	name string
	// base names the fixture spliced into; edit (nil: none) changes a deep
	// copy of it.
	base string
	edit func(t *testing.T, fx map[string]*fixture, ev *evidence.Evidence)
	// nonce returns the nonce the verifier expects (nil: base's nonce).
	nonce func(fx map[string]*fixture) []byte
	// verifier returns the Verifier (nil: the pinned roots at
	// testutil.FixtureTime()).
	verifier func(t *testing.T) *verify.Verifier
	want     verify.Check
}

// nonceOf returns a spliceCase nonce: the nonce of fixture name.
func nonceOf(name string) func(map[string]*fixture) []byte {
	return func(fx map[string]*fixture) []byte { return fx[name].nonce }
}

// fixed returns a spliceCase nonce: n.
func fixed(n []byte) func(map[string]*fixture) []byte {
	return func(map[string]*fixture) []byte { return n }
}

func spliceCases() []spliceCase {
	at := func(now time.Time) func(*testing.T) *verify.Verifier {
		return func(*testing.T) *verify.Verifier {
			return verifierOf(verify.Config{Now: now, Cache: verify.CacheConfig{Disable: true}})
		}
	}
	roots := func(r func(t *testing.T) *snp.Roots) func(*testing.T) *verify.Verifier {
		return func(t *testing.T) *verify.Verifier {
			return verifierOf(verify.Config{Now: testutil.FixtureTime(), Roots: r(t)})
		}
	}
	rootsOf := func(r *snp.Roots) func(*testing.T) *snp.Roots { return func(*testing.T) *snp.Roots { return r } }
	getterOf := func(der func(t *testing.T) []byte, err error) func(*testing.T) *verify.Verifier {
		return func(t *testing.T) *verify.Verifier {
			var b []byte
			if der != nil {
				b = der(t)
			}
			return verifierOf(verify.Config{Now: testutil.FixtureTime(), VCEKGetter: getter(b, err)})
		}
	}
	quoteOf := func(name string) func(*testing.T, map[string]*fixture, *evidence.Evidence) {
		return func(_ *testing.T, fx map[string]*fixture, ev *evidence.Evidence) { ev.Quote = fx[name].ev.Quote }
	}
	hclOf := func(name string) func(*testing.T, map[string]*fixture, *evidence.Evidence) {
		return func(_ *testing.T, fx map[string]*fixture, ev *evidence.Evidence) {
			ev.HCLReport = fx[name].ev.HCLReport
		}
	}
	hclFile := func(rel string) func(*testing.T, map[string]*fixture, *evidence.Evidence) {
		return func(t *testing.T, _ map[string]*fixture, ev *evidence.Evidence) {
			ev.HCLReport = testutil.ReadFile(t, rel)
		}
	}
	vcek := func(der func(t *testing.T, fx map[string]*fixture) []byte) func(*testing.T, map[string]*fixture, *evidence.Evidence) {
		return func(t *testing.T, fx map[string]*fixture, ev *evidence.Evidence) { ev.VCEK = der(t, fx) }
	}
	vcekOf := func(name string) func(*testing.T, map[string]*fixture) []byte {
		return func(_ *testing.T, fx map[string]*fixture) []byte { return fx[name].ev.VCEK }
	}
	thim := func(t *testing.T, _ map[string]*fixture) []byte { return thimVCEK(t) }
	noVCEK := vcek(func(*testing.T, map[string]*fixture) []byte { return nil })
	pcrsOf := func(name string) func(*testing.T, map[string]*fixture, *evidence.Evidence) {
		return func(_ *testing.T, fx map[string]*fixture, ev *evidence.Evidence) {
			ev.Quote.PCRs = fx[name].ev.Quote.PCRs
		}
	}
	return []spliceCase{
		// Report of one VM, quote of another: the quote is signed by
		// another AK than the one the report binds.
		{name: "v1 report + v2 quote", base: "v1", edit: quoteOf("v2"), nonce: nonceOf("v2"), want: verify.CheckQuoteSignature},
		{name: "v2 report + v1 quote", base: "v2", edit: quoteOf("v1"), nonce: nonceOf("v1"), want: verify.CheckQuoteSignature},
		{name: "Genoa report + Milan quote", base: "genoa", edit: quoteOf("v1"), nonce: nonceOf("v1"), want: verify.CheckQuoteSignature},
		{name: "Milan report + Genoa quote", base: "hcl", edit: quoteOf("genoa"), nonce: nonceOf("genoa"), want: verify.CheckQuoteSignature},
		// The HCL report of another VM (with its own, matching VCEK) and
		// this VM's quote.
		{name: "HCL report + VCEK of v2 with the v1 quote", base: "v1", edit: func(_ *testing.T, fx map[string]*fixture, ev *evidence.Evidence) {
			ev.HCLReport, ev.VCEK = fx["v2"].ev.HCLReport, fx["v2"].ev.VCEK
		}, want: verify.CheckQuoteSignature},
		{name: "HCL report of Genoa with the Milan quote and VCEK", base: "v1", edit: hclOf("genoa"), want: verify.CheckProduct},
		{name: "HCL report of another Milan VM, VCEK and quote of v1", base: "v1", edit: hclOf("hcl"), want: verify.CheckChipID},
		{name: "TDX HCL report with an SNP quote", base: "v1", edit: hclFile("trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin"), want: verify.CheckReportType},
		{name: "bare SNP report (THIM) in place of the HCL report", base: "v1", edit: hclFile("azure-thim/snp_report.bin"), want: verify.CheckHCLFormat},

		// A VCEK of another chip.
		{name: "Genoa VCEK on Milan evidence (report v3, CPUID Milan)", base: "v1", edit: vcek(vcekOf("genoa")), want: verify.CheckProduct},
		{name: "Milan VCEK on Genoa evidence", base: "genoa", edit: vcek(vcekOf("v1")), want: verify.CheckProduct},
		{name: "THIM VCEK (another Milan chip) on trustee v1 evidence", base: "v1", edit: vcek(thim), want: verify.CheckChipID},
		{name: "THIM VCEK on trustee v2 evidence", base: "v2", edit: vcek(thim), want: verify.CheckChipID},
		{name: "THIM VCEK on Genoa evidence", base: "genoa", edit: vcek(thim), want: verify.CheckProduct},
		{name: "VCEK of v2's chip on v1 evidence", base: "v1", edit: vcek(vcekOf("v2")), want: verify.CheckChipID},
		{name: "ASK certificate in place of the VCEK", base: "v1", edit: vcek(func(*testing.T, map[string]*fixture) []byte {
			return snp.DefaultRoots().Chains(snp.Milan)[0].ASK.Raw
		}), want: verify.CheckVCEKFormat},
		{name: "emulated CVM's VCEK on real evidence", base: "v1", edit: vcek(func(*testing.T, map[string]*fixture) []byte { return fakeamd.VCEK().Raw }), want: verify.CheckVCEKChain},

		// VCEK from the network: a getter (IMDS, KDS, a cache) that lies.
		{name: "no VCEK, getter returns another chip's VCEK", base: "v1", edit: noVCEK, verifier: getterOf(func(t *testing.T) []byte { return thimVCEK(t) }, nil), want: verify.CheckChipID},
		{name: "no VCEK, getter returns the emulated VCEK", base: "v1", edit: noVCEK,
			verifier: getterOf(func(*testing.T) []byte { return fakeamd.VCEK().Raw }, nil), want: verify.CheckVCEKChain},
		{name: "no VCEK, getter returns garbage", base: "v2", edit: noVCEK,
			verifier: getterOf(func(*testing.T) []byte { return []byte("not a certificate") }, nil), want: verify.CheckVCEKFormat},
		{name: "no VCEK, getter fails", base: "v2", edit: noVCEK, verifier: getterOf(nil, os.ErrDeadlineExceeded), want: verify.CheckVCEKMissing},
		{name: "no VCEK, offline", base: "genoa", edit: noVCEK, want: verify.CheckVCEKMissing},

		// Roots: only the pinned chain of the evidence's product line verifies it.
		{name: "Genoa evidence against Milan-only roots", base: "genoa", verifier: roots(rootsOf(milanOnlyRoots())), want: verify.CheckVCEKChain},
		{name: "Milan evidence against Genoa-only roots", base: "v1", verifier: roots(rootsOf(genoaOnlyRoots())), want: verify.CheckVCEKChain},
		{name: "Milan evidence against no roots", base: "v2", verifier: roots(rootsOf(&snp.Roots{})), want: verify.CheckVCEKChain},
		{name: "Milan evidence against the emulated chain only", base: "hcl",
			verifier: roots(func(t *testing.T) *snp.Roots { return emulatedOnlyRoots(t) }), want: verify.CheckVCEKChain},
		{name: "Milan evidence against the testev private roots", base: "v0", verifier: roots(rootsOf(testev.Roots())), want: verify.CheckVCEKChain},

		// The clock.
		{name: "verification time after the VCEK expired", base: "v1", verifier: at(time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)), want: verify.CheckCertValidity},
		{name: "verification time before the VCEK was issued", base: "genoa", verifier: at(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)), want: verify.CheckCertValidity},

		// Nonces.
		{name: "v2 evidence, nonce of another challenge (Genoa's)", base: "v2", nonce: nonceOf("genoa"), want: verify.CheckNonce},
		{name: "v1 evidence, another text nonce", base: "v1", nonce: fixed([]byte("challengf")), want: verify.CheckNonce},
		{name: "v1 evidence, nonce prefix", base: "v1", nonce: fixed([]byte("challeng")), want: verify.CheckNonce},
		{name: "v1 evidence, nonce extended", base: "v1", nonce: fixed([]byte("challenge\x00")), want: verify.CheckNonce},
		{name: "v1 evidence, nil nonce", base: "v1", nonce: fixed(nil), want: verify.CheckNonce},
		{name: "v1 evidence, empty nonce", base: "v1", nonce: fixed([]byte{}), want: verify.CheckNonce},
		{name: "v2 evidence, 49-byte nonce starting with the quoted 48 bytes", base: "v2", nonce: func(fx map[string]*fixture) []byte {
			return append(append([]byte(nil), fx["v2"].nonce...), 0)
		}, want: verify.CheckNonce},
		{name: "Genoa evidence, 47-byte prefix of the nonce", base: "genoa", nonce: func(fx map[string]*fixture) []byte { return fx["genoa"].nonce[:47] }, want: verify.CheckNonce},

		// PCR values of another VM.
		{name: "v1 evidence with v2's PCR values", base: "v1", edit: pcrsOf("v2"), want: verify.CheckPCRDigest},
		{name: "Genoa evidence with Milan PCR values", base: "genoa", edit: pcrsOf("hcl"), want: verify.CheckPCRDigest},
		{name: "v1 evidence with PCR 0 and 1 swapped", base: "v1", edit: func(_ *testing.T, _ map[string]*fixture, ev *evidence.Evidence) {
			p := ev.Quote.PCRs
			p[0], p[1] = p[1], p[0]
		}, want: verify.CheckPCRDigest},
		{name: "v1 evidence with v2's PCR 7 only", base: "v1", edit: func(_ *testing.T, fx map[string]*fixture, ev *evidence.Evidence) {
			ev.Quote.PCRs[7] = fx["v2"].ev.Quote.PCRs[7]
		}, want: verify.CheckPCRDigest},

		// Freshness: the report of v0/v1 was not refreshed with the nonce.
		{name: "v1 report with RequireFreshReport", base: "v1", verifier: func(*testing.T) *verify.Verifier {
			return verifierOf(verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{RequireFreshReport: true}})
		}, want: verify.CheckUserData},
	}
}

// build returns the spliced evidence, the nonce and the Verifier of tc.
func (tc spliceCase) build(t *testing.T, fx map[string]*fixture) (*evidence.Evidence, []byte, *verify.Verifier) {
	ev := cloneEvidence(fx[tc.base].ev)
	if tc.edit != nil {
		tc.edit(t, fx, ev)
	}
	nonce := fx[tc.base].nonce
	if tc.nonce != nil {
		nonce = tc.nonce(fx)
	}
	v := verifierOf(verify.Config{Now: testutil.FixtureTime()})
	if tc.verifier != nil {
		v = tc.verifier(t)
	}
	return ev, nonce, v
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
			ev, nonce, v := tc.build(t, fx)
			o := runDecoded(t, ev, nonce, v)
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

// TestTDXEvidence checks that TDX evidence verifies through its TD quote,
// and that without the quote's paravisor (MRTD) it is rejected rather
// than accepted on its TPM quote alone.
func TestTDXEvidence(t *testing.T) {
	other := verify.HexBytes(bytes.Repeat([]byte{0xab}, 48))
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json"} {
		data := testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/"+f)
		o := runEvidence(t, data, []byte("challenge"), verifierOf(verify.Config{Now: testutil.FixtureTime()}))
		if o.bad != "" || o.claims == nil || o.claims.Platform != verify.PlatformTDX {
			t.Errorf("%s: got %v, want TDX claims", f, o)
		}
		cfg := verify.Config{Now: testutil.FixtureTime(), Policy: verify.Policy{TDXMRTDs: []verify.HexBytes{other}}}
		o = runEvidence(t, data, []byte("challenge"), verifierOf(cfg))
		if o.bad != "" || o.claims != nil || o.check != verify.CheckParavisorIdentity {
			t.Errorf("%s: got %v, want rejection by %s", f, o, verify.CheckParavisorIdentity)
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
