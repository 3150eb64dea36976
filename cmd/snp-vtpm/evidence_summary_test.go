package main

import (
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
)

// TestEvidenceSummaryTrusteeNote: "snp-vtpm evidence" says when the
// evidence it wrote is one that trustee's Azure vTPM verifier refuses
// (SEV-SNP evidence without the VCEK: trustee requires "vcek" and fetches
// none), and says nothing of trustee otherwise.
func TestEvidenceSummaryTrusteeNote(t *testing.T) {
	for _, tc := range []struct {
		name     string
		b        testev.Builder
		emulated bool
		want     []string
		wantNote bool
	}{
		{"with VCEK", testev.Builder{Version: 2}, false, []string{"evidence version 2 (report refreshed with the nonce), with VCEK written to ev.json\n"}, false},
		{"emulated", testev.Builder{Version: 1}, true, []string{"EMULATED evidence version 1 (boot-time report; freshness from the quote), with VCEK written to ev.json\n"}, false},
		{"without VCEK", testev.Builder{Version: 2, OmitVCEK: true}, false, []string{"without VCEK (the verifier fetches it from AMD KDS)", "refuses this evidence: vcek: SEV-SNP evidence without the VCEK\n"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := evidenceSummary(tc.b.MustBuild().Evidence, "ev.json", tc.emulated)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("summary %q lacks %q", got, w)
				}
			}
			if note := strings.Contains(got, "note: trustee's Azure vTPM verifier (Confidential Containers) refuses this evidence"); note != tc.wantNote {
				t.Errorf("summary %q: trustee note %v, want %v", got, note, tc.wantNote)
			}
		})
	}
}
