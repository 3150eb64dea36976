package main

import (
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	amdfakekeys "github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestTrustEmulatedMatrix: --trust-emulated judges real evidence as real
// (SEV-SNP and TDX fixtures, evidence, a stored HCL report and a TD quote: not
// emulated, pinned roots, no EMULATED in the output), and what was made
// with the emulated CVMs' public keys (SEV-SNP evidence and HCL report, a TD quote) as
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
	emuHCL, emuVCEK := writeTemp(t, "emulated-hcl.bin", emuEv.Evidence.HCLReport), writeTemp(t, "emulated-vcek.der", fakeamd.VCEKDER())
	reportFile := func(at, file string, rest ...string) []string {
		return append([]string{"report", "--offline", "--cache-dir", t.TempDir(), "--at", at, "-f", file}, rest...)
	}
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
		{"real HCL report", reportFile(verifyAt, verifySNPDir+"hcl-report.bin", "--vcek", verifySNPDir+"vcek.pem"), false, "", "VALID SNP REPORT from"},
		{"emulated HCL report", reportFile(emuAt, emuHCL, "--vcek", emuVCEK), true, "vcek-chain", "VALID SNP REPORT (EMULATED CHAIN, NOT AMD)"},
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

// TestEmulatedRunCannotPoisonSharedCache: an emulated run (--trust-emulated)
// that fetches, from a KDS mirror the attacker runs, a VCEK issued with the
// emulated CVM's public ASK key for a real chip (the fixture's chip id and
// TCB) accepts it (its evidence is emulated, and says so) and stores it in
// the disk cache it shares with real runs, under the real chip's name. A
// real run (no --trust-emulated) reading that cache re-validates what it
// reads and refuses it: with --offline the real evidence, stripped of its
// VCEK, is rejected (vcek-missing, naming the chain), never verified.
func TestEmulatedRunCannotPoisonSharedCache(t *testing.T) {
	realEv, realVCEK, hclReport := evidenceWithoutVCEK(t)
	rep := snpReportOf(t, hclReport)
	chip, tcb := rep.ChipID, rep.ReportedTCB.Parts(snp.Milan)
	fakeCA := &amdcert.Chain{Product: snp.Milan, ARK: fakeamd.ARK(), ASK: fakeamd.ASK(), ASKKey: amdfakekeys.ASKKey(), Marker: fakeamd.Marker}
	forged, err := fakeCA.Issue(amdcert.KeyTemplate{Key: &amdfakekeys.VCEKKey().PublicKey, ProductName: "Milan-B0", HWID: chip[:], TCB: tcb,
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(forged) }))
	defer mirror.Close()
	b := testev.Emulated(testev.Builder{OmitVCEK: true})
	b.ChipID, b.ReportedTCB, b.VCEKDER = &chip, &tcb, nil
	emu := b.MustBuild()
	cache := t.TempDir()
	code, out, errOut := runCLI(t, "verify", "--trust-emulated", "--kds-url", mirror.URL, "--cache-dir", cache, "--json",
		"--nonce-hex", hex.EncodeToString(emu.Nonce), writeTemp(t, "emulated.json", emu.JSON))
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "emulated run", out, `"emulated": true`, `"vcek_source": "fetched"`)
	var stored int
	_ = filepath.WalkDir(filepath.Join(cache, "vcek"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored++
		}
		return nil
	})
	if stored != 1 {
		t.Fatalf("the emulated run stored %d VCEKs, want the forged one (the premise of this test)", stored)
	}
	// The real run passes the forged file over (it fails the pinned
	// chain): offline, nothing else is at hand (exit 1, no verdict) ...
	real := []string{"verify", "--cache-dir", cache, "--at", verifyAt, "--nonce", "challenge"}
	code, out, errOut = runCLI(t, append(append(real, "--offline"), realEv)...)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "real run, offline", errOut, "vcek-missing", "not cached")
	// ... online, the genuine VCEK replaces it, and then offline works.
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(realVCEK) }))
	defer kds.Close()
	code, out, errOut = runCLI(t, append(append(real, "--kds-url", kds.URL), realEv)...)
	wantExit(t, code, exitOK, out, errOut)
	code, out, errOut = runCLI(t, append(append(real, "--offline", "--json"), realEv)...)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "real run, offline after the refetch", out, `"emulated": false`, `"pinned_roots": true`)
}
