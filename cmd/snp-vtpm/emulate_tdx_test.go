//go:build cgo

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestEmulatedTDX: --emulate=tdx prints a verified TDX report (-p), and its
// evidence (TD quote under the fake Intel chain) verifies with
// --trust-emulated only: without it the PCK chain is rejected, since the
// pinned Intel root never trusts the fake one.
func TestEmulatedTDX(t *testing.T) {
	code, out, errOut := runCLI(t, "--emulate=tdx", "-p")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "-p", out, "VALID TDX REPORT (EMULATED CHAIN, NOT INTEL)", "platform               tdx", "tcb status             UpToDate", "emulated-hcl (the emulated CVM's fake MRTD)", emulatedBanner)

	code, ev, errOut := runCLI(t, "--emulate=tdx", "evidence", "--nonce", "00112233")
	wantExit(t, code, 0, ev, errOut)
	wantContains(t, "evidence stderr", errOut, "with TD quote")
	if !strings.Contains(ev, `"td_quote"`) {
		t.Fatalf("evidence lacks td_quote: %.300s", ev)
	}
	path := writeTemp(t, "tdx.json", []byte(ev))
	code, out, errOut = verifyCLI(t, nil, "--trust-emulated", "--nonce", "00112233", path)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "verify", out, "VERIFIED (EMULATED CHAIN, NOT INTEL)", "emulated TDX CVM's fake Intel root", "TCB status")
	code, out, errOut = verifyCLI(t, nil, "--nonce", "00112233", path)
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "verify without --trust-emulated", out+errOut, "tdx-pck-chain")

	code, out, errOut = runCLI(t, "--emulate=sgx", "-p")
	wantExit(t, code, exitUsage, out, errOut)
}

// TestVerifyTDXEmulatedHint (emu30): "verify" of the emulated TDX CVM's
// evidence without --trust-emulated warns, as for SEV-SNP, that the
// evidence is the emulated CVM's and which flag accepts it; real evidence
// rejected by its chain does not get the warning.
func TestVerifyTDXEmulatedHint(t *testing.T) {
	const hint = "this evidence comes from the emulated CVM"
	for _, platform := range []string{"snp", "tdx"} {
		f := filepath.Join(t.TempDir(), "ev.json")
		code, out, errOut := runCLI(t, "--emulate="+platform, "evidence", "--cache-dir", t.TempDir(), "--nonce", "n", "-o", f)
		wantExit(t, code, exitOK, out, errOut)
		code, out, errOut = verifyCLI(t, nil, "--nonce", "n", f)
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, platform+" stderr", errOut, hint, "--trust-emulated")
	}
	// Real TDX evidence whose PCK chain is expired at --at: a chain
	// rejection, not the emulated CVM's.
	code, out, errOut := verifyCLI(t, nil, "--at", "2099-01-01T00:00:00Z", "--nonce", "challenge", verifyTDXDir+"evidence-v1.json")
	wantExit(t, code, exitRejected, out, errOut)
	if strings.Contains(errOut, hint) || strings.Contains(errOut, "emulated") {
		t.Errorf("real evidence said emulated:\n%s", errOut)
	}
}
