package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// FuzzEvidence checks that verify.Evidence never panics on any input and
// that every error is an *verify.Error matching ErrRejected (or the
// context's error). It is seeded with every real evidence document.
//
// The setup generates no key: under "go test -fuzz" every worker process
// runs it with coverage instrumentation, where RSA key generation takes
// long enough to stall the workers.
func FuzzEvidence(f *testing.F) {
	seeds := []string{
		testutil.SNPDir + "evidence-v0.json",
		testutil.SNPDir + "evidence-v1.json",
		testutil.SNPDir + "evidence-v2.json",
		testutil.SNPDir + "evidence-genoa.json",
		"trustee-az-vtpm/az-tdx-vtpm/evidence-v0.json",
		"trustee-az-vtpm/az-tdx-vtpm/evidence-v1.json",
	}
	for _, s := range seeds {
		f.Add(testutil.ReadFile(f, s), []byte("challenge"))
	}
	f.Add(assembledEvidence(f), []byte("challenge"))
	f.Add([]byte(`{"version":2}`), []byte{})

	// One Options for every input, as a server would use it: the cache must
	// not carry anything from one input to another that changes the outcome.
	opts := verify.Config{Now: testutil.FixtureTime()}
	f.Fuzz(func(t *testing.T, data, nonce []byte) {
		claims, err := verify.Evidence(context.Background(), data, nonce, opts)
		if err == nil {
			if claims == nil {
				t.Fatal("nil claims without an error")
			}
			return
		}
		if claims != nil {
			t.Fatal("claims with an error")
		}
		var verr *verify.Error
		if !errors.As(err, &verr) || !errors.Is(err, verify.ErrRejected) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			t.Fatalf("error %v (%T) is not a *verify.Error", err, err)
		}
		if verr.Check == "" || verr.Err == nil {
			t.Fatalf("incomplete error %#v", verr)
		}
		checkErrorBounded(t, err)
	})
}

// FuzzReport checks that verify.Report never panics on any blob and VCEK
// and that every error is an *verify.Error. It is seeded with the real HCL
// reports, the bare THIM report and their VCEKs (no key generation, see
// FuzzEvidence).
func FuzzReport(f *testing.F) {
	thim := thimVCEK(f)
	trustee := vcekOf(f, testutil.SNPDir+"vcek.pem")
	f.Add(testutil.ReadFile(f, "azure-thim/snp_report.bin"), thim)
	f.Add(testutil.ReadFile(f, testutil.SNPDir+"hcl-report.bin"), trustee)
	f.Add(testutil.ReadFile(f, "azure-cvm-tooling/hcl-report-snp.bin"), vcekOf(f, "azure-cvm-tooling/certs.pem"))
	f.Add(testutil.ReadFile(f, "azure-cvm-tooling/hcl-report-tdx.bin"), trustee)
	opts := verify.Config{Now: testutil.FixtureTime()}
	f.Fuzz(func(t *testing.T, blob, vcek []byte) {
		claims, err := reportWith(context.Background(), blob, vcek, opts)
		if err == nil {
			if claims == nil {
				t.Fatal("nil claims without an error")
			}
			return
		}
		var verr *verify.Error
		if !errors.As(err, &verr) || !errors.Is(err, verify.ErrRejected) || verr.Check == "" || verr.Err == nil {
			t.Fatalf("error %v (%T) is not a complete *verify.Error", err, err)
		}
		checkErrorBounded(t, err)
	})
}

// maxFuzzError bounds a verification error's message: errors quote the
// input they name cut short (format.Truncate), so no input makes a long one.
const maxFuzzError = 4096

func checkErrorBounded(t *testing.T, err error) {
	t.Helper()
	if n := len(err.Error()); n > maxFuzzError {
		t.Fatalf("error of %d bytes: %.200s...", n, err)
	}
}
