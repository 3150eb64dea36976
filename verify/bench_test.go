package verify_test

import (
	"context"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// BenchmarkVerifyEvidence verifies the real v1 evidence: "fresh" with
// its cache disabled (every signature checked, as for evidence never seen
// before), "repeat" with one long-lived caching Verifier. The cryptographic
// floor these compare with, and the ratios, are package bench's
// (BenchmarkFloor, TestRatios).
func BenchmarkVerifyEvidence(b *testing.B) {
	nonce := []byte("challenge")
	for _, bc := range []struct {
		name    string
		file    string
		disable bool
	}{{"fresh", "evidence-v1.json", true}, {"repeat", "evidence-v1.json", false}, {"repeat-v0", "evidence-v0.json", false}} {
		data := testutil.ReadFile(b, testutil.SNPDir+bc.file)
		b.Run(bc.name, func(b *testing.B) {
			v := newVerifier(b, verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: bc.disable}})
			if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
