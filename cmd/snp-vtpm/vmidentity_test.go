package main

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
)

// TestVerifyVMIdentityAndInitData: verify prints the PCR 6 tie and the
// state of PCR 8 of real Genoa evidence (non-zero PCR 8), checks
// --init-data and the policy members, and --json carries both claims.
func TestVerifyVMIdentityAndInitData(t *testing.T) {
	ev := verifySNPDir + "evidence-genoa.json"
	nonce := quoteNonceHex(t, "evidence-genoa.json")
	base := []string{"--at", verifyAt, "--nonce-hex", nonce}
	code, out, errOut := verifyCLI(t, nil, append(base, ev)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "verify output", out,
		"VM identity    PCR 6 measures the runtime data's vmUniqueId               ok",
		"vm identity            bound: PCR 6 measures vmUniqueId 390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC (uuid+separator)",
		"init-data (pcr 8)      measured, not checked (PCR 8 16f09f1e315b0b9bc69e654df58927aad7eaffeebd92f458f1b079b44e97207f")

	var claims struct {
		VMIdentity struct {
			ID    string `json:"vm_unique_id"`
			Bound bool   `json:"pcr6_bound"`
			Form  string `json:"form"`
		} `json:"vm_identity"`
		InitData struct {
			PCR8     string `json:"pcr8"`
			Measured bool   `json:"measured"`
			Bound    bool   `json:"bound"`
		} `json:"init_data"`
	}
	cliJSON(t, 0, &claims, append(append([]string{"verify", "--offline", "--cache-dir", t.TempDir(), "--json"}, base...), ev)...)
	if !claims.VMIdentity.Bound || claims.VMIdentity.Form != "uuid+separator" || claims.VMIdentity.ID != "390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC" {
		t.Errorf("vm_identity %+v", claims.VMIdentity)
	}
	if !claims.InitData.Measured || claims.InitData.Bound || claims.InitData.PCR8[:8] != "16f09f1e" {
		t.Errorf("init_data %+v", claims.InitData)
	}

	require := writeTemp(t, "require.json", []byte(`{"require_vm_identity":true}`))
	code, out, errOut = verifyCLI(t, nil, append(base, "--policy", require, ev)...)
	wantExit(t, code, 0, out, errOut)

	doc := writeTemp(t, "init-data.toml", []byte("algorithm = \"sha256\"\nversion = \"0.1.0\"\n"))
	code, out, errOut = verifyCLI(t, nil, append(base, "--init-data", doc, ev)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "init-data")

	sum := sha256.Sum256([]byte("another document"))
	pinned := writeTemp(t, "pinned.json", []byte(`{"init_data_digest":"`+hex.EncodeToString(sum[:])+`"}`))
	code, out, errOut = verifyCLI(t, nil, append(base, "--policy", pinned, "--init-data", doc, ev)...)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "contradicts the policy's init_data_digest")

	code, out, errOut = verifyCLI(t, nil, append(base, "--init-data", "/nonexistent/init-data", ev)...)
	wantExit(t, code, 1, out, errOut)
}

// TestReportPrintVMIdentity: report -p says that a report alone cannot
// show the PCR 6 tie.
func TestReportPrintVMIdentity(t *testing.T) {
	code, out, errOut := runCLI(t, "report", "-f", realHCL, "--vcek", realVCEK, "--at", realAt, "-p")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report -p output", out, "vm identity            not checked: a report carries no quote")
}

// TestVerifyPrintUnquotedIdentityPCRs: evidence whose quote does not
// select PCR 6 or PCR 8 says that the VM identity and the init-data are
// unknown; the output was silent about both.
func TestVerifyPrintUnquotedIdentityPCRs(t *testing.T) {
	const nonce = "unquoted identity"
	ev, err := (&testev.Builder{Nonce: []byte(nonce), PCRSelect: []int{0, 7}}).Build()
	if err != nil {
		t.Fatal(err)
	}
	file := writeTemp(t, "evidence.json", ev.JSON)
	base := []string{"--roots", writeTemp(t, "roots.pem", testev.ChainPEM()), "--nonce", nonce}
	code, out, errOut := verifyCLI(t, nil, append(base, file)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "verify output", out,
		"vm identity            UNKNOWN: the quote's signed SHA-256 selection does not hold PCR 6",
		"init-data (pcr 8)      UNKNOWN: the quote's signed SHA-256 selection does not hold PCR 8")
	code, out, errOut = verifyCLI(t, nil, append(base, "--policy", writeTemp(t, "p.json", []byte(`{"require_vm_identity":true}`)), file)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "vm-identity")
}
