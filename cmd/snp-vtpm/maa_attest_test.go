//go:build cgo

package main

import (
	"path/filepath"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestMAAAttestEmulatedCLI runs "--emulate maa attest" with the built
// binary against the fake MAA, then "maa verify": the token verifies and
// binds to the evidence with --trust-emulated, and is rejected without it
// (even when the emulated key is handed over as a JWKS).
func TestMAAAttestEmulatedCLI(t *testing.T) {
	dir := t.TempDir()
	tok, ev := filepath.Join(dir, "token.jwt"), filepath.Join(dir, "evidence.json")
	code, out, errOut := runBin(t, nil, "--emulate", "maa", "attest", "--nonce", "cli-maa", "-o", tok, "--evidence-out", ev)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stderr", errOut, "EMULATED MAA token", "verified and bound to our evidence")

	code, out, errOut = runBin(t, nil, "maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-maa", "--evidence", ev, tok)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, "VERIFIED", "https://emulated-maa.snp-vtpm.invalid", "REPORT_DATA")

	jwks := writeTemp(t, "emulated-jwks.json", emulatedJWKS())
	for _, args := range [][]string{
		{"maa", "verify", "--jwks", jwks, "--issuer", "https://emulated-maa.snp-vtpm.invalid", tok},
		{"maa", "verify", "--jwks", jwks, "--issuer", "https://sharedeus2.eus2.attest.azure.net", tok},
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
	dir := t.TempDir()
	tok, ev := filepath.Join(dir, "tdx.jwt"), filepath.Join(dir, "tdx-evidence.json")
	code, out, errOut := runBin(t, nil, "--emulate=tdx", "maa", "attest", "--nonce", "cli-tdx", "-o", tok, "--evidence-out", ev)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stderr", errOut, "EMULATED MAA token", "verified and bound to our evidence")

	verifyArgs := []string{"maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-tdx", "--evidence", ev, tok}
	code, out, errOut = runBin(t, nil, verifyArgs...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, "VERIFIED", "tdxvm, azure-compliant-cvm", "TD REPORTDATA, MRTD = --evidence", "mrtd")
	code, out, errOut = runBin(t, nil, append(verifyArgs, "--json")...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, `"platform": "tdxvm"`, `"bound_to_evidence": true`, `"tdx_mrtd"`, `"tdx_report_data"`)

	snpTok, snpEv := filepath.Join(dir, "snp.jwt"), filepath.Join(dir, "snp-evidence.json")
	code, out, errOut = runBin(t, nil, "--emulate", "maa", "attest", "--nonce", "cli-tdx", "-o", snpTok, "--evidence-out", snpEv)
	wantExit(t, code, 0, out, errOut)
	for _, c := range []struct{ token, evidence, says string }{
		{tok, snpEv, `attests a "tdxvm" isolation TEE, our evidence is sev-snp`},
		{snpTok, ev, `attests a "sevsnpvm" isolation TEE, our evidence is tdx`},
	} {
		code, out, errOut = runBin(t, nil, "maa", "verify", "--trust-emulated", "--offline", "--nonce", "cli-tdx", "--evidence", c.evidence, c.token)
		wantExit(t, code, 2, out, errOut)
		wantContains(t, "stderr", errOut, "maa-binding", c.says)
	}
}

func emulatedJWKS() []byte { return maa.EmulatedJWKS() }
