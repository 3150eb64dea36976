//go:build cgo

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// These tests run the CLI against the emulated CVM (cgo). Every --emulate
// run starts and stops the process-wide TPM simulator, so none of them runs
// in parallel.

func TestEmulatedPrint(t *testing.T) {
	for _, args := range [][]string{{"--emulate", "-p"}, {"--emulate", "report", "-p"}} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, 0, out, errOut)
		if !strings.Contains(errOut, emulatedBanner) {
			t.Errorf("%v: stderr lacks the emulated banner:\n%s", args, errOut)
		}
		if strings.Count(out, emulatedBanner) != 2 {
			t.Errorf("%v: stdout does not open and close with the emulated banner:\n%s", args, out)
		}
		for _, want := range []string{"VALID SNP REPORT (EMULATED CHAIN, NOT AMD)", "vm unique id", "key HCLAkPub", "Azure IMDS", "current tcb", "emulated-hcl", "boot event log         not replayed: a report carries no quote"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestEmulatedSummaryClosesWithBanner: the summary (report without -p) of
// the emulated CVM ends with the emulated banner, as -p does; its note
// "a report alone proves no freshness" came after the closing banner.
func TestEmulatedSummaryClosesWithBanner(t *testing.T) {
	code, out, errOut := runCLI(t, "--emulate", "report")
	wantExit(t, code, 0, out, errOut)
	if !strings.HasPrefix(out, emulatedBanner+"\n") || !strings.HasSuffix(out, emulatedBanner+"\n") || strings.Count(out, emulatedBanner) != 2 {
		t.Errorf("the summary is not framed by the emulated banner:\n%s", out)
	}
	wantContains(t, "summary", out, "VALID SNP REPORT (EMULATED CHAIN, NOT AMD)", "\n  (a report alone proves no freshness; -p prints every field)\n")
}

func TestEmulatedReportJSONAndUserData(t *testing.T) {
	var got struct {
		Emulated bool   `json:"emulated"`
		UserData string `json:"user_data"`
		Source   string `json:"source"`
	}
	out := cliJSON(t, 0, &got, "--emulate", "report", "--json", "--user-data", "c0ffee")
	if !got.Emulated {
		t.Fatalf("JSON output lacks \"emulated\": true:\n%s", out)
	}
	if got.UserData != "c0ffee"+strings.Repeat("00", 61) {
		t.Fatalf("user data %q", got.UserData)
	}
	if !strings.Contains(got.Source, "refreshed") {
		t.Fatalf("source %q does not say the report was refreshed", got.Source)
	}
}

func TestEmulatedEvidenceThenVerify(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "evidence.json")
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--nonce", "x", "--fresh", "-o", f)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(errOut, "EMULATED evidence version 2") {
		t.Fatalf("stderr does not say what was written:\n%s", errOut)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.Decode(data)
	if err != nil || ev.Version != 2 || ev.VCEK == nil {
		t.Fatalf("written evidence: %+v, %v", ev, err)
	}
	if !bytes.Contains(data, []byte(`"emulated":true`)) {
		t.Fatalf("evidence is not marked emulated")
	}

	code, out, errOut = runCLI(t, "verify", "--trust-emulated", "--nonce", "x", f)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "VERIFIED (EMULATED CHAIN, NOT AMD): evidence v2") || !strings.Contains(out, emulatedBanner) ||
		!strings.Contains(out, "emulated-hcl") {
		t.Fatalf("verify output:\n%s", out)
	}

	code, out, errOut = runCLI(t, "verify", "--nonce", "x", f)
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "vcek-chain") || !strings.Contains(errOut, "--trust-emulated accepts it") {
		t.Fatalf("stderr does not name vcek-chain and explain the emulated chain:\n%s", errOut)
	}

	code, out, errOut = runCLI(t, "verify", "--trust-emulated", "--nonce", "y", f)
	wantExit(t, code, exitRejected, out, errOut)
	if !strings.Contains(errOut, "quote-nonce") {
		t.Fatalf("stderr does not name quote-nonce:\n%s", errOut)
	}
}

func TestEmulatedEvidenceLongNonceStdout(t *testing.T) {
	nonce := strings.Repeat("ab", 100) // 100 bytes
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--nonce-hex", nonce)
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(errOut, "100 bytes") || !strings.Contains(errOut, "version 1") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	f := filepath.Join(t.TempDir(), "ev.json")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	var claims struct {
		EvidenceVersion int    `json:"evidence_version"`
		Nonce           string `json:"nonce"`
		Emulated        bool   `json:"emulated"`
		Paravisor       string `json:"paravisor"`
	}
	cliJSON(t, 0, &claims, "verify", "--trust-emulated", "--nonce-hex", nonce, "--json", f)
	raw, _ := hex.DecodeString(nonce)
	if claims.EvidenceVersion != 1 || !claims.Emulated || claims.Paravisor != "emulated-hcl" || claims.Nonce != hex.EncodeToString(quote.ExpectedExtraData(raw)) {
		t.Fatalf("claims %+v", claims)
	}
}

