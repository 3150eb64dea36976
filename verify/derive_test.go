package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestDerivePolicyRoundTrip: the policy derived from the claims of real
// evidence accepts that evidence and rejects evidence of another VM: the
// Milan VM's policy rejects the Genoa VM (and the TDX VM: another
// platform), the TDX VM's policy rejects the Milan VM.
func TestDerivePolicyRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg := fixedOpts()
	milan := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
	genoa := testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json")
	tdxEv := testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json")
	claimsOf := func(data []byte, nonce []byte) *verify.Claims {
		t.Helper()
		c, err := verify.Evidence(ctx, data, nonce, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	milanClaims := claimsOf(milan, []byte("challenge"))
	tdxClaims := claimsOf(tdxEv, []byte("challenge"))
	for _, tc := range []struct {
		name   string
		claims *verify.Claims
		pcrs   []int
		data   []byte
		nonce  []byte
		check  verify.Check // "" accepted
	}{
		{"milan policy, milan", milanClaims, []int{0, 7}, milan, []byte("challenge"), ""},
		{"milan policy, genoa", milanClaims, nil, genoa, quotedNonce(t, genoa), verify.CheckProduct},
		{"milan policy, tdx", milanClaims, nil, tdxEv, []byte("challenge"), verify.CheckPlatform},
		{"tdx policy, tdx", tdxClaims, []int{7}, tdxEv, []byte("challenge"), ""},
		{"tdx policy, milan", tdxClaims, nil, milan, []byte("challenge"), verify.CheckPlatform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.DerivePolicy(tc.claims, tc.pcrs)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.PCRs) != len(tc.pcrs) {
				t.Errorf("policy pins %d PCRs, want %d", len(p.PCRs), len(tc.pcrs))
			}
			c := cfg
			c.Policy = *p
			claims, err := verify.Evidence(ctx, tc.data, tc.nonce, c)
			wantOutcome(t, claims, err, tc.check)
		})
	}
}

