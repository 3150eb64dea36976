package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collateralDir is Intel's real collateral for the Azure quotes' FMSPC,
// current at tdxAt.
const (
	collateralDir = "../../testdata/intel-collateral/pcs-00806f050000"
	tdxAt         = "2025-10-01T00:00:00Z"
)

// TestVerifyCollateral: with --collateral, trustee's Azure TDX evidence
// is OutOfDate (exit 2, tdx-tcb-status) under the default policy,
// verified with the status, date and advisories when the policy accepts
// OutOfDate; expired or unreadable collateral is exit 1 naming the time
// or the file.
func TestVerifyCollateral(t *testing.T) {
	policy := writeTemp(t, "policy.json", []byte(`{"tdx_tcb_statuses":["UpToDate","OutOfDate"]}`))
	broken := t.TempDir()
	for _, f := range []string{"tcbinfo-tdx-00806f050000.json", "qeidentity-tdx.json", "tcb-signing-chain.pem", "pckcrl-platform.der", "rootcacrl.der"} {
		b, err := os.ReadFile(filepath.Join(collateralDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "qeidentity-tdx.json" {
			b = append(b, '}')
		}
		if err := os.WriteFile(filepath.Join(broken, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stream string
		want   []string
	}{
		{"out of date", []string{"--at", tdxAt, "--collateral", collateralDir}, 2, "stderr", []string{"tdx-tcb-status", "OutOfDate (platform OutOfDate, TDX module OutOfDate, QE UpToDate"}},
		{"policy accepts it", []string{"--at", tdxAt, "--collateral", collateralDir, "--policy", policy}, 0, "stdout",
			[]string{"tcb status             OutOfDate", "tcb date               2023-08-09T00:00:00Z (evaluation data 17)", "advisory ids           INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986"}},
		{"policy without collateral, offline", []string{"--at", tdxAt, "--policy", policy}, 1, "stderr", []string{"tdx-collateral", "not available", "give --collateral DIR"}},
		{"pck crl expired", []string{"--at", "2025-10-02T07:03:52Z", "--collateral", collateralDir}, 1, "stderr", []string{"tdx-collateral", "2025-10-02T07:03:51Z"}},
		{"missing directory", []string{"--at", tdxAt, "--collateral", filepath.Join(broken, "nope")}, 1, "stderr", []string{"--collateral"}},
		{"trailing data", []string{"--at", tdxAt, "--collateral", broken}, 1, "stderr", []string{"qeidentity-tdx.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append(tc.args, "--nonce", "challenge"), verifyTDXDir+"evidence-v1.json")
			code, out, errOut := verifyCLI(t, nil, args...)
			wantExit(t, code, tc.code, out, errOut)
			got := out
			if tc.stream == "stderr" {
				got = errOut
			}
			wantContains(t, tc.stream, got, tc.want...)
		})
	}
}

// TestTDXCollateralNextStep: Intel's collateral missing offline names
// Intel's sources as the next step, not the VCEK, IMDS or AMD KDS.
func TestTDXCollateralNextStep(t *testing.T) {
	policy := writeTemp(t, "policy.json", []byte(`{"tdx_tcb_statuses":["UpToDate"]}`))
	for _, args := range [][]string{{"--policy", policy}, {"--check-revocation"}} {
		code, out, errOut := verifyCLI(t, nil, append(args, "--at", tdxAt, "--nonce", "challenge", verifyTDXDir+"evidence-v1.json")...)
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, "stderr", errOut, "tdx-collateral", "Next: "+tdxCollateralHint)
		if strings.Contains(errOut, "VCEK") || strings.Contains(errOut, "AMD KDS") {
			t.Errorf("%v: the next step names AMD's sources:\n%s", args, errOut)
		}
		// Said once (newcomer29): the library's own hint and its two
		// sentinels repeated the next step and "offline" three times, to
		// a user who had not given --offline.
		if n := strings.Count(errOut, "give --collateral DIR"); n != 1 {
			t.Errorf("%v: the next step given %d times:\n%s", args, n, errOut)
		}
		if n := strings.Count(errOut, "offline"); n > 2 {
			t.Errorf("%v: \"offline\" said %d times:\n%s", args, n, errOut)
		}
	}
}
