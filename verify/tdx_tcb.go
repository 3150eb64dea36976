package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// ErrTDXCollateral marks a verification that could not evaluate Intel's
// TCB status because the Intel collateral given (Config.TDXCollateral) is
// unusable at the verification time: expired or not yet valid, badly
// signed, not under the pinned Intel SGX Root CA, or for another FMSPC.
// Such an error names CheckTDXCollateral but does not match ErrRejected:
// nothing was learnt about the evidence.
var ErrTDXCollateral error = pcs.ErrCollateral

// ErrTDXCollateralMissing is matched by a TDXCollateralGetter's error when
// it may not fetch (offline) and does not hold the collateral: the TCB
// status is then not evaluated, unless the policy lists
// tdx_tcb_statuses, which makes the error (not a rejection) the result.
var ErrTDXCollateralMissing = errors.New("the Intel collateral is not available offline")

// TDXCollateralRequest asks for Intel's collateral of a verified TD quote.
type TDXCollateralRequest struct {
	// FMSPC is the PCK certificate's FMSPC.
	FMSPC [6]byte
	// CA is the PCK CA: pcs.CAPlatform or pcs.CAProcessor.
	CA string
	// Now is the verification time (Config.Now; zero means now).
	Now time.Time
}

// TDXCollateralGetter obtains Intel's collateral for TDX evidence
// (collateral.Intel: the --collateral directory, caches and Intel PCS).
// What it returns is evaluated like Config.TDXCollateral; an error means
// the collateral is unavailable (never a verdict on the evidence).
type TDXCollateralGetter interface {
	TDXCollateral(ctx context.Context, req TDXCollateralRequest) (*pcs.Collateral, error)
}

// DefaultTDXTCBStatuses are the TCB statuses accepted when Intel's
// collateral is given and the policy lists none: Intel's up-to-date
// statuses and those that need only configuration or software hardening.
// OutOfDate, OutOfDateConfigurationNeeded and Revoked are rejected.
func DefaultTDXTCBStatuses() []string {
	return []string{pcs.UpToDate, pcs.SWHardeningNeeded, pcs.ConfigurationNeeded, pcs.ConfigurationAndSWHardeningNeeded}
}

// checkTDXTCB evaluates the verified quote against Intel's collateral and
// the policy's accepted statuses, and fills the claims' TCB fields.
// Without collateral the status stays TCBNotEvaluated, which a policy
// listing tdx_tcb_statuses rejects; with revocation checking asked for
// (Config.Revocation), missing collateral ends verification without a
// verdict, since the PCK CRLs come with it.
func checkTDXTCB(ctx context.Context, c *Claims, q *tdx.Quote, v *tdx.Verified, opts *Config, root *x509.Certificate, emulated bool) error {
	allowed := opts.Policy.TDXTCBStatuses
	coll := opts.TDXCollateral
	if opts.TDXCollateralGetter != nil && !emulated {
		var err error
		coll, err = opts.TDXCollateralGetter.TDXCollateral(ctx, TDXCollateralRequest{FMSPC: v.SGX.FMSPC, CA: pcs.PCKCA(v), Now: opts.Now})
		if err != nil && errors.Is(err, ErrTDXCollateralMissing) && len(allowed) == 0 && opts.Revocation == nil {
			return nil // offline without it: not evaluated
		}
		if err != nil {
			return unavailableErr(CheckTDXCollateral, fmt.Errorf("%w: %w", ErrCertificateUnavailable, err))
		}
	}
	if emulated {
		// The emulated platform's collateral is as fake as its chain.
		var err error
		if coll, err = pcs.LoadDir(fakeintel.Collateral()); err != nil {
			return unavailableErr(CheckTDXCollateral, fmt.Errorf("the emulated collateral: %w", err))
		}
	}
	if coll == nil {
		if opts.Revocation != nil {
			// Revocation checking was asked for: for TDX that is Intel's
			// PCK CRLs, which come with the collateral.
			return unavailableErr(CheckTDXCollateral, fmt.Errorf("%w: revocation checking needs Intel's collateral and its PCK CRLs (--collateral or --pcs-url)", ErrCertificateUnavailable))
		}
		if len(allowed) > 0 {
			return failf(CheckTDXTCBStatus, "the policy requires a TCB status in %v but no Intel collateral was given (--collateral or --pcs-url): the status is %s", allowed, TCBNotEvaluated)
		}
		return nil
	}
	r, err := coll.Evaluate(q, v, pcs.Options{Now: opts.now(), Root: root})
	switch {
	case errors.Is(err, pcs.ErrCollateral):
		return unavailableErr(CheckTDXCollateral, err)
	case errors.Is(err, pcs.ErrRevoked):
		return fail(CheckTDXPCKRevoked, err)
	case errors.Is(err, pcs.ErrQEIdentity):
		return fail(CheckTDXQEIdentity, err)
	case err != nil:
		return fail(CheckTDXTCBStatus, err)
	}
	t := c.TDX
	t.TCBStatus, t.AdvisoryIDs = r.Status, slices.Clone(r.AdvisoryIDs)
	t.TCBDate, t.TCBEvaluationDataNumber = r.TCBDate.UTC().Format(time.RFC3339), r.TCBEvaluationDataNumber
	if t.AdvisoryIDs == nil {
		t.AdvisoryIDs = []string{}
	}
	if len(allowed) == 0 {
		allowed = DefaultTDXTCBStatuses()
	}
	if !slices.Contains(allowed, r.Status) {
		return failf(CheckTDXTCBStatus, "Intel's TCB status is %s (platform %s, TDX module %s, QE %s; advisories %v), the policy accepts %v (tdx_tcb_statuses)",
			r.Status, r.PlatformStatus, orNone(r.ModuleStatus), r.QEStatus, r.AdvisoryIDs, allowed)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

// validateTDXTCBStatuses checks the policy's tdx_tcb_statuses.
func validateTDXTCBStatuses(l []string) error {
	for i, s := range l {
		if !slices.Contains(pcs.Statuses(), s) {
			return policyErr(fmt.Sprintf("/tdx_tcb_statuses/%d", i), "%.40q is not one of Intel's TCB statuses %v", s, pcs.Statuses())
		}
		if slices.Contains(l[:i], s) {
			return policyErr(fmt.Sprintf("/tdx_tcb_statuses/%d", i), "repeats %q", s)
		}
	}
	return nil
}
