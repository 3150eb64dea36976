package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestExitCodeMapping (mutation testing, mutation30): which errors are a
// verdict on the input (exit 2, and a --json rejection naming the check)
// and which are not (exit 1: collateral that could not be had, the
// context, anything else), one case per condition of exitCode,
// isRejection, unavailableCollateral, offlineMiss and rejectionOf.
func TestExitCodeMapping(t *testing.T) {
	vfail := func(c verify.Check, err error) error {
		return fmt.Errorf("verifying: %w", &verify.Error{Check: c, Err: err})
	}
	why := errors.New("why")
	for _, tc := range []struct {
		name  string
		err   error
		code  int
		check string // of the --json rejection; "" none
	}{
		{"verify rejection", vfail(verify.CheckNonce, why), exitRejected, string(verify.CheckNonce)},
		{"verify rejection without a reason", &verify.Error{Check: verify.CheckNonce}, exitRejected, ""},
		{"server 403", &server.APIError{StatusCode: http.StatusForbidden, Check: "pcr-policy", Message: "pcr-policy check failed: PCR 7"}, exitRejected, "pcr-policy"},
		{"server 500", &server.APIError{StatusCode: http.StatusInternalServerError, Check: "pcr-policy", Message: "m"}, exitUsage, ""},
		{"MAA token", &maa.Error{Check: maa.CheckIssuer, Err: why}, exitUsage, ""}, // exit 2 only through rejected()
		{"MAA token, rejected", rejected(&maa.Error{Check: maa.CheckIssuer, Err: why}), exitRejected, string(maa.CheckIssuer)},
		{"MAA token without a reason, rejected", rejected(&maa.Error{Check: maa.CheckIssuer}), exitRejected, ""},
		{"result token", &result.Error{Check: result.CheckSignature, Err: why}, exitRejected, string(result.CheckSignature)},
		{"result token without a reason", &result.Error{Check: result.CheckSignature}, exitRejected, ""},
		{"rejected plain error", rejected(why), exitRejected, ""},
		{"plain error", why, exitUsage, ""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), exitUsage, ""},
		{"canceled", context.Canceled, exitUsage, ""},
		{"deadline of a rejection", vfail(verify.CheckVCEKMissing, context.DeadlineExceeded), exitUsage, ""},
		{"canceled rejection", vfail(verify.CheckNonce, context.Canceled), exitUsage, ""},
		{"certificate unavailable", &verify.UnavailableError{Check: verify.CheckVCEKMissing, Err: fmt.Errorf("down: %w", verify.ErrCertificateUnavailable)}, exitUsage, ""},
		{"TDX collateral unusable", &verify.UnavailableError{Check: verify.CheckTDXCollateral, Err: verify.ErrTDXCollateral}, exitUsage, ""},
		{"TDX collateral inside a rejection", vfail(verify.CheckTDXTCBStatus, fmt.Errorf("no TCB info: %w", verify.ErrTDXCollateral)), exitUsage, ""},
		{"certificate unavailable inside a rejection", vfail(verify.CheckRevocation, verify.ErrCertificateUnavailable), exitUsage, ""},
		{"revocation, not revoked", vfail(verify.CheckRevocation, why), exitUsage, ""},
		{"revoked", vfail(verify.CheckRevocation, fmt.Errorf("VCEK: %w", collateral.ErrRevoked)), exitRejected, string(verify.CheckRevocation)},
		{"vcek missing offline", vfail(verify.CheckVCEKMissing, fmt.Errorf("no VCEK: %w", collateral.ErrOffline)), exitUsage, ""},
		{"vcek missing, AMD does not know the chip", vfail(verify.CheckVCEKMissing, errors.Join(collateral.ErrOffline, kds.ErrNotFound)), exitRejected, string(verify.CheckVCEKMissing)},
		{"vcek missing, one found and refused", vfail(verify.CheckVCEKMissing, errors.Join(collateral.ErrOffline, &verify.Error{Check: verify.CheckChipID, Err: why})), exitRejected, string(verify.CheckVCEKMissing)},
		{"vcek missing, not offline", vfail(verify.CheckVCEKMissing, why), exitRejected, string(verify.CheckVCEKMissing)},
		{"offline, another check", vfail(verify.CheckNonce, collateral.ErrOffline), exitRejected, string(verify.CheckNonce)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.code {
				t.Errorf("exitCode = %d, want %d", got, tc.code)
			}
			rej, ok := rejectionOf(tc.err)
			if ok != (tc.check != "") || rej.Check != tc.check || rej.Verified || (ok && rej.Error == "") {
				t.Errorf("rejectionOf = %+v, %v; want check %q", rej, ok, tc.check)
			}
		})
	}
	if _, ok := rejectionOf(nil); ok {
		t.Error("rejectionOf(nil) is a rejection")
	}
}
