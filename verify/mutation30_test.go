package verify_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Tests added by the mutation testing of the checks after the report
// (mutation30).

// TestUserDataFullWidthNonce: without a nonce to check (AllowNoNonce), a
// quote's extraData may fill all 64 bytes of user-data: v2 evidence whose
// user-data is exactly that extraData verifies (not fresh); one byte of it
// changed is CheckUserData.
func TestUserDataFullWidthNonce(t *testing.T) {
	ctx := context.Background()
	extra := bytes.Repeat([]byte{0x5a}, 64)
	for _, tc := range []struct {
		name string
		user []byte
		ok   bool
	}{
		{"equal", extra, true},
		{"last byte differs", append(bytes.Clone(extra[:63]), 0x5b), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := (&testev.Builder{ExtraData: extra, UserData: tc.user}).MustBuild()
			claims, err := verify.Evidence(ctx, ev.JSON, nil, verify.Config{Roots: ev.Roots(), AllowNoNonce: true})
			if !tc.ok {
				wantCheck(t, err, verify.CheckUserData)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims.FreshReport || claims.NonceChecked || !bytes.Equal(claims.Nonce, extra) {
				t.Errorf("fresh %v, nonce checked %v, nonce %x", claims.FreshReport, claims.NonceChecked, []byte(claims.Nonce))
			}
		})
	}
}

// TestCmdlineMatcherForms: kernel_cmdline "/RE/" is a regular expression
// from two characters on ("//" matches only the empty command line), and
// any other string, "/" included, is matched exactly.
func TestCmdlineMatcherForms(t *testing.T) {
	for _, tc := range []struct {
		want, line string
		match      bool
	}{
		{"//", "", true},
		{"//", "//", false},
		{"/", "/", true},
		{"/", "", false},
		{"/ro/", "ro", true},
		{"/ro/", "/ro/", false},
		{"/ro", "/ro", true},
		{"ro/", "ro/", true},
		{"ro", "ro quiet", false},
	} {
		m, err := verify.CmdlineMatcherForTest(tc.want)
		if err != nil {
			t.Fatalf("%q: %v", tc.want, err)
		}
		if got := m(tc.line); got != tc.match {
			t.Errorf("kernel_cmdline %q on %q: match %v, want %v", tc.want, tc.line, got, tc.match)
		}
	}
}

// TestNoEventLogNoClaim: evidence that carries no event log has no
// event_log claim (nil, not an empty replay or an error), whatever
// policy that asks nothing of the log.
func TestNoEventLogNoClaim(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	if ev.Evidence.EventLog != nil {
		t.Fatal("the synthetic evidence carries a log")
	}
	claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if claims.EventLog != nil {
		t.Errorf("EventLog = %+v, want nil", claims.EventLog)
	}
}

// TestEventLogWithoutPCRValues: a log carried by evidence without PCR
// values is not replayed against nothing: the claim says why (Error), with
// no PCR verdicts and no state, even where the log's own PCRs would have
// replayed.
func TestEventLogWithoutPCRValues(t *testing.T) {
	rhel := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	ev := (&testev.Builder{PCRs: gcePCRs(t, "gce-rhel8-uefi.bin"), OmitPCRValues: true}).MustBuild()
	claims, err := verify.Evidence(context.Background(), withLog(rhel)(t, ev), ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	el := claims.EventLog
	if el == nil || !strings.Contains(el.Error, "no PCR values") || el.PCRs != nil || el.State.SecureBoot != nil || el.State.KernelCmdline != nil {
		t.Fatalf("EventLog = %+v, want the error of no PCR values and nothing replayed", el)
	}
}

// TestPlatformIdentityRejectionSaysWhy: each way require_vm_identity and
// init_data_digest fail names its cause: no vmUniqueId in the runtime
// data (with or without a vm-configuration), PCR 6 or 8 not selected, no
// PCR values, a value that is not the measurement.
func TestPlatformIdentityRejectionSaysWhy(t *testing.T) {
	ctx := context.Background()
	noID := testev.DefaultVMConfig()
	noID.VMUniqueID = ""
	vm := func(p *verify.Policy) { p.RequireVMIdentity = true }
	initData := func(p *verify.Policy) { p.InitDataDigest = bytes.Repeat([]byte{7}, 32) }
	for _, tc := range []struct {
		name   string
		b      testev.Builder
		policy func(*verify.Policy)
		check  verify.Check
		why    string
	}{
		{"empty vmUniqueId", testev.Builder{VMConfig: noID}, vm, verify.CheckVMIdentity, "names no vmUniqueId"},
		{"empty vm-configuration", testev.Builder{VMConfig: &hcl.VMConfiguration{}}, vm, verify.CheckVMIdentity, "names no vmUniqueId"},
		{"PCR 6 not selected", testev.Builder{PCRSelect: []int{0, 7}}, vm, verify.CheckVMIdentity, "does not hold PCR 6"},
		{"no PCR values for PCR 6", testev.Builder{OmitPCRValues: true}, vm, verify.CheckVMIdentity, "carries no PCR values"},
		{"another PCR 6", testev.Builder{PCRs: testev.DefaultPCRs(), VMConfig: otherVMConfig()}, vm, verify.CheckVMIdentity, "not the firmware's measurement"},
		{"PCR 8 not selected", testev.Builder{PCRSelect: []int{0, 7}}, initData, verify.CheckInitData, "does not hold PCR 8"},
		{"no PCR values for PCR 8", testev.Builder{OmitPCRValues: true}, initData, verify.CheckInitData, "carries no PCR values"},
		{"another PCR 8", testev.Builder{}, initData, verify.CheckInitData, "PCR 8 is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.b.MustBuild()
			cfg := verify.Config{Roots: ev.Roots()}
			tc.policy(&cfg.Policy)
			_, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
			wantCheck(t, err, tc.check)
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("err = %v, want it to say %q", err, tc.why)
			}
		})
	}
}

