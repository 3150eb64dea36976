//go:build cgo

package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestMAAAttestEmulatedCLI runs "--emulate maa attest" with the built
// binary against the fake MAA, then "maa verify": the token verifies and
// binds to the evidence with --trust-emulated, and is rejected without it
// (even when the emulated key is handed over as a JWKS).
func TestMAAAttestEmulatedCLI(t *testing.T) {
	tok, ev := emulatedMAAAttest(t, "--emulate", "cli-maa")
	code, out, errOut := runBin(t, nil, "maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-maa", "--evidence", ev, tok)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, emulatedBanner, "VERIFIED (EMULATED MAA", "https://emulated-maa.snp-vtpm.invalid", "REPORT_DATA")

	jwks := writeTemp(t, "emulated-jwks.json", emulatedJWKS())
	for _, args := range [][]string{
		{"maa", "verify", "--jwks", jwks, "--issuer", "https://emulated-maa.snp-vtpm.invalid", tok},
		{"maa", "verify", "--jwks", jwks, "--issuer", "https://sharedeus2.eus2.attest.azure.net", tok},
		{"maa", "verify", tok}, // no key source: rejected as emulated, not a usage error
	} {
		code, out, errOut = runBin(t, nil, args...)
		wantExit(t, code, 2, out, errOut)
		wantContains(t, "stderr", errOut, "EMULATED MAA")
	}
}

// TestMAAAttestEmulatedTDXCLI runs "--emulate=tdx maa attest": the fake
// MAA verifies the TD quote under the fake Intel chain and mints a tdxvm
// token that "maa verify --evidence" binds to the TDX evidence (human and
// JSON output); the tdxvm token against SEV-SNP evidence, and a sevsnpvm
// token against the TDX evidence, are rejected with the platform named.
func TestMAAAttestEmulatedTDXCLI(t *testing.T) {
	tok, ev := emulatedMAAAttest(t, "--emulate=tdx", "cli-tdx")
	verifyArgs := []string{"maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-tdx", "--evidence", ev, tok}
	code, out, errOut := runBin(t, nil, verifyArgs...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, emulatedBanner, "VERIFIED (EMULATED MAA", "tdxvm, azure-compliant-cvm", "TD REPORTDATA, MRTD = --evidence", "mrtd")
	code, out, errOut = runBin(t, nil, append(verifyArgs, "--json")...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, `"platform": "tdxvm"`, `"emulated": true`, `"bound_to_evidence": true`, `"tdx_mrtd"`, `"tdx_report_data"`)

	snpTok, snpEv := emulatedMAAAttest(t, "--emulate", "cli-tdx")
	for _, c := range []struct{ token, evidence, says string }{
		{tok, snpEv, `attests a "tdxvm" isolation TEE, our evidence is sev-snp`},
		{snpTok, ev, `attests a "sevsnpvm" isolation TEE, our evidence is tdx`},
	} {
		code, out, errOut = runBin(t, nil, "maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-tdx", "--evidence", c.evidence, c.token)
		wantExit(t, code, 2, out, errOut)
		wantContains(t, "stderr", errOut, "maa-binding", c.says)
	}
}

// TestMAAAttestTokenChecks: "maa attest" verifies the token it gets with
// --audience and --max-lifetime: the emulated MAA's token (no aud, valid
// 8 h) passes with the defaults (emulatedMAAAttest) and is rejected (exit
// 2, named check, nothing written) when an audience is required or the
// bound is under 8 h; a bound that is not positive is a usage error.
func TestMAAAttestTokenChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"--max-lifetime 1h", []string{"--max-lifetime", "1h"}, 2, []string{"REJECTED: the token MAA issued does not verify here: maa-lifetime", "longer than the 1h0m0s allowed"}},
		{"--audience", []string{"--audience", "https://rp.example"}, 2, []string{"maa-audience", "names no aud"}},
		{"--max-lifetime 0", []string{"--max-lifetime", "0"}, 1, []string{"--max-lifetime 0s: want a positive duration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := filepath.Join(t.TempDir(), "token.jwt")
			code, out, errOut := runBin(t, nil, append([]string{"--emulate", "maa", "attest", "--nonce", "n", "-o", token}, tc.args...)...)
			wantExit(t, code, tc.code, out, errOut)
			wantContains(t, "stderr", errOut, tc.wants...)
			if _, err := os.Stat(token); err == nil {
				t.Errorf("a rejected token was written to %s", token)
			}
		})
	}
}

// emulatedMAAAttest runs "emulate maa attest --nonce nonce" (emulate:
// --emulate or --emulate=tdx) with the built binary, requires it to say
// that the emulated token verified and bound to the evidence, and returns
// the files it wrote the token and the evidence to.
func emulatedMAAAttest(t *testing.T, emulate, nonce string) (token, evidence string) {
	t.Helper()
	dir := t.TempDir()
	token, evidence = filepath.Join(dir, "token.jwt"), filepath.Join(dir, "evidence.json")
	code, out, errOut := runBin(t, nil, emulate, "maa", "attest", "--nonce", nonce, "-o", token, "--evidence-out", evidence)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stderr", errOut, "EMULATED MAA token", "verified and bound to our evidence")
	return token, evidence
}

func emulatedJWKS() []byte { return maa.EmulatedJWKS() }

// TestMAAAttestEmulatedOtherInstance: with a policy naming an
// maa_paravisor_instance (and trusting only another paravisor ID key),
// "--emulate maa attest" asks the fake MAA on loopback, which the policy
// does not name: the evidence is checked in full first, as before (the
// emulated paravisor is trusted with the emulated chain), and the token is
// written.
func TestMAAAttestEmulatedOtherInstance(t *testing.T) {
	azure := testev.AzureIDKeyDigest()
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`", "id_key_digests": ["`+hex.EncodeToString(azure[:])+`"]}`))
	token := filepath.Join(t.TempDir(), "token.jwt")
	code, out, errOut := runBin(t, nil, "--emulate", "maa", "attest", "--nonce", "n", "--policy", policy, "-o", token)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stderr", errOut, "EMULATED MAA token", "verified and bound to our evidence")
	if _, err := os.Stat(token); err != nil {
		t.Fatal(err)
	}
}
