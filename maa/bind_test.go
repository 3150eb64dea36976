package maa_test

import (
	"context"
	"crypto/rsa"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// verifiedEvidence builds synthetic evidence with b and verifies it.
func verifiedEvidence(t *testing.T, b *testev.Builder) *verify.Claims {
	t.Helper()
	ev := b.MustBuild()
	c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenFor mints, with the test MAA key, a token whose claims describe the
// verified evidence ev (the real payload's shape, ev's values), then
// changed by change.
func tokenFor(t *testing.T, ev *verify.Claims, ak *rsa.PublicKey, change func(m map[string]any)) ([]byte, maa.Config) {
	t.Helper()
	payload, err := testmaa.PayloadFor(payloadOf(t, testutil.ReadFile(t, realTokenFile)), ev, ak)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		payload = edit(t, payload, change)
	}
	return resigned(t, payload)
}

// verifyAndBind verifies a token minted for ours (changed by change) and
// returns the error of binding it to ev.
func verifyAndBind(t *testing.T, ours *verify.Claims, ak *rsa.PublicKey, change func(m map[string]any), ev *verify.Claims) error {
	t.Helper()
	token, cfg := tokenFor(t, ours, ak, change)
	c, err := maa.Verify(context.Background(), token, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return maa.Bind(c, ev)
}

// wantUnboundWithoutRuntimeData (mutation31): ours's evidence without its
// runtime data, or without its AK, cannot be bound to a token of ours (not
// a panic, and not bound by its AK alone): maa-binding, saying no runtime
// data.
func wantUnboundWithoutRuntimeData(t *testing.T, ours *verify.Claims, ak *rsa.PublicKey) {
	t.Helper()
	noVMConfig := *ours
	noVMConfig.VMConfig = nil
	noAK := *ours
	noAK.AKPublic = nil
	for _, ev := range []*verify.Claims{&noVMConfig, &noAK} {
		err := verifyAndBind(t, ours, ak, nil, ev)
		wantCheck(t, err, maa.CheckBinding)
		if !strings.Contains(err.Error(), "no runtime data") {
			t.Errorf("%v, want: no runtime data", err)
		}
	}
}

// TestBind: a token minted for our evidence binds; the evidence of another
// VM, or any bound claim changed, fails maa-binding.
func TestBind(t *testing.T) {
	ours := verifiedEvidence(t, &testev.Builder{})
	otherCfg := testev.DefaultVMConfig()
	otherCfg.VMUniqueID = "11111111-2222-3333-4444-555555555555"
	otherVM := verifiedEvidence(t, &testev.Builder{AK: testev.OtherRSAKey(), VMConfig: otherCfg})
	sameAKOtherID := verifiedEvidence(t, &testev.Builder{VMConfig: otherCfg})
	tcb := testev.DefaultTCB("Milan")
	tcb.Microcode++
	newerTCB := verifiedEvidence(t, &testev.Builder{ReportedTCB: &tcb})
	ak := &testev.AKKey().PublicKey
	vmpl1 := *ours
	vmpl1.VMPL = 1
	debugEv := *ours
	debugEv.Debug = true
	cases := []struct {
		name   string
		ev     *verify.Claims
		change func(m map[string]any)
		ok     bool
	}{
		{"our evidence", ours, nil, true},
		{"vmid in lower case", ours, func(m map[string]any) { m["x-ms-azurevm-vmid"] = strings.ToLower(ours.VMConfig.VMUniqueID) }, true},
		{"evidence of another VM", otherVM, nil, false},
		{"another vmUniqueId, same AK", sameAKOtherID, nil, false},
		{"another TCB", newerTCB, nil, false},
		{"other vmid", ours, func(m map[string]any) { m["x-ms-azurevm-vmid"] = otherCfg.VMUniqueID }, false},
		{"no vmid", ours, func(m map[string]any) { delete(m, "x-ms-azurevm-vmid") }, false},
		{"other echoed vmUniqueId", ours, func(m map[string]any) {
			tee(m)["x-ms-runtime"].(map[string]any)["vm-configuration"].(map[string]any)["vmUniqueId"] = otherCfg.VMUniqueID
		}, false},
		{"no HCLAkPub", ours, func(m map[string]any) { tee(m)["x-ms-runtime"].(map[string]any)["keys"] = []any{} }, false},
		{"report data", ours, setTEE("x-ms-sevsnpvm-reportdata", hex.EncodeToString(make([]byte, 64))), false},
		{"report data absent", ours, func(m map[string]any) { delete(tee(m), "x-ms-sevsnpvm-reportdata") }, false},
		{"measurement", ours, setTEE("x-ms-sevsnpvm-launchmeasurement", hex.EncodeToString(make([]byte, 48))), false},
		{"id key digest", ours, setTEE("x-ms-sevsnpvm-idkeydigest", hex.EncodeToString(make([]byte, 48))), false},
		{"host data", ours, setTEE("x-ms-sevsnpvm-hostdata", hex.EncodeToString(make([]byte, 31))), false},
		{"family id", ours, setTEE("x-ms-sevsnpvm-familyId", "02212000000000000000000000000000"), false},
		{"image id absent", ours, func(m map[string]any) { delete(tee(m), "x-ms-sevsnpvm-imageId") }, true},
		{"microcode", ours, setTEE("x-ms-sevsnpvm-microcode-svn", ours.ReportedTCB.Microcode+1), false},
		{"snpfw", ours, setTEE("x-ms-sevsnpvm-snpfw-svn", ours.ReportedTCB.SNP+1), false},
		{"bootloader", ours, setTEE("x-ms-sevsnpvm-bootloader-svn", ours.ReportedTCB.Bootloader+1), false},
		{"tee svn absent", ours, func(m map[string]any) { delete(tee(m), "x-ms-sevsnpvm-tee-svn") }, false},
		{"guest svn", ours, setTEE("x-ms-sevsnpvm-guestsvn", ours.GuestSVN+1), false},
		// A token of VMPL 1 fails Verify (maa-vmpl, TestClaimsPolicy); the
		// comparison is made with evidence of another VMPL.
		{"vmpl", &vmpl1, nil, false},
		// mutation29b: the token's is-debuggable false against evidence
		// whose report says debug (a policy that allows it) does not bind.
		{"debug", &debugEv, nil, false},
	}
	// A token's claims without x-ms-isolation-tee (which Verify refuses)
	// bind nothing.
	token, cfg := tokenFor(t, ours, ak, nil)
	c, err := maa.Verify(context.Background(), token, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.IsolationTEE = nil
	if err := maa.Bind(c, ours); err == nil || !strings.Contains(err.Error(), "no x-ms-isolation-tee") {
		t.Errorf("claims without x-ms-isolation-tee: %v", err)
	}
	wantCheck(t, maa.Bind(c, ours), maa.CheckBinding)
	wantUnboundWithoutRuntimeData(t, ours, ak)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyAndBind(t, ours, ak, tc.change, tc.ev)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCheck(t, err, maa.CheckBinding)
		})
	}
}

