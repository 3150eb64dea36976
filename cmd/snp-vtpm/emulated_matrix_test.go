package main

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
)

// TestTrustEmulatedMatrix: --trust-emulated judges real evidence as real
// (SEV-SNP and TDX fixtures, evidence and a stored TD quote: not
// emulated, pinned roots, no EMULATED in the output), and what was made
// with the emulated CVMs' public keys (SEV-SNP evidence, a TD quote) as
// emulated, in --json ("emulated": true, not pinned) and in the human
// output (the banner and the title); without --trust-emulated the latter
// is rejected (exit 2) by the chain check.
func TestTrustEmulatedMatrix(t *testing.T) {
	emuEv := testev.Emulated(testev.Builder{}).MustBuild()
	emuFile := writeTemp(t, "emulated.json", emuEv.JSON)
	body, err := fakeintel.DefaultBody([64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	q, err := fakekeys.Quote(body)
	if err != nil {
		t.Fatal(err)
	}
	emuQuote := writeTemp(t, "emulated-td-quote.bin", q.Marshal())
	realQuote := "../../testdata/trustee-az-vtpm/az-tdx-vtpm/td-quote.bin"
	const emuAt = "2030-01-01T00:00:00Z" // within the fake chains' 2025..2045
	verifyCmd := func(at string, rest ...string) []string {
		return append([]string{"verify", "--offline", "--cache-dir", t.TempDir(), "--at", at}, rest...)
	}
	reportCmd := func(at, quote string) []string {
		return []string{"report", "--offline", "--cache-dir", t.TempDir(), "--at", at, "--td-quote", quote}
	}
	for _, tc := range []struct {
		name     string
		args     []string
		emulated bool
		check    string // without --trust-emulated ("": verified as well)
		title    string // of the human output with --trust-emulated
	}{
		{"real SEV-SNP evidence", verifyCmd(verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json"), false, "", "VERIFIED: evidence v1"},
		{"real TDX evidence", verifyCmd(verifyAt, "--nonce", "challenge", verifyTDXDir+"evidence-v1.json"), false, "", "VERIFIED: evidence v1"},
		{"real TD quote", reportCmd(verifyAt, realQuote), false, "", "VALID TDX REPORT (TD quote verified)"},
		{"emulated SEV-SNP evidence", verifyCmd(emuAt, "--nonce-hex", hex.EncodeToString(emuEv.Nonce), emuFile), true, "vcek-chain", "VERIFIED (EMULATED CHAIN, NOT AMD)"},
		{"emulated TD quote", reportCmd(emuAt, emuQuote), true, "tdx-pck-chain", "VALID TDX REPORT (EMULATED CHAIN, NOT INTEL)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted := append(append([]string{}, tc.args[:1]...), append([]string{"--trust-emulated"}, tc.args[1:]...)...)
			code, out, errOut := runCLI(t, append(trusted, "--json")...)
			wantExit(t, code, exitOK, out, errOut)
			var doc struct {
				Verified bool  `json:"verified"`
				Emulated *bool `json:"emulated"`
				Pinned   bool  `json:"pinned_roots"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Verified || doc.Emulated == nil || *doc.Emulated != tc.emulated || doc.Pinned == tc.emulated {
				t.Errorf("--json: emulated %v pinned %v (%v), want emulated %v\n%s", doc.Emulated, doc.Pinned, err, tc.emulated, out)
			}
			code, out, errOut = runCLI(t, trusted...)
			wantExit(t, code, exitOK, out, errOut)
			if !strings.Contains(out, tc.title) || strings.Contains(out, emulatedBanner) != tc.emulated || (!tc.emulated && strings.Contains(out, "EMULATED")) {
				t.Errorf("human output (want %q, banner %v):\n%s", tc.title, tc.emulated, out)
			}
			code, out, errOut = runCLI(t, tc.args...)
			if tc.check == "" {
				wantExit(t, code, exitOK, out, errOut)
				return
			}
			wantExit(t, code, exitRejected, out, errOut)
			wantContains(t, "stderr", errOut, "REJECTED: "+tc.check)
		})
	}
}
