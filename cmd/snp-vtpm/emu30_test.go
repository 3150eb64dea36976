//go:build cgo

package main

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestEmulatedArtefactsRejectedInRealMode (emu30): every artefact an
// emulated run writes (SEV-SNP and TDX evidence of "--emulate evidence",
// the HCL report, VCEK and TD quote inside them, the fake MAA's token of
// "--emulate maa attest", the result token of "serve --trust-emulated
// --signing-key" for "--emulate attest"), all made with one --cache-dir,
// is rejected (exit 2) by the real-mode command that reads it (same
// --cache-dir, no --trust-emulated), with a check and text that say
// emulated or name the untrusted chain, also as a --json rejection. Real
// evidence then still verifies from that cache dir, as real. Before, the
// TDX evidence's rejection said only that the root is not Intel's: the
// CLI's emulated hint looked for the fake chain's marker in the quote's
// PEM (base64) chain and never found it.
func TestEmulatedArtefactsRejectedInRealMode(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	const nonce = "emu30-nonce"
	for _, args := range [][]string{
		{"--emulate", "evidence", "--cache-dir", cache, "--nonce", nonce, "-o", path("snp.json")},
		{"--emulate=tdx", "evidence", "--cache-dir", cache, "--nonce", nonce, "-o", path("tdx.json")},
		{"--emulate", "maa", "attest", "--cache-dir", cache, "--nonce", nonce, "-o", path("maa.jwt")},
	} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, exitOK, out, errOut)
		wantContains(t, "stderr", errOut, emulatedBanner)
	}
	snpEv, tdxEv := readEvidence(t, path("snp.json")), readEvidence(t, path("tdx.json"))
	hclFile, vcekFile := writeTemp(t, "hcl.bin", snpEv.HCLReport), writeTemp(t, "vcek.der", snpEv.VCEK)
	quoteFile := writeTemp(t, "td-quote.bin", tdxEv.TDQuote)

	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--signing-key", path("sign.pem"), "--dev", "--trust-emulated", "--cache-dir", cache, "--offline")
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--cache-dir", cache, "--token-out", path("result.jwt"))
	wantExit(t, code, exitOK, out, errOut)

	withCache := func(args ...string) []string {
		return append([]string{args[0], "--cache-dir", cache}, args[1:]...)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		check string
		says  string // in the rejection's text
	}{
		{"SEV-SNP evidence", withCache("verify", "--nonce", nonce, path("snp.json")), "vcek-chain", "emulated CVM's fake chain"},
		{"SEV-SNP evidence, offline", withCache("verify", "--offline", "--nonce", nonce, path("snp.json")), "vcek-chain", "emulated CVM's fake chain"},
		{"TDX evidence", withCache("verify", "--nonce", nonce, path("tdx.json")), "tdx-pck-chain", "emulated CVM's fake chain"},
		{"HCL report and VCEK", withCache("report", "--offline", "-f", hclFile, "--vcek", vcekFile), "vcek-chain", "emulated CVM's fake chain"},
		{"TD quote", withCache("report", "--offline", "--td-quote", quoteFile), "tdx-pck-chain", "emulated CVM's fake chain"},
		{"MAA token", []string{"maa", "verify", "--jwks", writeTemp(t, "jwks.json", maa.EmulatedJWKS()), "--issuer", maa.EmulatedIssuer, path("maa.jwt")}, "maa-key", "EMULATED MAA"},
		{"MAA token bound to SEV-SNP evidence", withCache("maa", "verify", "--offline", "--nonce", nonce, "--evidence", path("snp.json"), "--jwks", writeTemp(t, "jwks.json", maa.EmulatedJWKS()), "--issuer", maa.EmulatedIssuer, path("maa.jwt")), "vcek-chain", "emulated CVM's fake chain"},
		{"result token", []string{"result", "verify", "--jwks", s.url + "/.well-known/jwks.json", path("result.jwt")}, "result-status", "emulated evidence"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitRejected, out, errOut)
			wantContains(t, "stderr", errOut, "REJECTED: "+tc.check, tc.says)
			if strings.Contains(out, "VERIFIED") || strings.Contains(out, "VALID") {
				t.Errorf("stdout says verified:\n%s", out)
			}
			code, out, errOut = runCLI(t, append(tc.args[:len(tc.args):len(tc.args)], "--json")...)
			wantExit(t, code, exitRejected, out, errOut)
			var doc struct {
				Verified *bool  `json:"verified"`
				Check    string `json:"check"`
				Error    string `json:"error"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Verified == nil || *doc.Verified || doc.Check != tc.check || !strings.Contains(doc.Error, tc.says) {
				t.Errorf("--json rejection (%v):\n%s", err, out)
			}
		})
	}
	// The real evidence still verifies from the cache dir the emulated
	// runs used, as real.
	code, out, errOut = runCLI(t, "verify", "--cache-dir", cache, "--offline", "--at", verifyAt, "--nonce", "challenge", "--json", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "real evidence", out, `"emulated": false`, `"pinned_roots": true`)
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

// TestEmulatedRevocationAsksNotAMD (emu30): with --check-revocation, the
// emulated CVM's evidence (--trust-emulated) is not checked against AMD's
// CRLs: no CRL is asked of KDS and, offline, nothing is missing (exit 0,
// emulated). Before, AMD's CRLs were fetched (offline: exit 1, "no current
// CRL") to vouch for the fake ASK and VCEK. Real evidence still needs them.
func TestEmulatedRevocationAsksNotAMD(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ev.json")
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--cache-dir", t.TempDir(), "--nonce", "n", "-o", f)
	wantExit(t, code, exitOK, out, errOut)
	var asked atomic.Int32
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer kds.Close()
	for _, where := range [][]string{{"--offline"}, {"--kds-url", kds.URL}} {
		code, out, errOut = verifyCLI(t, nil, append(where, "--trust-emulated", "--check-revocation", "--json", "--nonce", "n", f)...)
		wantExit(t, code, exitOK, out, errOut)
		wantContains(t, "stdout", out, `"emulated": true`)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("KDS asked %d times for the emulated evidence", n)
	}
	code, out, errOut = verifyCLI(t, nil, "--check-revocation", "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "real evidence, offline", errOut, "CRL")
}

// TestServeTrustEmulatedLog (emu30): serve --trust-emulated says at start
// that it trusts both fake chains, AMD's and Intel's (it named AMD's only,
// while emulated TDX evidence was accepted too), with a field a log
// search finds; each release to an emulated CVM, SEV-SNP or TDX, logs
// emulated=true.
func TestServeTrustEmulatedLog(t *testing.T) {
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline")
	for _, platform := range []string{"snp", "tdx"} {
		code, out, errOut := runCLI(t, "--emulate="+platform, "attest", "--server", s.url)
		wantExit(t, code, exitOK, out, errOut)
	}
	s.stop()
	logs := s.stderr.String()
	wantContains(t, "serve log", logs, "fake AMD and Intel chains (--trust-emulated)", "trust_emulated=true")
	if n := strings.Count(logs, " emulated=true"); n < 2 {
		t.Errorf("%d release lines say emulated=true, want 2:\n%s", n, logs)
	}
}

// TestRealModeFlagsTrustNoFakeRoot (emu30): the flags of a real-mode
// verifier that do not say emulated cannot make it trust the emulated
// CVMs' fake roots: --roots with the fake AMD chain, a policy listing the
// emulated paravisor's ID key digest or MRTD (exit 1, naming emulated),
// --collateral with the fake Intel collateral (unusable for a real TD
// quote: exit 1, tdx-collateral; with the emulated TD quote the chain
// rejects it first: exit 2).
func TestRealModeFlagsTrustNoFakeRoot(t *testing.T) {
	idKey, mrtd := fakeamd.IDKeyDigest(), fakeintel.MRTD()
	fakeColl := "../../emulator/fakeintel/collateral"
	emuTDX := filepath.Join(t.TempDir(), "tdx.json")
	code, out, errOut := runCLI(t, "--emulate=tdx", "evidence", "--cache-dir", t.TempDir(), "--nonce", "n", "-o", emuTDX)
	wantExit(t, code, exitOK, out, errOut)
	realSNP := []string{"--at", verifyAt, "--nonce", "challenge", verifySNPDir + "evidence-v1.json"}
	realTDX := []string{"--at", verifyAt, "--nonce", "challenge", verifyTDXDir + "evidence-v1.json"}
	for _, tc := range []struct {
		name string
		args []string
		exit int
		says []string
	}{
		{"--roots the fake AMD chain", append([]string{"--roots", writeTemp(t, "roots.pem", fakeamd.ChainPEM())}, realSNP...), exitUsage, []string{"emulated CVM's fake AMD chain", "--trust-emulated"}},
		{"policy id_key_digests", append([]string{"--policy", writeTemp(t, "p.json", []byte(`{"id_key_digests":["`+hex.EncodeToString(idKey[:])+`"]}`))}, realSNP...), exitUsage, []string{"id_key_digests", "emulated"}},
		{"policy tdx_mr_tds", append([]string{"--policy", writeTemp(t, "p.json", []byte(`{"tdx_mr_tds":["`+hex.EncodeToString(mrtd[:])+`"]}`))}, realTDX...), exitUsage, []string{"tdx_mr_tds", "emulated"}},
		{"--collateral fake, real TDX evidence", append([]string{"--collateral", fakeColl}, realTDX...), exitUsage, []string{"tdx-collateral", "not the pinned Intel SGX Root CA"}},
		{"--collateral fake, emulated TDX evidence", []string{"--collateral", fakeColl, "--nonce", "n", emuTDX}, exitRejected, []string{"tdx-pck-chain", "emulated CVM's fake chain"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := verifyCLI(t, nil, tc.args...)
			wantExit(t, code, tc.exit, out, errOut)
			wantContains(t, "stderr", errOut, tc.says...)
			if strings.Contains(out, "VERIFIED") {
				t.Errorf("stdout:\n%s", out)
			}
		})
	}
}
