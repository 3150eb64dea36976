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

// TestPolicyInvalidMAAInstance: a policy whose maa_paravisor_instance is
// under .invalid is refused where the policy is loaded (exit 1, naming the
// member), so "attest --maa-attest", "attest --maa-token", "verify
// --maa-token" and "serve" never try to reach it: the one check of the
// policy (verify.ParsePolicy) covers every command that reads one.
func TestPolicyInvalidMAAInstance(t *testing.T) {
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+maa.EmulatedIssuer+`"}`))
	token := writeTemp(t, "token.jwt", []byte("a.b.c"))
	secret := writeTemp(t, "secret", []byte(cliSecret))
	for name, args := range map[string][]string{
		"attest --maa-attest": {"--emulate", "attest", "--server", "http://127.0.0.1:1", "--policy", policy, "--maa-attest"},
		"attest --maa-token":  {"--emulate", "attest", "--server", "http://127.0.0.1:1", "--policy", policy, "--maa-token", token},
		"verify --maa-token":  {"verify", "--offline", "--no-nonce", "--policy", policy, "--maa-token", token, policy},
		"serve":               {"serve", "--offline", "--listen", "127.0.0.1:0", "--secret-file", secret, "--policy", policy},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, args...)
			wantExit(t, code, exitUsage, out, errOut)
			wantContains(t, "stderr", errOut, "--policy "+policy+": policy: maa_paravisor_instance: ", "a host under .invalid is the emulated MAA's")
		})
	}
}