func TestEmulatedQuote(t *testing.T) {
	var got struct {
		Emulated  bool   `json:"emulated"`
		Verified  bool   `json:"verified"`
		ExtraData string `json:"extra_data"`
		Selection []struct {
			Hash string `json:"hash"`
			PCRs []int  `json:"pcrs"`
		} `json:"selection"`
	}
	out := cliJSON(t, 0, &got, "--emulate", "quote", "--nonce", "hello", "--json")
	if !got.Emulated || !got.Verified || got.ExtraData != hex.EncodeToString([]byte("hello")) {
		t.Fatalf("quote JSON: %+v", got)
	}
	if len(got.Selection) != 1 || got.Selection[0].Hash != "sha256" || len(got.Selection[0].PCRs) != 24 {
		t.Fatalf("selection %+v", got.Selection)
	}
	// The output reads back as a Confidential Containers TPM quote.
	q, err := evidence.DecodeQuoteJSON([]byte(out))
	if err != nil || len(q.PCRs) != 24 {
		t.Fatalf("DecodeQuoteJSON: %v", err)
	}

	code, out, errOut := runCLI(t, "--emulate", "quote", "--nonce", "hello")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "quote output", out, emulatedBanner, "TPM QUOTE (verified", "extra data             68656c6c6f", "signature", "pcr 23")
}

// TestSeparateProcesses builds the binary and runs evidence and verify in
// separate processes: the emulated CVM's identity is stable across processes.
func TestSeparateProcesses(t *testing.T) {
	dir := t.TempDir()
	akOf := func(f string) string {
		code, out, errOut := runBin(t, nil, "verify", "--trust-emulated", "--nonce", "cross-process", "--json", f)
		wantExit(t, code, 0, out, errOut)
		var c struct {
			AK string `json:"ak_public"`
		}
		if err := json.Unmarshal([]byte(out), &c); err != nil || c.AK == "" {
			t.Fatalf("verify --json: %v\n%s", err, out)
		}
		return c.AK
	}
	var aks []string
	for i := range 2 {
		f := filepath.Join(dir, "evidence"+string(rune('a'+i))+".json")
		code, out, errOut := runBin(t, nil, "--emulate", "evidence", "--nonce", "cross-process", "--fresh", "-o", f)
		wantExit(t, code, 0, out, errOut)
		aks = append(aks, akOf(f))
		code, out, errOut = runBin(t, nil, "verify", "--nonce", "cross-process", f)
		wantExit(t, code, exitRejected, out, errOut)
	}
	if aks[0] != aks[1] {
		t.Fatalf("the emulated AK differs between processes:\n%s\n%s", aks[0], aks[1])
	}
}

func TestEmulatedReportOffline(t *testing.T) {
	// The emulated IMDS is in-process, so --offline still gets its VCEK.
	code, out, errOut := runCLI(t, "--emulate", "report", "--offline")
	wantExit(t, code, 0, out, errOut)
	if !strings.Contains(out, "VALID SNP REPORT (EMULATED CHAIN, NOT AMD)") || !strings.Contains(out, "Azure IMDS") {
		t.Fatalf("report --offline output:\n%s", out)
	}
}

