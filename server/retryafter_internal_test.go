package server

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestRetryAfterForIntelPCS: a verification that did not complete because
// Intel's PCS failed, on this call or recently (collateral.Intel's *WaitError, wrapped as
// verify wraps a TDX collateral getter's error) is answered with the
// Retry-After of the PCS back-off, rounded up; any other failure 1 s.
func TestRetryAfterForIntelPCS(t *testing.T) {
	pcsDown := &collateral.WaitError{Kind: collateral.ErrRecentFailure, What: "TCB info for FMSPC 00806f050000",
		Err: errors.New("collateral: fetching the TCB info from Intel PCS https://pcs.example: HTTP 503"), Wait: 4200 * time.Millisecond}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("verify: %s: %w: %w", verify.CheckTDXCollateral, verify.ErrCertificateUnavailable, pcsDown), "5"},
		{&collateral.WaitError{Kind: collateral.ErrRecentFailure, Err: errors.New("404"), Wait: 30 * time.Second}, "30"},
		// The caller whose own PCS fetch failed (Kind ErrFetchFailed, as
		// the Chain's first caller): the whole back-off.
		{fmt.Errorf("verify: %s: %w: %w", verify.CheckTDXCollateral, verify.ErrCertificateUnavailable,
			&collateral.WaitError{Kind: collateral.ErrFetchFailed, What: "TCB info for FMSPC 00806f050000", Err: errors.New("HTTP 503"), Wait: 120 * time.Second}), "120"},
		{errors.New("something else"), "1"},
	} {
		w := httptest.NewRecorder()
		setRetryAfterFor(w, tc.err)
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("%v: Retry-After %q, want %q", tc.err, got, tc.want)
		}
	}
}
