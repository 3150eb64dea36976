package verify_test

import (
	"context"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
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
