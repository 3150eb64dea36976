package collateral

import (
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// teekit is the real Azure TD quote that Intel's collateral for FMSPC
// 00806f050000 finds UpToDate at testutil.TDXFixtureTime.
func teekit(t *testing.T) (*tdx.Quote, *tdx.Verified) {
	t.Helper()
	return tdxtest.RealQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
}

func newFakePCS(t *testing.T) *tdxtest.FakePCS {
	return tdxtest.NewFakePCS(t, tdxtest.RealCollateralFiles(t))
}

func newIntel(pcsURL, dir string) *Intel {
	return &Intel{Dir: dir, PCS: &PCSClient{BaseURL: pcsURL, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}}
}

func intelReq(v *tdx.Verified, now time.Time) verify.TDXCollateralRequest {
	return verify.TDXCollateralRequest{FMSPC: v.SGX.FMSPC, CA: pcs.PCKCA(v), Now: now}
}

// wantUpToDate evaluates the teekit quote against c.
func wantUpToDate(t *testing.T, c *pcs.Collateral, q *tdx.Quote, v *tdx.Verified) {
	t.Helper()
	r, err := c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
	if err != nil || r.Status != pcs.UpToDate {
		t.Fatalf("Evaluate: %v, %+v; want UpToDate", err, r)
	}
}

// TestIntelFetch: the collateral is fetched from the PCS (4 requests),
// verified and evaluated (the teekit quote is UpToDate at 2025-10-01);
// 16 concurrent calls of a fresh Intel share one fetch per item; a
// second Intel on the same cache directory asks nothing.
func TestIntelFetch(t *testing.T) {
	q, v := teekit(t)
	fake, dir := newFakePCS(t), t.TempDir()
	in := newIntel(fake.URL, dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	colls := make([]*pcs.Collateral, 16)
	for i := range 16 {
		wg.Go(func() { colls[i], errs[i] = in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())) })
	}
	wg.Wait()
	for i := range 16 {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		wantUpToDate(t, colls[i], q, v)
	}
	if n := fake.Requests(); n != 4 {
		t.Errorf("%d requests for 16 concurrent verifications, want 4 (one per item)", n)
	}
	if _, err := in.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime())); err != nil || fake.Requests() != 4 {
		t.Errorf("memory: %v, %d requests", err, fake.Requests())
	}
	for _, f := range []string{"tcbinfo-tdx-00806f050000.json", "tcbinfo-tdx-00806f050000.issuer-chain.pem", "qeidentity-tdx.json", "pckcrl-platform.der", "pckcrl-platform.issuer-chain.pem", "rootcacrl.der"} {
		if _, err := os.Stat(filepath.Join(dir, "intel", f)); err != nil {
			t.Errorf("disk cache: %v", err)
		}
	}
	second := newIntel(fake.URL, dir)
	c, err := second.TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, c, q, v)
	if s := second.Stats(); fake.Requests() != 4 || s.DiskHits != 4 || s.Fetches != 0 {
		t.Errorf("second client: %d requests, stats %+v; want none, 4 disk hits", fake.Requests(), s)
	}
}

// TestIntelRefetch: past the PCK CRL's nextUpdate (2025-10-02T07:03:51Z)
// only the PCK CRL is asked again; the PCS still serves the expired one,
// which is an error that is not a rejection, and nothing replaces the
// cached items.
func TestIntelRefetch(t *testing.T) {
	in, fake, v := warmIntel(t)
	ctx := context.Background()
	later := time.Date(2025, 10, 2, 7, 5, 0, 0, time.UTC)
	_, err := in.TDXCollateral(ctx, intelReq(v, later))
	if !errors.Is(err, ErrInvalidCollateral) || !errors.Is(err, pcs.ErrCollateral) || errors.Is(err, verify.ErrRejected) {
		t.Fatalf("expired PCK CRL from the PCS: %v", err)
	}
	if fake.Requests() != 5 || fake.PathRequests("/sgx/certification/v4/pckcrl") != 2 {
		t.Errorf("%d requests, %d for the PCK CRL; want 5 and 2", fake.Requests(), fake.PathRequests("/sgx/certification/v4/pckcrl"))
	}
	if !strings.Contains(err.Error(), "2025-10-02T07:03:51Z") {
		t.Errorf("error does not name the CRL's next update: %v", err)
	}
}

