package verify_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// Tests added by the mutation testing of the SEV-SNP checks (mutation29a).

// TestRefreshedReportNotCached: a version 2 document's report was
// refreshed for one nonce and never comes again, so a Verifier caches only
// its VCEK's chain: neither the report's signature nor the HCL report,
// however often it is verified; a version 1 document's are cached.
func TestRefreshedReportNotCached(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		version     int
		wantEntries int // of the report and HCL report caches
	}{{2, 0}, {1, 1}} {
		ev := (&testev.Builder{Version: tc.version}).MustBuild()
		v := newVerifier(t, verify.Config{Roots: testev.Roots()})
		for range 2 {
			if _, err := v.Evidence(ctx, ev.JSON, ev.Nonce); err != nil {
				t.Fatal(err)
			}
		}
		s := v.Stats()
		if s.VCEKs.Entries != 1 || s.Reports.Entries != tc.wantEntries || s.HCLReports.Entries != tc.wantEntries {
			t.Errorf("v%d: %d VCEKs, %d reports, %d HCL reports cached; want 1, %d, %d", tc.version,
				s.VCEKs.Entries, s.Reports.Entries, s.HCLReports.Entries, tc.wantEntries, tc.wantEntries)
		}
	}
}

// TestMeasurementComparedWhole: a policy's measurement matches only a
// report whose MEASUREMENT equals it in all 48 bytes: one that differs in
// any single byte (the last 16 included) is CheckMeasurement, in evidence
// and in a bare report; the matching one may stand anywhere in the list.
func TestMeasurementComparedWhole(t *testing.T) {
	ev := (&testev.Builder{Version: 1}).MustBuild()
	m := bytes.Clone(ev.Report[snp.OffsetMeasurement : snp.OffsetMeasurement+48])
	off := func(i int) verify.HexBytes {
		d := bytes.Clone(m)
		d[i] ^= 0x01
		return d
	}
	for _, tc := range []struct {
		name string
		list []verify.HexBytes
		ok   bool
	}{
		{"exact", []verify.HexBytes{m}, true},
		{"exact, second", []verify.HexBytes{off(0), m}, true},
		{"byte 0 differs", []verify.HexBytes{off(0)}, false},
		{"byte 31 differs", []verify.HexBytes{off(31)}, false},
		{"byte 32 differs", []verify.HexBytes{off(32)}, false},
		{"byte 47 differs", []verify.HexBytes{off(47)}, false},
		{"two near misses", []verify.HexBytes{off(40), off(47)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{Measurements: tc.list}}
			_, errEv := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, cfg)
			_, errBare := reportWith(context.Background(), ev.Report, ev.VCEKDER, cfg)
			for name, err := range map[string]error{"evidence": errEv, "bare report": errBare} {
				if tc.ok {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				wantCheck(t, err, verify.CheckMeasurement)
			}
		})
	}
}

// TestUserDataNeedsAQuotedNonce: v2 evidence whose quote carries no
// qualifying data cannot bind a refreshed report, even when its user-data
// is the empty nonce zero-padded (64 zero bytes) and the verifier allows
// no nonce: CheckUserData, never an accepted v2 document whose user-data
// names nothing. With a 1-byte quoted nonce it verifies.
func TestUserDataNeedsAQuotedNonce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		extra []byte
		ok    bool
	}{
		{"empty extraData, zero user-data", []byte{}, false},
		{"1-byte extraData", []byte{0x42}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := (&testev.Builder{Nonce: tc.extra, ExtraData: tc.extra}).MustBuild()
			claims, err := verify.Evidence(ctx, ev.JSON, nil, verify.Config{Roots: ev.Roots(), AllowNoNonce: true})
			if !tc.ok {
				wantCheck(t, err, verify.CheckUserData)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if claims.FreshReport || claims.NonceChecked {
				t.Errorf("without a nonce: fresh %v, nonce checked %v", claims.FreshReport, claims.NonceChecked)
			}
		})
	}
}

// TestPCRPolicyComparedWhole: a pinned PCR matches only a quoted value
// equal to it in all 32 bytes: one differing in any single byte (the
// last 16 included) is CheckPCRPolicy; a PCR the quote does not select is
// CheckPCRPolicy too.
func TestPCRPolicyComparedWhole(t *testing.T) {
	ctx := context.Background()
	ev := (&testev.Builder{PCRSelect: []int{0, 4, 7}}).MustBuild()
	claims, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	pcr7 := bytes.Clone(claims.PCRs[7])
	off := func(i int) verify.HexBytes {
		v := bytes.Clone(pcr7)
		v[i] ^= 0x01
		return v
	}
	for _, tc := range []struct {
		name string
		pcrs map[int]verify.HexBytes
		ok   bool
	}{
		{"exact", map[int]verify.HexBytes{7: pcr7, 0: claims.PCRs[0]}, true},
		{"byte 0 differs", map[int]verify.HexBytes{7: off(0)}, false},
		{"byte 15 differs", map[int]verify.HexBytes{7: off(15)}, false},
		{"byte 16 differs", map[int]verify.HexBytes{7: off(16)}, false},
		{"byte 31 differs", map[int]verify.HexBytes{7: off(31)}, false},
		{"one of two differs", map[int]verify.HexBytes{0: claims.PCRs[0], 7: off(31)}, false},
		{"not selected", map[int]verify.HexBytes{8: pcr7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots(), Policy: verify.Policy{PCRs: tc.pcrs}})
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCheck(t, err, verify.CheckPCRPolicy)
		})
	}
}

// TestValidateVCEKProductLine: ValidateVCEK, a certificate source's check
// of what it obtained for a report as product line pl, refuses a genuine
// VCEK of the report's chip whose product line is another (CheckProduct):
// a source must not cache a Milan VCEK as the answer to a Genoa request.
func TestValidateVCEKProductLine(t *testing.T) {
	ev := (&testev.Builder{Product: snp.Milan}).MustBuild()
	r, err := snp.ParseReport(ev.Report)
	if err != nil {
		t.Fatal(err)
	}
	cfg := verify.Config{Roots: testev.Roots()}
	if err := verify.ValidateVCEK(cfg, r, snp.Milan, ev.VCEKDER); err != nil {
		t.Fatalf("its own product line: %v", err)
	}
	for _, pl := range []snp.Product{snp.Genoa, snp.Turin} {
		wantCheck(t, verify.ValidateVCEK(cfg, r, pl, ev.VCEKDER), verify.CheckProduct)
	}
}
