package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestForge31SigningKeyKind: a real report given with a genuine
// certificate of the other kind (a VLEK-signed AWS report with a Milan
// VCEK, a VCEK-signed report with AWS's VLEK) is rejected as
// report-signature, naming SIGNER_INFO's key against the certificate's
// (snp.ErrSigningKey), before the chip id and TCB binding. Before, the
// same mistake was named by a symptom: vcek-chip-id "CHIP_ID is zero
// (masked by the host: MASK_CHIP_ID)" for the VLEK-signed report (whose
// chip id AMD leaves zero), or vcek-tcb for the VLEK's other TCB, and
// report-signature only when chip id and TCB happened to match.
func TestForge31SigningKeyKind(t *testing.T) {
	const awsVLEKReport, awsVLEK = "constellation/aws-vlek-report.bin", "constellation/aws-vlek.pem"
	for _, tc := range []struct{ name, report, cert string }{
		{"AWS VLEK report, a Milan VCEK", awsVLEKReport, "virtee-sev/vcek-milan.der"},
		{"AWS VLEK report, an Azure VCEK", awsVLEKReport, "constellation/azure-vcek-thim.der"},
		{"trustee's VLEK report at VMPL 1, a Milan VCEK", "trustee-snp/test-vlek-report.bin", "virtee-sev/vcek-milan.der"},
		{"Azure VCEK report, AWS's VLEK", "constellation/azure-snp-report-1204.bin", awsVLEK},
		{"virtee VCEK report, AWS's VLEK", "virtee-sev/report-milan.bin", awsVLEK},
		{"Oak VCEK report, AWS's VLEK (same bl, tee, snp)", "oak/milan-oc-report.bin", awsVLEK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy := verify.Policy{AllowUncommittedTCB: true, VMPL: 1}
			_, err := reportWith(context.Background(), testutil.ReadFile(t, tc.report), certDER(t, tc.cert),
				verify.Config{Now: testutil.FixtureTime(), Policy: policy})
			verr, ok := errors.AsType[*verify.Error](err)
			if !ok || verr.Check != verify.CheckReportSignature || !errors.Is(err, snp.ErrSigningKey) || !errors.Is(err, verify.ErrRejected) {
				t.Fatalf("err = %v, want report-signature naming the signing key's kind (snp.ErrSigningKey)", err)
			}
		})
	}
}
