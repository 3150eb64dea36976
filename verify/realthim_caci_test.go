package verify_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/imds"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestRealTHIMCACI: a Confidential ACI container group's host-amd-cert
// (the THIM certification JSON Azure hands the guest, from
// testdata/scitt-caci) parses, and its VCEK verifies the SNP report v3 the
// same guest produced: Milan, the chip and TCB of the THIM tcbm.
func TestRealTHIMCACI(t *testing.T) {
	cert, err := imds.Parse(testutil.ReadFile(t, "scitt-caci/host-amd-cert.json"))
	if err != nil {
		t.Fatalf("THIM JSON: %v", err)
	}
	tcb, err := cert.TCB()
	if err != nil || tcb != 0xDB18000000000004 || len(cert.Chain) != 2 || cert.CacheControl != "86400" {
		t.Fatalf("THIM: tcb %#x (%v), %d chain certificates, cache %q", tcb, err, len(cert.Chain), cert.CacheControl)
	}
	at := time.Date(2025, 7, 25, 0, 0, 0, 0, time.UTC)
	claims, err := reportWith(context.Background(), testutil.ReadFile(t, "scitt-caci/report.bin"), cert.VCEK, verify.Config{Now: at})
	if err != nil {
		t.Fatalf("C-ACI report with its THIM VCEK: %v", err)
	}
	rt := claims.ReportedTCB
	if claims.Product != "Milan" || claims.SigningKey != "VCEK" || claims.Paravisor != verify.ParavisorUnknown ||
		hex.EncodeToString(claims.ChipID[:8]) != "b0fd192d9769f0b7" || [4]uint8{rt.Bootloader, rt.TEE, rt.SNP, rt.Microcode} != [4]uint8{4, 0, 24, 219} {
		t.Errorf("claims %s %s paravisor %s chip %x tcb %+v", claims.Product, claims.SigningKey, claims.Paravisor, []byte(claims.ChipID), rt)
	}
	_, err = reportWith(context.Background(), testutil.ReadFile(t, "ccf-aci/milan-report.bin"), cert.VCEK, verify.Config{Now: at})
	wantCheck(t, err, verify.CheckChipID)
}
