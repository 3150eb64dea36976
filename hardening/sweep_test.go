package hardening_test

import (
	"os"
	"testing"
)

// fullSweepEnv names the environment variable that runs the mutation
// sweeps over every mutation (make sweep, which .ci/run runs). Without it
// the sweeps run a deterministic sample that still reaches every region of
// every fixture, so that make test stays fast.
const fullSweepEnv = "SNPVTPM_FULL_SWEEP"

// sampleStride is the fraction of flip mutations a sampled sweep keeps.
const sampleStride = 16

// fullSweep reports whether the full sweep was asked for.
func fullSweep() bool { return os.Getenv(fullSweepEnv) == "1" }

// sample returns every mutation with the full sweep, else a deterministic
// sample of them: every length change, the first and last flip of each
// region, and every sampleStride-th flip in between, starting at phase
// (vary it per fixture so that the fixtures together reach more offsets).
// The sample size is logged so that a run says what it covered.
func sample[M any](t *testing.T, ms []M, region func(M) string, isFlip func(M) bool, phase int) []M {
	t.Helper()
	if fullSweep() {
		return ms
	}
	var out []M
	seen := 0
	for i, m := range ms {
		last := i+1 == len(ms) || region(ms[i+1]) != region(m)
		first := i == 0 || region(ms[i-1]) != region(m)
		if first {
			seen = 0
		}
		if !isFlip(m) || first || last || (seen+phase)%sampleStride == 0 {
			out = append(out, m)
		}
		seen++
	}
	t.Logf("sampled sweep: %d of %d mutations (%s=1 runs all of them: make sweep)", len(out), len(ms), fullSweepEnv)
	return out
}
