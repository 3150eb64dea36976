package main

import (
	"strings"
	"testing"
)

// TestVerifyTDX: the CLI verifies trustee's Azure TDX evidence v0 and v1
// and prints the TDX claims; an MRTD outside the policy's list, a
// tampered TD quote and an expired PCK chain are exit 2 naming the check.
func TestVerifyTDX(t *testing.T) {
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json"} {
		code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", verifyTDXDir+f)
		wantExit(t, code, 0, out, errOut)
		wantContains(t, "stdout", out, "VERIFIED: evidence", "platform               tdx", "mr td                  024a32b0",
			"fmspc                  00806f050000", "tcb status             not-evaluated", "TDREPORT       equals the TD quote body",
			"QE report      Intel's TD quoting enclave, signed by the PCK", "TD quote       signed by the attestation key the QE report binds")
	}
	policy := writeTemp(t, "policy.json", []byte(`{"tdx_mr_tds":["`+strings.Repeat("ab", 48)+`"]}`))
	tests := []struct {
		name  string
		args  []string
		check string
	}{
		{"MRTD not in tdx_mr_tds", []string{"--at", verifyAt, "--policy", policy}, "paravisor-identity"},
		{"PCK chain expired", []string{"--at", "2031-01-01T00:00:00Z"}, "tdx-pck-chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append(tt.args, "--nonce", "challenge"), verifyTDXDir+"evidence-v1.json")
			code, out, errOut := verifyCLI(t, nil, args...)
			wantExit(t, code, 2, out, errOut)
			wantContains(t, "stderr", errOut, tt.check)
		})
	}
}

// TestVerifyRealFlashbotsAzureTDX: real Azure TDX CVMs' evidence of
// 2025-12 and 2026-06 (testdata/flashbots-azure-tdx) verifies by default, with the
// VM identity bound though its runtime data names vmUniqueId in lower
// case (require_vm_identity too), and with Intel's collateral of its
// FMSPC its TCB is UpToDate. Their paravisors' MRTDs were not trusted:
// "paravisor-identity ... MRTD 12bdbc16... is not a trusted paravisor's".
func TestVerifyRealFlashbotsAzureTDX(t *testing.T) {
	const dir = "../../testdata/flashbots-azure-tdx/"
	zero := strings.Repeat("00", 32)
	policy := writeTemp(t, "policy.json", []byte(`{"require_vm_identity": true}`))
	for _, ts := range []string{"1764620247", "1764662251"} {
		code, out, errOut := verifyCLI(t, nil, "--at", "2025-12-02T12:00:00Z", "--nonce-hex", zero, "--policy", policy, dir+"evidence-"+ts+".json")
		wantExit(t, code, 0, out, errOut)
		wantContains(t, ts, out, "VERIFIED: evidence v1", "paravisor              azure-hcl", "mr td                  12bdbc16",
			"fmspc                  90c06f000000", "vm unique id           bdd43904-dbf8-4337-8b91-3adba92c5ebd", "VM identity    PCR 6 measures the runtime data's vmUniqueId               ok")
		code, out, errOut = verifyCLI(t, nil, "--at", "2026-03-01T00:00:00Z", "--nonce-hex", zero, "--collateral", "../../testdata/intel-collateral/pcs-90c06f000000", dir+"evidence-"+ts+".json")
		wantExit(t, code, 0, out, errOut)
		wantContains(t, ts+" with collateral", out, "tcb status             UpToDate")
	}
	// Another Azure TDX CVM, of 2026-06 (flashbots/attested-tls), with
	// Intel's collateral of that day.
	code, out, errOut := verifyCLI(t, nil, "--at", "2026-06-08T13:00:00Z", "--nonce-hex", zero, "--policy", policy,
		"--collateral", "../../testdata/intel-collateral/pcs-90c06f000000-2026-06", dir+"evidence-1780922561.json")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "1780922561", out, "paravisor              azure-hcl", "mr td                  ff450b13", "tcb status             UpToDate",
		"vm unique id           3c18c97a-0d2a-4565-969d-166cdcef26a3", "VM identity    PCR 6 measures the runtime data's vmUniqueId               ok")
}
