//go:build cgo

package attester_test

import (
	"bytes"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestTrusteeReportDataBinding: given the report data trustee's verifier
// expects (SHA-384 of the canonical KBS runtime data, 48 bytes) as its
// nonce, the attester quotes it unchanged (trustee compares extraData with
// it exactly) and, with a fresh report, writes it at the start of
// user-data (trustee's version-2 check); the evidence is complete for
// trustee (VCEK, 24 PCRs of a quote over SHA-256 PCRs 0-23).
func TestTrusteeReportDataBinding(t *testing.T) {
	rd, err := testev.TrusteeReportData("attester-kbs-nonce", testev.TrusteeTEEPubKey, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fresh   bool
		version int
	}{{true, attester.VersionFreshReport}, {false, attester.VersionBootReport}} {
		ev, _ := gather(t, newAttester(t), rd, tc.fresh)
		if ev.Version != tc.version {
			t.Fatalf("fresh=%v: version %d, want %d", tc.fresh, ev.Version, tc.version)
		}
		a, err := quote.Parse(ev.Quote.Message)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.ExtraData, rd) {
			t.Fatalf("fresh=%v: extraData %x, want trustee's report data %x", tc.fresh, a.ExtraData, rd)
		}
		if err := ev.TrusteeCompatible(); err != nil {
			t.Fatalf("fresh=%v: TrusteeCompatible: %v", tc.fresh, err)
		}
		if !tc.fresh {
			continue
		}
		r, err := hcl.Parse(ev.HCLReport)
		if err != nil {
			t.Fatal(err)
		}
		if r.RuntimeData == nil || !bytes.HasPrefix(r.RuntimeData.UserData, rd) {
			t.Fatalf("user-data does not start with trustee's report data %x", rd)
		}
	}
}
