package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestVerifyNoPCRValues: `verify` on real v0/v1/v2 evidence whose quote
// carries no PCR values (the "pcrs" member removed) exits 0 and says the
// PCR values are unknown, in the human and the --json output; a policy that
// pins a PCR then fails with pcr-policy (exit 2).
func TestVerifyNoPCRValues(t *testing.T) {
	cases := []struct {
		name, file string
		nonce      []string
	}{
		{"v0", "evidence-v0.json", []string{"--nonce", "challenge"}},
		{"v1", "evidence-v1.json", []string{"--nonce", "challenge"}},
		{"v2", "evidence-v2.json", []string{"--nonce-hex", quoteNonceHex(t, "evidence-v2.json")}},
	}
	policy := writeTemp(t, "policy.json", []byte(`{"pcrs":{"7":"`+strings.Repeat("00", 32)+`"}}`))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := writeTemp(t, tc.file, testutil.DropPCRs(t, testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/"+tc.file)))
			args := append(append([]string{"--at", verifyAt}, tc.nonce...), file)
			code, out, errOut := verifyCLI(t, nil, args...)
			wantExit(t, code, 0, out, errOut)
			if !strings.Contains(out, "UNKNOWN: the evidence carries no PCR values (quote digest ") || strings.Contains(out, "pcr 0 ") {
				t.Errorf("human output does not say the PCR values are unknown:\n%s", out)
			}

			code, out, errOut = verifyCLI(t, nil, append([]string{"--json"}, args...)...)
			wantExit(t, code, 0, out, errOut)
			var claims map[string]json.RawMessage
			if err := json.Unmarshal([]byte(out), &claims); err != nil {
				t.Fatalf("--json output: %v\n%s", err, out)
			}
			if _, ok := claims["pcrs"]; ok || string(claims["pcr_values"]) != `"absent"` || len(claims["pcr_digest"]) != 66 || len(claims["pcr_selection"]) == 0 {
				t.Errorf("--json: pcrs present %v, pcr_values %s, pcr_digest %s, pcr_selection %s", ok, claims["pcr_values"], claims["pcr_digest"], claims["pcr_selection"])
			}

			code, out, errOut = verifyCLI(t, nil, append([]string{"--policy", policy}, args...)...)
			wantExit(t, code, 2, out, errOut)
			if !strings.Contains(errOut, "pcr-policy") || !strings.Contains(errOut, "carries no PCR values") {
				t.Errorf("stderr does not name pcr-policy and the cause:\n%s", errOut)
			}
		})
	}
	// The full document prints its PCR values and no UNKNOWN line.
	code, out, errOut := verifyCLI(t, nil, "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, 0, out, errOut)
	if strings.Contains(out, "UNKNOWN") || !strings.Contains(out, "pcr 23 ") {
		t.Errorf("full evidence output:\n%s", out)
	}
}