// TestIntelBeforeIssue (mutation29b): an item held in memory is not
// served for a verification time before its issue date (a TCB info
// issued after the time it would judge): it is read and checked again,
// and fails.
func TestIntelBeforeIssue(t *testing.T) {
	in, _, v := warmIntel(t)
	ctx := context.Background()
	earlier := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC) // before the TCB info's issueDate, 2025-09-02
	if _, err := in.TDXCollateral(ctx, intelReq(v, earlier)); !errors.Is(err, ErrInvalidCollateral) || !errors.Is(err, pcs.ErrCollateral) {
		t.Fatalf("collateral issued after the verification time: %v", err)
	}
}

// TestIntelTampered: a changed body, a wrong issuer chain, a missing
// header or garbage is ErrInvalidCollateral, never a rejection, and is
// not cached: the failure is remembered for NegativeTTL (no request),
// then the PCS, mended, is asked again.
func TestIntelTampered(t *testing.T) {
	q, v := teekit(t)
	files := tdxtest.RealCollateralFiles(t)
	tcb := files["tcbinfo-tdx-00806f050000.json"]
	for _, tc := range []struct {
		name, item string
		left       int64 // requests once mended: this item and those after it
		hook       func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"body", "tcbinfo", 4, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/tdx/certification/v4/tcb" {
				return false
			}
			w.Header().Set(HeaderTCBInfoIssuerChain, tdxtest.EncodeIssuerChain(files["tcb-signing-chain.pem"]))
			_, _ = w.Write([]byte(strings.Replace(string(tcb), `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":18`, 1)))
			return true
		}},
		{"issuer chain", "qeidentity", 3, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/tdx/certification/v4/qe/identity" {
				return false
			}
			w.Header().Set(HeaderQEIdentityChain, tdxtest.EncodeIssuerChain(files[tdxtest.PCKCRLIssuerChainFile]))
			_, _ = w.Write(files["qeidentity-tdx.json"])
			return true
		}},
		{"no header", "pckcrl", 2, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/sgx/certification/v4/pckcrl" {
				return false
			}
			_, _ = w.Write(files["pckcrl-platform.der"])
			return true
		}},
		{"garbage", "rootcacrl", 1, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/sgx/certification/v4/rootcacrl" {
				return false
			}
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(tcb), `"tcbEvaluationDataNumber":17`) {
				t.Fatal("the TCB info no longer has the member this test changes")
			}
			fake, dir := newFakePCS(t), t.TempDir()
			fake.SetHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool { return tc.hook(w, r) })
			in, clk := newIntel(fake.URL, dir), newTestClock()
			in.Now = clk.Now
			_, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
			if !errors.Is(err, ErrInvalidCollateral) || !errors.Is(err, ErrFetchFailed) || errors.Is(err, ErrRecentFailure) || errors.Is(err, verify.ErrRejected) {
				t.Fatalf("got %v, want ErrInvalidCollateral and ErrFetchFailed (this call's fetch)", err)
			}
			ents, _ := os.ReadDir(filepath.Join(dir, "intel"))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), tc.item) {
					t.Errorf("cached the tampered item: %s", e.Name())
				}
			}
			fake.SetHook(nil)
			before := fake.Requests()
			if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); !errors.Is(err, ErrRecentFailure) || !errors.Is(err, ErrInvalidCollateral) || fake.Requests() != before {
				t.Fatalf("mended, within the back-off: %v, %d requests (want none)", err, fake.Requests()-before)
			}
			clk.Advance(DefaultNegativeTTL)
			c, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
			if err != nil {
				t.Fatal(err)
			}
			wantUpToDate(t, c, q, v)
			if fake.Requests() != before+tc.left {
				t.Errorf("%d requests after the PCS was mended, want %d (the rejected item and those not yet asked)", fake.Requests()-before, tc.left)
			}
		})
	}
}

