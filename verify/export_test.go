package verify

import (
	"crypto/x509"
	"time"

	"github.com/snp-vtpm/snp-vtpm/snp"
)

// SetNowForTest and SetRootsForTest change the configuration of v between
// calls (never during one), so that tests can check that its caches key on
// the roots and recheck validity at the verification time, as they do for
// callers whose Config leaves Now zero (the clock moves on).
func SetNowForTest(v *Verifier, now time.Time) { v.cfg.Now = now }

// SetRootsForTest: see SetNowForTest.
func SetRootsForTest(v *Verifier, r *snp.Roots) { v.cfg.Roots = r }

// SetTDXRootForTest makes v trust root instead of the pinned Intel SGX
// Root CA for TD quotes (claims then say PinnedRoots false).
func SetTDXRootForTest(v *Verifier, root *x509.Certificate) { v.cfg.tdxRoot = root }

// CmdlineMatcherForTest is the matcher of a kernel_cmdline policy.
func CmdlineMatcherForTest(want string) (func(string) bool, error) { return cmdlineMatcher(want) }
