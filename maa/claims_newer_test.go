package maa_test

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
)

// TestRealTokenNewerSNPClaims: the guest policy bits MAA added to its
// x-ms-sevsnpvm-* claims in 2025 are read from the real December 2025
// token (each false there: its guest policy sets none of them), as are
// its policy hash and REPORT_ID; a wrong type in one is a claims error.
func TestRealTokenNewerSNPClaims(t *testing.T) {
	c, err := maa.Verify(context.Background(), testutil.ReadFile(t, realTokenFile), realConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s := c.IsolationTEE.SEVSNP
	for name, b := range map[string]*bool{
		"singlesocket": s.SingleSocket, "cxl-allowed": s.CXLAllowed, "mem-aes256-xts-required": s.MemAES256XTSRequired,
		"rapl-disabled": s.RAPLDisabled, "ciphertext-hiding-dram-enabled": s.CiphertextHidingDRAMEnabled,
		"page-swap-disabled": s.PageSwapDisabled,
	} {
		if b == nil || *b {
			t.Errorf("x-ms-sevsnpvm-%s = %v, want false", name, b)
		}
	}
	if c.PolicyHash != "QsNi9UE365SgcskuV_a4p-uFQyGlNcIlQkrsi0UIy7o" || hex.EncodeToString(s.ReportID) != "0044a384de7d2f1c9a7eebcab2f08346e1c1d5e8968d808ea3191ce5e6aa215a" {
		t.Errorf("policy hash %q, report id %s", c.PolicyHash, hex.EncodeToString(s.ReportID))
	}
	bad := `{"x-ms-attestation-type":"azurevm","x-ms-isolation-tee":{"x-ms-attestation-type":"sevsnpvm","x-ms-compliance-status":"azure-compliant-cvm","x-ms-sevsnpvm-page-swap-disabled":"false"}}`
	if _, err := maa.ParseClaims([]byte(bad)); err == nil {
		t.Error("a string page-swap-disabled parsed")
	}
}
