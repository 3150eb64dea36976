package maa

import (
	"context"
	"errors"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Voucher vouches for the paravisor of an SEV-SNP report (or, with a tdxvm
// token, of a TD quote: VouchTDXParavisor) with an AzureGuest
// token of a Microsoft Azure Attestation instance: it implements
// verify.ParavisorVoucher, which the verifier consults for a report whose
// ID_KEY_DIGEST it does not trust when the policy names that instance
// (verify.Policy.MAAParavisorInstance).
//
// MAA vouches for the report when the token verifies with Config (issuer,
// keys, time, the AzureGuest claims policy: a confidential VM running
// Azure's paravisor, azure-compliant-cvm, no debugging) and its
// x-ms-sevsnpvm-reportdata, -idkeydigest and -launchmeasurement are the
// report's. The report data binds the HCL runtime data, so the token is
// about this very report, not merely one with the same paravisor.
//
// When the keys cannot be obtained (Config.Keys fails with
// ErrJWKSUnavailable: the instance's /certs is down) the error also wraps
// verify.ErrCertificateUnavailable: the verifier then gives no verdict
// (an *UnavailableError; serve answers 503), as when collateral is
// unavailable.
type Voucher struct {
	// Token is the AzureGuest token (compact JWS).
	Token []byte
	// Config verifies Token; Config.Issuer is the authority returned.
	Config Config
}

// VouchParavisor returns v.Config.Issuer when v.Token vouches for r (see
// Voucher), or an *Error naming the check that failed.
func (v *Voucher) VouchParavisor(ctx context.Context, r *snp.Report) (string, error) {
	return v.vouch(ctx, TEESEVSNP, "the report", func(c *Claims) []byteClaim {
		s := &c.IsolationTEE.SEVSNP
		return []byteClaim{
			{name: "x-ms-sevsnpvm-reportdata", got: s.ReportData, want: r.ReportData[:]},
			{name: "x-ms-sevsnpvm-idkeydigest", got: s.IDKeyDigest, want: r.IDKeyDigest[:]},
			{name: "x-ms-sevsnpvm-launchmeasurement", got: s.LaunchMeasurement, want: r.Measurement[:]},
		}
	})
}

// ParavisorAudience returns v.Config.Audience, the aud v's token must
// name ("" for none): it implements verify.AudienceVoucher, so that a
// policy's maa_paravisor_audience is held to.
func (v *Voucher) ParavisorAudience() string {
	if v == nil {
		return ""
	}
	return v.Config.Audience
}

// VouchTDXParavisor returns v.Config.Issuer when v.Token vouches for the
// TD quote q: the token verifies with Config (a tdxvm CVM that MAA found
// azure-compliant-cvm, no debugging) and its tdx_report_data and tdx_mrtd
// are q's REPORTDATA and MRTD. The report data binds the HCL runtime data,
// so the token is about this very TD, not merely one with the same
// paravisor. It implements verify.TDXParavisorVoucher.
func (v *Voucher) VouchTDXParavisor(ctx context.Context, q *tdx.Quote) (string, error) {
	return v.vouch(ctx, TEETDX, "the TD quote", func(c *Claims) []byteClaim {
		t := &c.IsolationTEE.TDX
		return []byteClaim{
			{name: "tdx_report_data", got: t.ReportData, want: q.Body.ReportData[:]},
			{name: "tdx_mrtd", got: t.MRTD, want: q.Body.MRTD[:]},
		}
	})
}

// vouch verifies v.Token with v.Config, requires its isolation TEE to be
// tee and the claims that bind picks from it to equal source's values,
// and returns v.Config.Issuer.
func (v *Voucher) vouch(ctx context.Context, tee, source string, bind func(*Claims) []byteClaim) (string, error) {
	if v == nil || len(v.Token) == 0 {
		return "", errors.New("maa: no token")
	}
	c, err := Verify(ctx, v.Token, v.Config)
	if errors.Is(err, ErrJWKSUnavailable) {
		// No verdict on the token: the verifier ends without one too.
		return "", fmt.Errorf("%w: %w", verify.ErrCertificateUnavailable, err)
	}
	if err != nil {
		return "", err
	}
	if c.Platform() != tee {
		return "", failf(CheckBinding, "the token attests a %q isolation TEE, not %q", format.Truncate(c.Platform(), 32), tee)
	}
	if err := compareClaims(source, bind(c)); err != nil {
		return "", err
	}
	return v.Config.Issuer, nil
}
