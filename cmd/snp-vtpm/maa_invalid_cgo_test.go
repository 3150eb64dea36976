//go:build cgo

package main

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestPolicyInvalidMAAInstance: a policy whose maa_paravisor_instance is
// under .invalid is refused where the policy is loaded (exit 1, naming the
// member), so "attest --maa-attest", "attest --maa-token", "verify
// --maa-token" and "serve" never try to reach it: the one check of the
// policy (verify.ParsePolicy) covers every command that reads one.
// (attest opens its platform before the policy: --emulate, so cgo.)
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