// TestBindRealToken: the real token does not bind to the repository's
// real evidence (another VM); no evidence of the token's own VM is public.
func TestBindRealToken(t *testing.T) {
	c, err := maa.Verify(context.Background(), testutil.ReadFile(t, realTokenFile), realConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v2.json")
	ev, err := verify.Evidence(context.Background(), data, nil, verify.Config{Now: testutil.FixtureTime(), AllowNoNonce: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, maa.Bind(c, ev), maa.CheckBinding)
}

// tdxEvidence is verified-looking TDX claims for Bind (synthetic: Bind
// compares, it does not verify): ours's AK, VM configuration and report
// data, and the quote body of tdxTEE.
func tdxEvidence(t *testing.T, ours *verify.Claims) *verify.Claims {
	t.Helper()
	h := func(k string) verify.HexBytes {
		b, err := hex.DecodeString(tdxTEE[k].(string))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &verify.Claims{
		Platform: verify.PlatformTDX, AKPublic: ours.AKPublic, VMConfig: ours.VMConfig, ReportData: ours.ReportData,
		TDX: &verify.TDXClaims{
			MRTD: h("tdx_mrtd"), RTMR: [4]verify.HexBytes{h("tdx_rtmr0"), h("tdx_rtmr1"), h("tdx_rtmr2"), h("tdx_rtmr3")},
			XFAM: h("tdx_xfam"), TDAttributes: h("tdx_td_attributes"), TEETCBSVN: h("tdx_tee_tcb_svn"),
			MRSEAM: h("tdx_mrseam"), MRSignerSEAM: h("tdx_mrsignerseam"), SEAMAttributes: h("tdx_seam_attributes"),
			MRConfigID: h("tdx_mrconfigid"), MROwner: h("tdx_mrowner"), MROwnerConfig: h("tdx_mrownerconfig"),
		},
	}
}

// TestBindTDX: a tdxvm token binds to TDX evidence with the same AK, VM
// id, TD report data and MRTD; any of them changed, or a platform
// mismatch either way, fails maa-binding.
func TestBindTDX(t *testing.T) {
	ours := verifiedEvidence(t, &testev.Builder{})
	tdxEv := tdxEvidence(t, ours)
	ak := &testev.AKKey().PublicKey
	tdxToken := func(change func(m map[string]any)) func(m map[string]any) { return tdxFor(ours.ReportData, change) }
	cases := []struct {
		name   string
		ev     *verify.Claims
		change func(m map[string]any)
		text   string
	}{
		{"our TDX evidence", tdxEv, tdxToken(nil), ""},
		{"optional claims absent", tdxEv, tdxToken(func(m map[string]any) { delete(tee(m), "tdx_rtmr0"); delete(tee(m), "tdx_mrseam") }), ""},
		{"tdxvm token, SEV-SNP evidence", ours, tdxToken(nil), `attests a "tdxvm" isolation TEE, our evidence is sev-snp`},
		{"sevsnpvm token, TDX evidence", tdxEv, nil, `attests a "sevsnpvm" isolation TEE, our evidence is tdx`},
		{"other MRTD", tdxEv, tdxToken(setTEE("tdx_mrtd", strings.Repeat("ab", 48))), "tdx_mrtd"},
		{"MRTD absent", tdxEv, tdxToken(func(m map[string]any) { delete(tee(m), "tdx_mrtd") }), "tdx_mrtd"},
		{"other report data", tdxEv, tdxToken(setTEE("tdx_report_data", strings.Repeat("00", 64))), "tdx_report_data"},
		{"report data absent", tdxEv, tdxToken(func(m map[string]any) { delete(tee(m), "tdx_report_data") }), "tdx_report_data"},
		{"other RTMR0", tdxEv, tdxToken(setTEE("tdx_rtmr0", strings.Repeat("11", 48))), "tdx_rtmr0"},
		{"other TEE TCB SVN", tdxEv, tdxToken(setTEE("tdx_tee_tcb_svn", strings.Repeat("01", 16))), "tdx_tee_tcb_svn"},
		{"other vmid", tdxEv, tdxToken(func(m map[string]any) { m["x-ms-azurevm-vmid"] = "11111111-2222-3333-4444-555555555555" }), "vmid"},
		{"other HCLAkPub", tdxEv, tdxToken(func(m map[string]any) {
			tee(m)["x-ms-runtime"].(map[string]any)["keys"] = []any{map[string]any{"kid": "HCLAkPub", "kty": "RSA",
				"n": b64(testev.OtherRSAKey().N.Bytes()), "e": "AQAB"}}
		}), "HCLAkPub"},
	}
	wantUnboundWithoutRuntimeData(t, ours, ak)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyAndBind(t, ours, ak, tc.change, tc.ev)
			if tc.text == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCheck(t, err, maa.CheckBinding)
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%v does not say %q", err, tc.text)
			}
		})
	}
}
