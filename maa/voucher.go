package maa

import (
	"bytes"
	"context"
	"errors"

	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Voucher vouches for the paravisor of an SEV-SNP report with an AzureGuest
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
type Voucher struct {
	// Token is the AzureGuest token (compact JWS).
	Token []byte
	// Config verifies Token; Config.Issuer is the authority returned.
	Config Config
}

// VouchParavisor returns v.Config.Issuer when v.Token vouches for r (see
// Voucher), or an *Error naming the check that failed.
func (v *Voucher) VouchParavisor(ctx context.Context, r *snp.Report) (string, error) {
	if v == nil || len(v.Token) == 0 {
		return "", errors.New("maa: no token")
	}
	c, err := Verify(ctx, v.Token, v.Config)
	if err != nil {
		return "", err
	}
	s := &c.IsolationTEE.SEVSNP // Verify's policy requires x-ms-isolation-tee
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"x-ms-sevsnpvm-reportdata", s.ReportData, r.ReportData[:]},
		{"x-ms-sevsnpvm-idkeydigest", s.IDKeyDigest, r.IDKeyDigest[:]},
		{"x-ms-sevsnpvm-launchmeasurement", s.LaunchMeasurement, r.Measurement[:]},
	} {
		if !bytes.Equal(f.got, f.want) {
			return "", failf(CheckBinding, "%s is %.200x, the report's is %x", f.name, f.got, f.want)
		}
	}
	return v.Config.Issuer, nil
}
