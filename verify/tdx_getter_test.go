package verify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// getterFunc is a verify.TDXCollateralGetter.
type getterFunc func(context.Context, verify.TDXCollateralRequest) (*pcs.Collateral, error)

func (f getterFunc) TDXCollateral(ctx context.Context, r verify.TDXCollateralRequest) (*pcs.Collateral, error) {
	return f(ctx, r)
}

// TestTDXCollateralGetter: the getter is asked with the quote's FMSPC,
// PCK CA and the verification time, and what it returns is evaluated; a
// failure is ErrCertificateUnavailable, not a verdict; an offline miss
// (ErrTDXCollateralMissing) leaves the status not evaluated unless the
// policy lists statuses.
func TestTDXCollateralGetter(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	coll := realCollateral(t)
	var got verify.TDXCollateralRequest
	ok := getterFunc(func(_ context.Context, r verify.TDXCollateralRequest) (*pcs.Collateral, error) {
		got = r
		return coll, nil
	})
	down := getterFunc(func(context.Context, verify.TDXCollateralRequest) (*pcs.Collateral, error) {
		return nil, errors.New("pcs: giving up")
	})
	missing := getterFunc(func(context.Context, verify.TDXCollateralRequest) (*pcs.Collateral, error) {
		return nil, fmt.Errorf("offline: %w", verify.ErrTDXCollateralMissing)
	})
	for _, tc := range []struct {
		name       string
		getter     verify.TDXCollateralGetter
		statuses   []string
		revocation bool
		status     string
		wantErr    bool
	}{
		{"fetched", ok, []string{pcs.OutOfDate}, false, pcs.OutOfDate, false},
		{"down", down, nil, false, "", true},
		{"offline miss", missing, nil, false, verify.TCBNotEvaluated, false},
		{"offline miss, policy", missing, []string{pcs.OutOfDate}, false, "", true},
		// Revocation checking needs the PCK CRLs, which come with the
		// collateral: without it, no verdict either way.
		{"offline miss, revocation checking", missing, nil, true, "", true},
		{"no getter, revocation checking", nil, nil, true, "", true},
		{"fetched, revocation checking", ok, []string{pcs.OutOfDate}, true, pcs.OutOfDate, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tdxOpts()
			cfg.TDXCollateralGetter, cfg.Policy.TDXTCBStatuses = tc.getter, tc.statuses
			if tc.revocation {
				cfg.Revocation = checker{asked: new([]string)}
			}
			c, err := tdxVerify(t, data, cfg)
			if tc.wantErr {
				if !errors.Is(err, verify.ErrCertificateUnavailable) || errors.Is(err, verify.ErrRejected) {
					t.Fatalf("got %v, want ErrCertificateUnavailable", err)
				}
				wantUnavailable(t, err, verify.CheckTDXCollateral)
				return
			}
			if err != nil || c.TDX.TCBStatus != tc.status {
				t.Fatalf("got %v, status %v", err, c)
			}
		})
	}
	if got.FMSPC != [6]byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00} || got.CA != pcs.CAPlatform || !got.Now.Equal(tdxOpts().Now) {
		t.Errorf("request %+v", got)
	}
}
