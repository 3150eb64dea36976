package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
)

// TestVerifyPCS runs the built binary against a fake Intel PCS serving
// Intel's real collateral: trustee's Azure TDX evidence is OutOfDate
// (exit 2, or verified when the policy accepts it) and the teekit quote
// UpToDate (report --td-quote); the second run is served by the cache
// directory without a request; --offline with an empty cache and a
// policy that needs the status, and a PCS serving garbage, are exit 1.
func TestVerifyPCS(t *testing.T) {
	files := tdxtest.RealCollateralFiles(t)
	fake := tdxtest.NewFakePCS(t, files)
	cache := t.TempDir()
	policy := writeTemp(t, "policy.json", []byte(`{"tdx_tcb_statuses":["UpToDate","OutOfDate"]}`))
	evidence := verifyTDXDir + "evidence-v1.json"
	base := []string{"verify", "--pcs-url", fake.URL, "--cache-dir", cache, "--at", tdxAt, "--nonce", "challenge"}

	code, out, errOut := runBin(t, nil, append(base, evidence)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "tdx-tcb-status", "OutOfDate (platform OutOfDate, TDX module OutOfDate, QE UpToDate")
	if n := fake.Requests(); n != 4 {
		t.Errorf("%d requests to the PCS, want 4", n)
	}
	code, out, errOut = runBin(t, nil, append(base, "--policy", policy, evidence)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "stdout", out, "tcb status             OutOfDate", "advisory ids           INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986")
	if n := fake.Requests(); n != 4 {
		t.Errorf("%d requests to the PCS after a run served by --cache-dir, want 4", n)
	}
	if _, err := os.Stat(filepath.Join(cache, "intel", "tcbinfo-tdx-00806f050000.json")); err != nil {
		t.Error(err)
	}

	code, out, errOut = runBin(t, nil, "report", "--pcs-url", fake.URL, "--cache-dir", cache, "--at", tdxAt, "--td-quote", "../../testdata/intel-collateral/azure-tdx-quote-teekit.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "report stdout", out, "UpToDate")

	code, out, errOut = runBin(t, nil, "verify", "--offline", "--cache-dir", t.TempDir(), "--at", tdxAt, "--nonce", "challenge", "--policy", policy, evidence)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "tdx-collateral", "TCB info for FMSPC 00806f050000", "--collateral DIR")

	fake.SetHook(func(w http.ResponseWriter, _ *http.Request, _ int64) bool {
		_, _ = w.Write([]byte("garbage"))
		return true
	})
	code, out, errOut = runBin(t, nil, "verify", "--pcs-url", fake.URL, "--cache-dir", t.TempDir(), "--at", tdxAt, "--nonce", "challenge", evidence)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "tdx-collateral", "invalid Intel collateral")
}
