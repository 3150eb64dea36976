package main

import (
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestMAAAttestInvalidInstance: "maa attest --instance" under the
// reserved .invalid TLD (the emulated MAA's issuer, or any other host
// there) is a usage error at once (exit 1), naming the emulated MAA and
// --emulate, as "maa verify --instance" refuses such a host
// (checkEmulatedInstance, TestMAAVerifyCLI). Before, the request went on:
// without a TPM the error was about the TPM; on a CVM the token request
// failed at DNS after its retries.
func TestMAAAttestInvalidInstance(t *testing.T) {
	for _, instance := range []string{maa.EmulatedIssuer, maa.EmulatedIssuer + "/", "https://x.invalid", "https://MAA.Example.INVALID."} {
		t.Run(instance, func(t *testing.T) {
			code, out, errOut := runCLI(t, "maa", "attest", "--tpm", "/nonexistent/tpm", "--instance", instance)
			wantExit(t, code, exitUsage, out, errOut)
			wantContains(t, "stderr", errOut, "error: --instance ", "never resolves", "the emulated MAA's ("+maa.EmulatedIssuer+")",
				`run "snp-vtpm --emulate maa attest" without --instance`)
		})
	}
	// A host that merely contains "invalid" is not under .invalid.
	code, out, errOut := runCLI(t, "maa", "attest", "--tpm", "/nonexistent/tpm", "--instance", "https://invalid.example")
	if code == exitOK || strings.Contains(errOut, "never resolves") {
		t.Errorf("https://invalid.example refused as under .invalid: exit %d\n%s%s", code, out, errOut)
	}
}
