package maa_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/httpget"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestVoucher: evidence of a paravisor whose ID key the verifier does not
// know is accepted when a valid token of the policy's MAA instance is for
// the same report, and rejected (paravisor-identity) otherwise.
func TestVoucher(t *testing.T) {
	ours, other := testmaa.UnknownParavisor(t)
	ev, claims, otherClaims := ours.Evidence, ours.Claims, other.Claims
	ak := &testev.AKKey().PublicKey
	ok, cfg := tokenFor(t, claims, ak, nil)
	forOther, _ := tokenFor(t, otherClaims, &testev.OtherRSAKey().PublicKey, nil)
	notCompliant, _ := tokenFor(t, claims, ak, setTEE("x-ms-compliance-status", "no"))
	otherMeasurement, _ := tokenFor(t, claims, ak, func(m map[string]any) {
		tee(m)["x-ms-sevsnpvm-launchmeasurement"] = hex.EncodeToString(make([]byte, 48))
	})
	expired := cfg
	expired.Time = time.Unix(realEXP+3600, 0)
	otherIssuer := cfg
	otherIssuer.Issuer = "https://other.attest.azure.net"
	for _, tc := range []struct {
		name  string
		token []byte
		cfg   maa.Config
		ok    bool
	}{
		{"token for this report", ok, cfg, true},
		{"token for another VM's report", forOther, cfg, false},
		{"not azure-compliant-cvm", notCompliant, cfg, false},
		{"another launch measurement", otherMeasurement, cfg, false},
		{"expired", ok, expired, false},
		{"another issuer", ok, otherIssuer, false},
		{"one byte changed", flipByte(ok, len(ok)/2), cfg, false},
		{"no token", nil, cfg, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verify.Config{
				Roots:            testev.Roots(),
				Policy:           verify.Policy{MAAParavisorInstance: realIssuer},
				ParavisorVoucher: &maa.Voucher{Token: tc.token, Config: tc.cfg},
			}
			got, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, v)
			if !tc.ok {
				if verr, isV := errors.AsType[*verify.Error](err); !isV || verr.Check != verify.CheckParavisorIdentity {
					t.Fatalf("got %v, want a paravisor-identity failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Paravisor != verify.ParavisorVouched || got.ParavisorVoucher != realIssuer {
				t.Errorf("paravisor %q voucher %q", got.Paravisor, got.ParavisorVoucher)
			}
		})
	}
}

// flipByte returns b with byte i changed (within the base64url alphabet).
func flipByte(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

// TestVoucherTDX: a tdxvm token vouches for a TD quote with its
// REPORTDATA and MRTD; a token for another MRTD or report data, a
// sevsnpvm token, or a tdxvm token asked about an SEV-SNP report does not.
func TestVoucherTDX(t *testing.T) {
	ours := verifiedEvidence(t, &testev.Builder{})
	ak := &testev.AKKey().PublicKey
	var q tdx.Quote
	copy(q.Body.ReportData[:], ours.ReportData)
	mrtd, err := hex.DecodeString(tdxTEE["tdx_mrtd"].(string))
	if err != nil {
		t.Fatal(err)
	}
	copy(q.Body.MRTD[:], mrtd)
	tdxToken := func(change func(m map[string]any)) []byte {
		tok, _ := tokenFor(t, ours, ak, tdxFor(ours.ReportData, change))
		return tok
	}
	snpToken, cfg := tokenFor(t, ours, ak, nil)
	for _, tc := range []struct {
		name  string
		token []byte
		ok    bool
	}{
		{"token for this TD quote", tdxToken(nil), true},
		{"another MRTD", tdxToken(setTEE("tdx_mrtd", hex.EncodeToString(make([]byte, 48)))), false},
		{"another report data", tdxToken(setTEE("tdx_report_data", hex.EncodeToString(make([]byte, 64)))), false},
		{"TD debug on", tdxToken(setTEE("tdx_td_attributes_debug", true)), false},
		{"sevsnpvm token", snpToken, false},
		{"no token", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &maa.Voucher{Token: tc.token, Config: cfg}
			got, err := v.VouchTDXParavisor(context.Background(), &q)
			if !tc.ok {
				if err == nil {
					t.Fatal("vouched")
				}
				return
			}
			if err != nil || got != realIssuer {
				t.Fatalf("VouchTDXParavisor = %q, %v", got, err)
			}
		})
	}
	// A tdxvm token never vouches for an SEV-SNP report.
	v := &maa.Voucher{Token: tdxToken(nil), Config: cfg}
	if _, err := v.VouchParavisor(context.Background(), &snp.Report{}); !errors.Is(err, maa.ErrRejected) {
		t.Errorf("a tdxvm token about an SEV-SNP report: %v", err)
	}
}

var _ verify.TDXParavisorVoucher = (*maa.Voucher)(nil)

// TestVoucherJWKSUnavailable: when the instance's keys cannot be fetched
// the voucher's error is no verdict on the token (verify's
// ErrCertificateUnavailable), so the verifier gives none either: an
// *UnavailableError, not a paravisor-identity rejection.
func TestVoucherJWKSUnavailable(t *testing.T) {
	ours, _ := testmaa.UnknownParavisor(t)
	ok, cfg := tokenFor(t, ours.Claims, &testev.AKKey().PublicKey, nil)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg.Keys = &maa.Fetcher{Instance: down.URL, Client: &httpget.Client{HTTPClient: down.Client(), MaxRetries: -1}}
	v := verify.Config{
		Roots:            testev.Roots(),
		Policy:           verify.Policy{MAAParavisorInstance: realIssuer},
		ParavisorVoucher: &maa.Voucher{Token: ok, Config: cfg},
	}
	_, err := verify.Evidence(t.Context(), ours.Evidence.JSON, ours.Evidence.Nonce, v)
	if !errors.Is(err, verify.ErrCertificateUnavailable) || !errors.Is(err, maa.ErrJWKSUnavailable) || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("JWKS down: %v, want no verdict (ErrCertificateUnavailable, ErrJWKSUnavailable)", err)
	}
}
