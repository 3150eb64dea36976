package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/snp-vtpm/snp-vtpm/collateral"
)

// TestPolicyPlatform: a policy derived from (or written for) one kind of
// CVM rejects the other kind with check platform, and accepts its own; the
// TDX derive holds the MRTD, not SNP members.
func TestPolicyPlatform(t *testing.T) {
	snpEv, tdxEv := verifySNPDir+"evidence-v1.json", verifyTDXDir+"evidence-v1.json"
	derive := func(ev string) string {
		code, out, errOut := runCLI(t, "policy", "derive", "--offline", "--at", verifyAt, "--nonce", "challenge", "--pcrs", "7", ev)
		wantExit(t, code, exitOK, out, errOut)
		return out
	}
	tdxPolicy := derive(tdxEv)
	if !strings.Contains(tdxPolicy, `"tdx_mr_tds"`) || strings.Contains(tdxPolicy, `"measurements"`) || !strings.Contains(tdxPolicy, `"tdx"`) {
		t.Fatalf("TDX derived policy:\n%s", tdxPolicy)
	}
	snpFile, tdxFile := writeTemp(t, "snp.json", []byte(derive(snpEv))), writeTemp(t, "tdx.json", []byte(tdxPolicy))
	measurementOnly := writeTemp(t, "m.json", []byte(`{"measurements":["6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e"]}`))
	both := writeTemp(t, "both.json", []byte(`{"platforms":["sev-snp","tdx"]}`))
	for _, tc := range []struct {
		name, policy, ev string
		code             int
	}{
		{"snp policy, snp evidence", snpFile, snpEv, exitOK},
		{"tdx policy, tdx evidence", tdxFile, tdxEv, exitOK},
		{"snp policy, tdx evidence", snpFile, tdxEv, exitRejected},
		{"tdx policy, snp evidence", tdxFile, snpEv, exitRejected},
		{"snp members only, tdx evidence", measurementOnly, tdxEv, exitRejected},
		{"both platforms, tdx evidence", both, tdxEv, exitOK},
		{"both platforms, snp evidence", both, snpEv, exitOK},
	} {
		code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--policy", tc.policy, "--nonce", "challenge", tc.ev)
		wantExit(t, code, tc.code, out, errOut)
		if tc.code == exitRejected && !strings.Contains(errOut, "platform check failed") {
			t.Errorf("%s: stderr does not name the platform check:\n%s", tc.name, errOut)
		}
	}
	bad := writeTemp(t, "bad.json", []byte(`{"platforms":["sgx"]}`))
	code, out, errOut := verifyCLI(t, nil, "--policy", bad, "--nonce", "challenge", snpEv)
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "platforms[0]") {
		t.Errorf("bad platform: %s", errOut)
	}
	// A member of a platform that platforms does not list would judge
	// nothing: this policy accepted the TDX VM as if it had no
	// measurements. It is refused, naming the member.
	tdxOnly := writeTemp(t, "tdxonly.json", []byte(`{"platforms":["tdx"],"measurements":["`+strings.Repeat("ab", 48)+`"]}`))
	code, out, errOut = verifyCLI(t, nil, "--at", verifyAt, "--policy", tdxOnly, "--nonce", "challenge", tdxEv)
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "policy: measurements: ") || !strings.Contains(errOut, "platforms lists only tdx") {
		t.Errorf("tdx-only policy with measurements: %s", errOut)
	}
}

// TestPCSOptIn: Intel's PCS is asked only when --pcs-url names it (TDX
// evidence verifies offline; the collateral adds the TCB status), and
// --offline forbids it even then.
func TestPCSOptIn(t *testing.T) {
	g := &globals{log: slog.New(slog.DiscardHandler)}
	chain := &collateral.Chain{}
	for _, tc := range []struct {
		args    []string
		offline bool
	}{
		{nil, true},
		{[]string{"--pcs-url", "https://pcs.example"}, false},
		{[]string{"--pcs-url", "https://pcs.example", "--offline"}, true},
	} {
		var tf trustFlags
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		tf.register(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := tf.intel(g, chain).Offline; got != tc.offline {
			t.Errorf("%v: Intel source offline = %v, want %v", tc.args, got, tc.offline)
		}
	}
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", verifyTDXDir+"evidence-v1.json")
	wantExit(t, code, exitOK, out, errOut)
	if !strings.Contains(out, "not-evaluated") {
		t.Errorf("without collateral or --pcs-url the TCB status is not evaluated:\n%s", out)
	}
}
