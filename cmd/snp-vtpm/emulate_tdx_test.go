//go:build cgo

package main

import (
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