// TestIntelOffline: offline with nothing cached, the error names every
// missing item and --collateral DIR, matches ErrOffline and
// verify.ErrTDXCollateralMissing, and nothing is asked; Static
// collateral alone is enough.
func TestIntelOffline(t *testing.T) {
	q, v := teekit(t)
	fake := newFakePCS(t)
	in := newIntel(fake.URL, t.TempDir())
	in.Offline = true
	_, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if !errors.Is(err, ErrOffline) || !errors.Is(err, verify.ErrTDXCollateralMissing) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"TCB info for FMSPC 00806f050000", "TD QE identity", "PCK CRL (platform)", "Root CA CRL", "--collateral DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	in.Static = testutil.Must(pcs.LoadDir(testutil.IntelCollateral()))(t)
	c, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, c, q, v)
	if fake.Requests() != 0 {
		t.Errorf("%d requests offline", fake.Requests())
	}
}

// TestIntelRetry: 500 and 429 are retried (the httpget retries of KDS);
// a 404 is not; a PCS that is down is an error that is no rejection.
func TestIntelRetry(t *testing.T) {
	q, v := teekit(t)
	fake := newFakePCS(t)
	fake.SetHook(func(w http.ResponseWriter, r *http.Request, n int64) bool {
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			return false
		}
		return true
	})
	in := newIntel(fake.URL, t.TempDir())
	c, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if err != nil {
		t.Fatal(err)
	}
	wantUpToDate(t, c, q, v)
	if s := in.Stats(); s.Fetches != 6 || s.Retries != 2 || fake.Requests() != 6 {
		t.Errorf("stats %+v, %d requests; want 6 fetches, 2 retries", s, fake.Requests())
	}

	fake.SetHook(func(w http.ResponseWriter, r *http.Request, _ int64) bool { http.NotFound(w, r); return true })
	before := fake.Requests()
	_, err = newIntel(fake.URL, t.TempDir()).TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime()))
	if err == nil || errors.Is(err, verify.ErrRejected) || fake.Requests() != before+1 {
		t.Errorf("404: %v after %d requests", err, fake.Requests()-before)
	}

	down := newFakePCS(t)
	down.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = newIntel(down.URL, t.TempDir()).TDXCollateral(ctx, intelReq(v, testutil.TDXFixtureTime()))
	if err == nil || errors.Is(err, verify.ErrRejected) || !strings.Contains(err.Error(), "Intel PCS") {
		t.Errorf("PCS down: %v", err)
	}
}

// TestIntelEmulated: the emulated TDX CVM's fake collateral
// (fakeintel.Collateral) is served and verified the same way under the
// fake root, at the current time, with the fake PCK CA as the PCK CRL's
// issuer chain.
func TestIntelEmulated(t *testing.T) {
	files := map[string][]byte{}
	err := fs.WalkDir(fakeintel.Collateral(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(fakeintel.Collateral(), p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, rest := pem.Decode(fakeintel.ChainPEM()) // drop the PCK: the CA, then the root
	files[tdxtest.PCKCRLIssuerChainFile] = rest
	fake := tdxtest.NewFakePCS(t, files)
	in := newIntel(fake.URL, t.TempDir())
	in.Root = fakeintel.Root()
	var fmspc [6]byte
	if _, err := hex.Decode(fmspc[:], []byte(fakeintel.FMSPC)); err != nil {
		t.Fatal(err)
	}
	c, err := in.TDXCollateral(context.Background(), verify.TDXCollateralRequest{FMSPC: fmspc, CA: pcs.CAPlatform})
	if err != nil {
		t.Fatal(err)
	}
	if c.TCBInfos[fakeintel.FMSPC] == nil || c.QEIdentity == nil || c.RootCRL == nil || fake.Requests() != 4 {
		t.Fatalf("collateral %+v after %d requests", c, fake.Requests())
	}
	if _, err := newIntel(fake.URL, t.TempDir()).TDXCollateral(context.Background(), verify.TDXCollateralRequest{FMSPC: fmspc, CA: pcs.CAPlatform}); !errors.Is(err, ErrInvalidCollateral) {
		t.Fatalf("fake collateral under Intel's pinned root: %v", err)
	}
}

// warmIntel is an Intel source over a fake PCS serving the teekit quote's
// collateral, with that collateral fetched once at the fixture time.
func warmIntel(t *testing.T) (*Intel, *tdxtest.FakePCS, *tdx.Verified) {
	t.Helper()
	_, v := teekit(t)
	fake := newFakePCS(t)
	in := newIntel(fake.URL, t.TempDir())
	if _, err := in.TDXCollateral(context.Background(), intelReq(v, testutil.TDXFixtureTime())); err != nil {
		t.Fatal(err)
	}
	return in, fake, v
}