// TestEmulatedLocalCheck: evidence, report and attest verify what the
// attester gathered before they hand it out: a policy the emulated CVM
// does not meet makes them exit 2 naming the check, and evidence is not
// written.
func TestEmulatedLocalCheck(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"measurements":["`+strings.Repeat("ab", 48)+`"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "evidence.json")
	code, stdout, errOut := runCLI(t, "--emulate", "evidence", "--nonce", "x", "--policy", policy, "-o", out)
	wantExit(t, code, exitRejected, stdout, errOut)
	if !strings.Contains(errOut, "measurement") {
		t.Errorf("evidence: stderr does not name the measurement check:\n%s", errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("rejected evidence was written (%v)", err)
	}
	code, stdout, errOut = runCLI(t, "--emulate", "report", "--policy", policy)
	wantExit(t, code, exitRejected, stdout, errOut)
	if !strings.Contains(errOut, "measurement") {
		t.Errorf("report: stderr does not name the measurement check:\n%s", errOut)
	}
	// The control: without the policy both succeed.
	code, stdout, errOut = runCLI(t, "--emulate", "evidence", "--nonce", "x", "-o", out)
	wantExit(t, code, 0, stdout, errOut)
}

// TestEmulatedVerifyJSONSchema checks verify --json of the emulated CVM's
// evidence (SEV-SNP and TDX, as docs/on-a-cvm.md makes it) against
// docs/verify-output.schema.json: its paravisor is "emulated-hcl", which the
// schema once listed as "emulated".
func TestEmulatedVerifyJSONSchema(t *testing.T) {
	raw, err := os.ReadFile("../../docs/verify-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	schema := decodeNumbers(t, string(raw)).(map[string]any)
	for _, emulate := range []string{"--emulate", "--emulate=tdx"} {
		f := filepath.Join(t.TempDir(), "evidence.json")
		code, out, errOut := runCLI(t, emulate, "evidence", "--nonce", "x", "--fresh", "-o", f)
		wantExit(t, code, 0, out, errOut)
		code, out, errOut = runCLI(t, "verify", "--trust-emulated", "--json", "--nonce", "x", f)
		wantExit(t, code, 0, out, errOut)
		v := decodeNumbers(t, out)
		if p := v.(map[string]any)["paravisor"]; p != "emulated-hcl" {
			t.Errorf("%s: paravisor %v, want emulated-hcl", emulate, p)
		}
		if err := checkSchema(schema, v, "$"); err != nil {
			t.Errorf("%s: %v", emulate, err)
		}
	}
}

// runCLIWith is runCLI on globals that configure adjusts first (fields no
// flag sets, such as emulateTHIMDown).
func runCLIWith(t *testing.T, configure func(*globals), args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	g := &globals{stdin: bytes.NewReader(nil), stdout: &stdout, stderr: &stderr, progressEvery: progressEvery}
	configure(g)
	code := execute(ctx, g, args)
	return code, stdout.String(), stderr.String()
}

// TestEmulatedEvidenceRequireVCEK: when the emulated CVM's IMDS cannot
// serve its VCEK (THIM down) the evidence goes without "vcek" (here it
// still verifies locally, with the VCEK in the --cache-dir) and stderr
// notes that trustee refuses it; --require-vcek writes nothing and exits
// 1 (a certificate source down: not a verdict), naming the missing VCEK.
// With IMDS up, --require-vcek changes nothing.
func TestEmulatedEvidenceRequireVCEK(t *testing.T) {
	cache := t.TempDir()
	key, err := collateral.NewKey(string(fakeamd.Product), func() []byte { id := fakeamd.ChipID(); return id[:] }(), fakeamd.ReportedTCB())
	if err != nil {
		t.Fatal(err)
	}
	(&collateral.Disk{Dir: cache}).Store(context.Background(), collateral.KindVCEK, key, fakeamd.VCEKDER())
	thimDown := func(g *globals) { g.emulateTHIMDown = true }
	for _, tc := range []struct {
		name      string
		configure func(*globals)
		require   bool
		wantExit  int
		wantVCEK  bool
		wantErr   []string
	}{
		{name: "IMDS up", configure: func(*globals) {}, wantVCEK: true},
		{name: "IMDS up, required", configure: func(*globals) {}, require: true, wantVCEK: true},
		{name: "THIM down", configure: thimDown, wantErr: []string{"without VCEK", "note: trustee's Azure vTPM verifier (Confidential Containers) refuses this evidence: vcek:"}},
		{name: "THIM down, required", configure: thimDown, require: true, wantExit: exitUsage,
			wantErr: []string{"error: attester: the VCEK is required, and no certificate source supplied it", "503"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "evidence.json")
			args := []string{"--emulate", "evidence", "--nonce", "n", "--offline", "--cache-dir", cache, "-o", f}
			if tc.require {
				args = append(args, "--require-vcek")
			}
			code, out, errOut := runCLIWith(t, tc.configure, args...)
			wantExit(t, code, tc.wantExit, out, errOut)
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			data, err := os.ReadFile(f)
			if tc.wantExit != 0 {
				if err == nil {
					t.Fatalf("evidence written although the command failed:\n%.200s", data)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := evidence.Decode(data)
			if err != nil || (ev.VCEK != nil) != tc.wantVCEK {
				t.Fatalf("written evidence: VCEK %v, want %v (%v)", ev != nil && ev.VCEK != nil, tc.wantVCEK, err)
			}
		})
	}
}

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
