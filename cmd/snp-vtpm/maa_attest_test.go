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

func emulatedJWKS() []byte { return maa.EmulatedJWKS() }
