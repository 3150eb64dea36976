//go:build cgo

package main

import (
	"strings"
	"testing"
)

// TestReportTPMPersistedNotStated: report -p prints "tpm persisted not
// stated" for runtime data without a tpm-persisted member (trustee's real
// hcl-report.bin) and "off" for one that states false (the emulated TDX
// paravisor writes it, as real TDX hosts do); --json leaves the member out
// when absent and writes a stated false. Before, absent printed "off" and
// --json dropped a stated false.
func TestReportTPMPersistedNotStated(t *testing.T) {
	real := []string{"report", "--offline", "--at", realAt, "--vcek", "../../testdata/trustee-az-vtpm/az-snp-vtpm/vcek.pem", "-f", realHCL}
	code, out, errOut := runCLI(t, append(real, "-p")...)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "report -p", out, "tpm persisted          not stated (the runtime data has no tpm-persisted)")
	code, out, errOut = runCLI(t, append(real, "--json")...)
	wantExit(t, code, exitOK, out, errOut)
	if strings.Contains(out, "tpm-persisted") {
		t.Errorf("report --json states tpm-persisted the runtime data lacks:\n%s", out)
	}

	code, out, errOut = runCLI(t, "--emulate=tdx", "report", "-p")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "emulated TDX report -p", out, "tpm persisted          off\n")
	code, out, errOut = runCLI(t, "--emulate=tdx", "report", "--json")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "emulated TDX report --json", out, `"tpm-persisted": false`)
}
