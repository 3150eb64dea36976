package verify

import (
	"context"
	"crypto/x509"
)

// TDXReport verifies Azure TDX attestation without a TPM quote: a TD
// quote alone (hclBlob nil), or an HCL report carrying a TDREPORT together
// with the TD quote Azure IMDS returned for it. The TD quote is verified
// as in evidence (Intel's pinned root, or the emulated one with
// TrustEmulatedTDX; Intel's TCB status with collateral; DEBUG; MRTD as the
// paravisor identity), and with an HCL report every quote body field must
// equal the TDREPORT's (tdx-binding) and the TDREPORT's REPORTDATA must
// bind the runtime data. Like Report, it checks no TPM quote, proves no
// freshness, and rejects policies that require PCR values or a fresh
// report.
func (v *Verifier) TDXReport(ctx context.Context, hclBlob, tdQuote []byte) (*Claims, error) {
	return v.commitIfVerified(func(p *pending) (*Claims, error) {
		return v.cfg.Policy.passPlatform(tdxReport(ctx, hclBlob, tdQuote, &v.cfg, p))
	})
}

func tdxReport(ctx context.Context, hclBlob, rawQuote []byte, opts *Config, p *pending) (*Claims, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := reportOnlyPolicy(&opts.Policy); err != nil {
		return nil, err
	}
	tq, err := parseTDQuote(rawQuote, false, p)
	if err != nil {
		return nil, err
	}
	claims := &Claims{EvidenceVersion: -1}
	if hclBlob == nil {
		if err := verifyTDQuote(ctx, claims, tq, nil, opts, p); err != nil {
			return nil, err
		}
		return claims, nil
	}
	r, tr, err := parseTDXHCL(hclBlob)
	if err != nil {
		return nil, err
	}
	if err := verifyTDQuote(ctx, claims, tq, tr, opts, p); err != nil {
		return nil, err
	}
	if err := r.CheckBinding(); err != nil {
		return nil, fail(CheckRuntimeData, err)
	}
	fillRuntime(claims, r)
	if r.RuntimeData != nil {
		if ak, err := r.RuntimeData.AK(); err == nil {
			der, _ := x509.MarshalPKIXPublicKey(ak)
			claims.AKPublic = der
		}
	}
	return claims, nil
}
