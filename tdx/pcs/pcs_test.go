package pcs_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// loadReal loads Intel's real collateral for FMSPC 00806f050000, all
// valid at testutil.TDXFixtureTime (2025-10-01).
func loadReal(t testing.TB) *pcs.Collateral {
	t.Helper()
	return testutil.Must(pcs.LoadDir(testutil.IntelCollateral()))(t)
}

var verifiedQuote = pcs.VerifiedQuote

// TestRealGolden reproduces Intel's verdicts on three real Azure quotes
// at 2025-10-01 (checked with go-tdx-guest, see SOURCES.md).
func TestRealGolden(t *testing.T) {
	c := loadReal(t)
	for _, tc := range []struct {
		file                  string
		status, plat, mod, qe string
		date                  string
		advisories            []string
	}{
		{"intel-collateral/azure-tdx-quote-teekit.bin", pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, "2024-03-13", nil},
		{"ita-aztdx/td-quote.bin", pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, pcs.UpToDate, "2024-03-13", nil},
		{"trustee-az-vtpm/az-tdx-vtpm/td-quote.bin", pcs.OutOfDate, pcs.OutOfDate, pcs.OutOfDate, pcs.UpToDate, "2023-08-09",
			[]string{"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			q, v := verifiedQuote(t, tc.file)
			r, err := c.Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tc.status || r.PlatformStatus != tc.plat || r.ModuleStatus != tc.mod || r.QEStatus != tc.qe {
				t.Errorf("status %s (platform %s, module %s, QE %s), want %s (%s, %s, %s)", r.Status, r.PlatformStatus, r.ModuleStatus, r.QEStatus, tc.status, tc.plat, tc.mod, tc.qe)
			}
			if got := r.TCBDate.Format(time.DateOnly); got != tc.date {
				t.Errorf("tcb date %s, want %s", got, tc.date)
			}
			if !slices.Equal(r.AdvisoryIDs, tc.advisories) {
				t.Errorf("advisories %v, want %v", r.AdvisoryIDs, tc.advisories)
			}
			if r.TCBEvaluationDataNumber != 17 {
				t.Errorf("evaluation data number %d", r.TCBEvaluationDataNumber)
			}
		})
	}
}

// TestTimeWindows: every document and CRL is checked at the verification
// time, and the error names what expired and when.
func TestTimeWindows(t *testing.T) {
	c := loadReal(t)
	q, v := verifiedQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2025-10-02T07:03:52Z", "PCK CRL (platform) has expired: its next update was due 2025-10-02T07:03:51Z"},
		{"2025-10-02T07:03:51Z", ""}, // the PCK CRL's last valid second
		{"2025-09-29T18:04:58Z", ""}, // the TCB info's first
		{"2026-12-04T00:00:00Z", "has expired"},
		{"2025-09-29T18:04:57Z", "TCB info is not yet valid at 2025-09-29T18:04:57Z"},
		{"2025-03-01T00:00:00Z", "the TCB signing certificate: x509: certificate has expired or is not yet valid"},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		_, err := c.Evaluate(q, v, pcs.Options{Now: at})
		if tc.want == "" {
			if err != nil {
				t.Errorf("at %s: %v", tc.at, err)
			}
			continue
		}
		if !errors.Is(err, pcs.ErrCollateral) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("at %s: %v, want ErrCollateral naming %q", tc.at, err, tc.want)
		}
	}
}

// TestRealFeb2026Collateral: Intel's collateral for FMSPC 90c06f000000 as
// Phala's dcap-qvl captured it in Feb 2026 (testdata/intel-collateral/
// pcs-90c06f000000) puts all three real Azure quotes of that FMSPC (dcap-qvl's
// v5 quote and cvm-attestation-tools' v4 and v5) below every TCB level:
// their PCK's SGX component 8 is 3 where every level needs 5 (dcap-qvl
// passes that quote only with a TCB override). Against the 00806f050000
// collateral the same quote is of another FMSPC (ErrCollateral).
func TestRealFeb2026Collateral(t *testing.T) {
	c := testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), "intel-collateral/pcs-90c06f000000"))))(t)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range []string{"intel-collateral/azure-tdx-quote-v5-dcapqvl.bin",
		"azure-cvm-attestation-tools/td-quote-v4.bin", "azure-cvm-attestation-tools/td-quote-v5.bin"} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			q, v := quoteAt(t, f, at)
			r, err := c.Evaluate(q, v, pcs.Options{Now: at})
			if !errors.Is(err, pcs.ErrTCBLevel) || !strings.Contains(err.Error(), "SGX components [3 3 2 2 4 1 0 3 ") {
				t.Fatalf("Evaluate = %+v, %v; want ErrTCBLevel naming the SGX components", r, err)
			}
		})
	}
	q, v := quoteAt(t, "intel-collateral/azure-tdx-quote-v5-dcapqvl.bin", at)
	if _, err := loadReal(t).Evaluate(q, v, pcs.Options{Now: testutil.TDXFixtureTime()}); !errors.Is(err, pcs.ErrCollateral) ||
		!strings.Contains(err.Error(), "90c06f000000") {
		t.Errorf("with the 00806f050000 collateral: %v, want ErrCollateral naming the FMSPC", err)
	}
	if _, err := c.Evaluate(q, v, pcs.Options{Now: time.Date(2026, 3, 20, 11, 0, 0, 0, time.UTC)}); !errors.Is(err, pcs.ErrCollateral) {
		t.Errorf("after the PCK CRL's next update: %v, want ErrCollateral", err)
	}
}

// quoteAt parses a real TD quote and verifies it offline at at.
func quoteAt(t *testing.T, file string, at time.Time) (*tdx.Quote, *tdx.Verified) {
	t.Helper()
	q := testutil.Must(tdx.ParseQuote(testutil.ReadFile(t, file)))(t)
	return q, testutil.Must(q.Verify(tdx.VerifyOptions{Now: at}))(t)
}

// TestLoadDirFMSPCOnce: a TCB info's file may name its FMSPC in either
// case, but two files naming one FMSPC (differing in case only) are
// refused: before, both loaded under the lower-case FMSPC and the one
// the directory listed last (the lower-case name) silently counted.
func TestLoadDirFMSPCOnce(t *testing.T) {
	files := testutil.RegularFiles(t, testutil.IntelCollateral())
	const lower = pcs.TCBInfoPrefix + "00806f050000.json"
	const upper = pcs.TCBInfoPrefix + "00806F050000.json"
	dir := func(names ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for n, b := range files {
			if n != lower {
				m[n] = &fstest.MapFile{Data: b}
			}
		}
		for _, n := range names {
			m[n] = &fstest.MapFile{Data: files[lower]}
		}
		return m
	}
	c, err := pcs.LoadDir(dir(upper))
	if err != nil || c.TCBInfos["00806f050000"] == nil || len(c.TCBInfos) != 1 {
		t.Fatalf("upper-case file name: %v", err)
	}
	if c, err := pcs.LoadDir(dir(upper, lower)); c != nil || err == nil || !strings.Contains(err.Error(), "a second TCB info for FMSPC 00806f050000") {
		t.Fatalf("two files for one FMSPC: collateral %v, error %v", c != nil, err)
	}
}