// TestDerivePolicy: what the derived policy holds, that it shares no
// memory with the claims, and the claims it cannot derive a policy from.
func TestDerivePolicy(t *testing.T) {
	c, err := verify.Evidence(context.Background(), testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"), []byte("challenge"), fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	p, err := verify.DerivePolicy(c, []int{7})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Platforms) != 1 || p.Platforms[0] != verify.PlatformSNP || p.MinTCB == nil || *p.MinTCB != c.ReportedTCB ||
		p.MinLaunchTCB == nil || *p.MinLaunchTCB != c.LaunchTCB ||
		len(p.Measurements) != 1 || !bytes.Equal(p.Measurements[0], c.Measurement) ||
		len(p.IDKeyDigests) != 1 || !bytes.Equal(p.IDKeyDigests[0], c.IDKeyDigest) ||
		len(p.Products) != 1 || p.Products[0] != "Milan" || !bytes.Equal(p.PCRs[7], c.PCRs[7]) {
		t.Fatalf("derived %+v", p)
	}
	c.Measurement[0] ^= 1
	c.IDKeyDigest[0] ^= 1
	c.PCRs[7][0] ^= 1
	if bytes.Equal(p.Measurements[0], c.Measurement) || bytes.Equal(p.IDKeyDigests[0], c.IDKeyDigest) || bytes.Equal(p.PCRs[7], c.PCRs[7]) {
		t.Error("the policy shares memory with the claims")
	}

	emulated := *c
	emulated.Paravisor = verify.ParavisorEmulated
	if p, err := verify.DerivePolicy(&emulated, nil); err != nil || p.IDKeyDigests != nil {
		t.Errorf("emulated paravisor: %v, id_key_digests %v (want none)", err, p)
	}

	noValues := *c
	noValues.PCRs, noValues.PCRValues = nil, verify.PCRValuesAbsent
	zeroKey := *c
	zeroKey.IDKeyDigest = make([]byte, 48)
	for _, tc := range []struct {
		name   string
		claims *verify.Claims
		pcrs   []int
		want   string
	}{
		{"nil claims", nil, nil, "no claims"},
		{"PCR not quoted", c, []int{7, 24}, "no value for PCR 24"},
		{"no PCR values", &noValues, []int{7}, "carries no PCR values"},
		{"TDX without MRTD", &verify.Claims{Platform: verify.PlatformTDX}, nil, "no MRTD"},
		{"zero ID key", &zeroKey, nil, "id_key_digests[0]"},
	} {
		p, err := verify.DerivePolicy(tc.claims, tc.pcrs)
		if err == nil || !strings.Contains(err.Error(), tc.want) || p != nil {
			t.Errorf("%s: %v, %v; want an error saying %q", tc.name, p, err, tc.want)
		}
	}
	// Without PCRs asked for, absent values are no error.
	if _, err := verify.DerivePolicy(&noValues, nil); err != nil {
		t.Errorf("no PCR values, none asked: %v", err)
	}
}

// TestDerivePolicyGuestSettings: the policy derived from evidence that a
// looser policy accepted (a debuggable guest, a migration agent, a
// reported TCB not committed, a version 1 report) accepts that evidence
// again, through its JSON as "policy derive" prints it; and the policy of
// a guest that forbids SMT rejects one that allows it, as that of a guest
// bound to init-data rejects one that is not, and that of a guest with
// neither debug nor a migration agent rejects one with either.
func TestDerivePolicyGuestSettings(t *testing.T) {
	ctx := context.Background()
	lower := testev.DefaultTCB(snp.Milan)
	lower.SNP--
	lowest := lower
	lowest.SNP--
	initData := bytes.Repeat([]byte{0x1d}, 32)
	pcrs := testev.DefaultPCRs()
	pcr8 := verify.InitDataPCR8(initData)
	pcrs[8] = pcr8[:]
	for _, tc := range []struct {
		name  string
		b     testev.Builder
		loose verify.Policy
		other testev.Builder // another guest, which the derived policy must reject
		check verify.Check
	}{
		{"debug", testev.Builder{Policy: testev.DebugPolicy}, verify.Policy{AllowDebug: true}, testev.Builder{}, ""},
		{"migration agent", testev.Builder{Policy: testev.DefaultPolicy | snp.PolicyMigrateMA}, verify.Policy{AllowMigrationAgent: true}, testev.Builder{}, ""},
		{"TCB not committed", testev.Builder{CommittedTCB: &lower}, verify.Policy{AllowUncommittedTCB: true}, testev.Builder{}, ""},
		{"version 1 report", testev.Builder{ReportVersion: 1}, verify.Policy{AllowUncommittedTCB: true}, testev.Builder{}, ""},
		{"launched under older firmware", testev.Builder{LaunchTCB: &lower}, verify.Policy{}, testev.Builder{LaunchTCB: &lowest}, verify.CheckMinLaunchTCB},
		{"SMT off", testev.Builder{Policy: testev.DefaultPolicy &^ snp.PolicySMT}, verify.Policy{}, testev.Builder{}, verify.CheckGuestPolicy},
		{"init-data", testev.Builder{PCRs: pcrs}, verify.Policy{InitDataDigest: initData}, testev.Builder{}, verify.CheckInitData},
		{"defaults, debug guest", testev.Builder{}, verify.Policy{AllowDebug: true}, testev.Builder{Policy: testev.DebugPolicy}, verify.CheckDebug},
		{"defaults, migration agent", testev.Builder{}, verify.Policy{AllowMigrationAgent: true}, testev.Builder{Policy: testev.DefaultPolicy | snp.PolicyMigrateMA}, verify.CheckGuestPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			cfg := verify.Config{Roots: testev.Roots(), Policy: tc.loose}
			claims, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
			if err != nil {
				t.Fatalf("the looser policy rejects the evidence: %v", err)
			}
			p, err := verify.DerivePolicy(claims, []int{7})
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := verify.ParsePolicy(js)
			if err != nil {
				t.Fatalf("the derived policy %s does not parse: %v", js, err)
			}
			cfg.Policy = *parsed
			_, err = verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
			wantOutcome(t, nil, err, "")
			other := tc.other.MustBuild()
			claims, err = verify.Evidence(ctx, other.JSON, other.Nonce, cfg)
			wantOutcome(t, claims, err, tc.check)
		})
	}
}

// TestDerivePolicyTDXSettings: a TD's debug attributes and an evaluated
// TCB status outside the defaults are carried into its policy; the
// defaults are left to DefaultTDXTCBStatuses.
func TestDerivePolicyTDXSettings(t *testing.T) {
	mrtd := bytes.Repeat([]byte{0xab}, 48)
	for _, tc := range []struct {
		name     string
		attrs    []byte
		status   string
		debug    bool
		statuses []string
	}{
		{"production TD, up to date", make([]byte, 8), "UpToDate", false, nil},
		{"DEBUG", []byte{1, 0, 0, 0, 0, 0, 0, 0}, "UpToDate", true, nil},
		{"host profiling (bit 7)", []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, verify.TCBNotEvaluated, true, nil},
		{"bit 28 is not a debug flag", []byte{0, 0, 0, 0x10, 0, 0, 0, 0}, verify.TCBNotEvaluated, false, nil},
		{"out of date", make([]byte, 8), "OutOfDate", false, append(verify.DefaultTDXTCBStatuses(), "OutOfDate")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &verify.Claims{Platform: verify.PlatformTDX, TDX: &verify.TDXClaims{MRTD: mrtd, TDAttributes: tc.attrs, TCBStatus: tc.status}}
			p, err := verify.DerivePolicy(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.AllowDebug != tc.debug || !slices.Equal(p.TDXTCBStatuses, tc.statuses) || len(p.TDXMRTDs) != 1 {
				t.Errorf("derived allow_debug %v, tdx_tcb_statuses %v; want %v, %v", p.AllowDebug, p.TDXTCBStatuses, tc.debug, tc.statuses)
			}
		})
	}
}