// otherVMConfig is a vm-configuration naming another VM than the default PCR 6 measures.
func otherVMConfig() *hcl.VMConfiguration {
	c := testev.DefaultVMConfig()
	c.VMUniqueID = "0A0B0C0D-1111-4222-8333-444455556666"
	return c
}

// TestPlatformInferredFromMembers: a policy that names no platforms is for
// the platforms its members judge: one with SEV-SNP members only (each of
// min_tcb, min_launch_tcb, measurements, products, deny_smt) rejects TDX
// evidence (with a TDX member too, TDX evidence is judged by that), one
// with TDX members only (tdx_mr_tds) rejects SEV-SNP evidence, each with
// check platform; with both kinds of member, or none, both are accepted.
// A platform listed twice is refused.
func TestPlatformInferredFromMembers(t *testing.T) {
	ctx := context.Background()
	cfg := fixedOpts()
	milan := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
	tdxEv := testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json")
	nonce := []byte("challenge")
	claimsOf := func(data []byte) *verify.Claims {
		c, err := verify.Evidence(ctx, data, nonce, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	mc, tc := claimsOf(milan), claimsOf(tdxEv)
	tcb, launch := mc.ReportedTCB, mc.LaunchTCB
	mrtds := []verify.HexBytes{tc.TDX.MRTD}
	for _, c := range []struct {
		name      string
		policy    verify.Policy
		snp, tdxs verify.Check // "" accepted
	}{
		{"none", verify.Policy{}, "", ""},
		{"min_tcb", verify.Policy{MinTCB: &tcb}, "", verify.CheckPlatform},
		{"min_launch_tcb", verify.Policy{MinLaunchTCB: &launch}, "", verify.CheckPlatform},
		{"min_tcb and tdx_mr_tds", verify.Policy{MinTCB: &tcb, TDXMRTDs: mrtds}, "", ""},
		{"min_launch_tcb and tdx_mr_tds", verify.Policy{MinLaunchTCB: &launch, TDXMRTDs: mrtds}, "", ""},
		{"measurements", verify.Policy{Measurements: []verify.HexBytes{mc.Measurement}}, "", verify.CheckPlatform},
		{"products", verify.Policy{Products: []string{"Milan"}}, "", verify.CheckPlatform},
		{"deny_smt", verify.Policy{DenySMT: true, AllowUncommittedTCB: true}, verify.CheckGuestPolicy, verify.CheckPlatform},
		{"tdx_mr_tds", verify.Policy{TDXMRTDs: mrtds}, verify.CheckPlatform, ""},
		{"both", verify.Policy{Products: []string{"Milan"}, TDXMRTDs: mrtds}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := cfg
			o.Policy = c.policy
			claims, err := verify.Evidence(ctx, milan, nonce, o)
			wantOutcome(t, claims, err, c.snp)
			claims, err = verify.Evidence(ctx, tdxEv, nonce, o)
			wantOutcome(t, claims, err, c.tdxs)
		})
	}
	// The rejection says where the platforms come from.
	for _, c := range []struct {
		policy verify.Policy
		why    string
	}{
		{verify.Policy{Products: []string{"Milan"}}, "its members are for sev-snp"},
		{verify.Policy{Platforms: []string{verify.PlatformSNP}}, "its platforms member lists sev-snp"},
	} {
		o := cfg
		o.Policy = c.policy
		_, err := verify.Evidence(ctx, tdxEv, nonce, o)
		if wantCheck(t, err, verify.CheckPlatform); !strings.Contains(err.Error(), c.why) {
			t.Errorf("err = %v, want it to say %q", err, c.why)
		}
	}
	_, err := verify.ParsePolicy([]byte(`{"platforms":["tdx","sev-snp","tdx"]}`))
	if pe, ok := errors.AsType[*verify.PolicyError](err); !ok || pe.Pointer != "/platforms/2" {
		t.Errorf("a platform listed twice: %v, want a *PolicyError at /platforms/2", err)
	}
}
