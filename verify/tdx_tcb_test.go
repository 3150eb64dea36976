package verify_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// realCollateral is Intel's collateral for the Azure quotes' FMSPC,
// current at testutil.TDXFixtureTime.
func realCollateral(t *testing.T) *pcs.Collateral {
	t.Helper()
	return testutil.Must(pcs.LoadDir(testutil.IntelCollateral()))(t)
}

// TestTDXTCBStatusReal: trustee's real Azure TDX evidence is OutOfDate by
// Intel's real collateral at 2025-10-01 (module TDX_01 SVN 2): rejected by
// the default policy, accepted with the claims when the policy lists
// OutOfDate; without collateral the status is not evaluated, which a
// policy listing statuses rejects.
func TestTDXTCBStatusReal(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	coll := realCollateral(t)
	for _, tc := range []struct {
		name     string
		coll     *pcs.Collateral
		statuses []string
		check    verify.Check
		status   string
	}{
		{"default policy", coll, nil, verify.CheckTDXTCBStatus, ""},
		{"up to date only", coll, []string{pcs.UpToDate}, verify.CheckTDXTCBStatus, ""},
		{"out of date allowed", coll, []string{pcs.UpToDate, pcs.OutOfDate}, "", pcs.OutOfDate},
		{"no collateral", nil, nil, "", verify.TCBNotEvaluated},
		{"no collateral, policy", nil, []string{pcs.OutOfDate}, verify.CheckTDXTCBStatus, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tdxOpts()
			cfg.TDXCollateral, cfg.Policy.TDXTCBStatuses = tc.coll, tc.statuses
			c, err := tdxVerify(t, data, cfg)
			wantOutcome(t, c, err, tc.check)
			if tc.check != "" {
				return
			}
			if c.TDX.TCBStatus != tc.status {
				t.Fatalf("tcb_status %q, want %q", c.TDX.TCBStatus, tc.status)
			}
			if tc.coll != nil && (c.TDX.TCBDate != "2023-08-09T00:00:00Z" || c.TDX.TCBEvaluationDataNumber != 17 ||
				!slices.Equal(c.TDX.AdvisoryIDs, []string{"INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986"})) {
				t.Fatalf("claims %+v", c.TDX)
			}
		})
	}
}

// TestTDXCollateralUnusable: collateral that has expired at the
// verification time (today, or one second after the PCK CRL's nextUpdate)
// or is badly signed is ErrTDXCollateral naming the time, not a verdict.
func TestTDXCollateralUnusable(t *testing.T) {
	data := testutil.ReadFile(t, tdxDir+"evidence-v1.json")
	badSig := realCollateral(t)
	ti := *badSig.TCBInfos["00806f050000"]
	ti.Signed.Signature[5] ^= 1
	badSig.TCBInfos = map[string]*pcs.TCBInfo{"00806f050000": &ti}
	for _, tc := range []struct {
		name string
		coll *pcs.Collateral
		at   time.Time
		want string
	}{
		{"pck crl expired", realCollateral(t), time.Date(2025, 10, 2, 7, 3, 52, 0, time.UTC), "next update was due 2025-10-02T07:03:51Z, the verification time is 2025-10-02T07:03:52Z"},
		{"today", realCollateral(t), time.Now(), "has expired"},
		{"bad signature", badSig, testutil.TDXFixtureTime(), "TCB info: signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tdxOpts()
			cfg.TDXCollateral, cfg.Now = tc.coll, tc.at
			_, err := tdxVerify(t, data, cfg)
			if !errors.Is(err, verify.ErrTDXCollateral) || errors.Is(err, verify.ErrRejected) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrTDXCollateral (not a rejection) naming %q", err, tc.want)
			}
			wantUnavailable(t, err, verify.CheckTDXCollateral)
		})
	}
}

// TestTDXRevokedAndQE: with collateral under a test root (trusted through
// the test hook), a revoked PCK is tdx-pck-revoked and a QE identity of
// another signer is tdx-qe-identity.
func TestTDXRevokedAndQE(t *testing.T) {
	coll := realCollateral(t)
	f := tdxtest.New(t)
	data := resignedBy(t, f, func(*tdx.Quote) {})
	otherQE := []byte(strings.Replace(string(coll.QEIdentity.Signed.Raw), `"mrsigner":"DC9E`, `"mrsigner":"AB9E`, 1))
	for _, tc := range []struct {
		name  string
		c     tdxtest.Collateral
		check verify.Check
	}{
		{"revoked pck", tdxtest.Collateral{RevokePCK: true}, verify.CheckTDXPCKRevoked},
		{"revoked ca", tdxtest.Collateral{RevokeCA: true}, verify.CheckTDXPCKRevoked},
		{"other qe", tdxtest.Collateral{QEIdentity: otherQE}, verify.CheckTDXQEIdentity},
		{"out of date", tdxtest.Collateral{}, verify.CheckTDXTCBStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.TCBInfo = coll.TCBInfos["00806f050000"].Signed.Raw
			if c.QEIdentity == nil {
				c.QEIdentity = coll.QEIdentity.Signed.Raw
			}
			c.FMSPC = "00806f050000"
			pc, err := pcs.LoadDir(f.FS(t, c))
			if err != nil {
				t.Fatal(err)
			}
			cfg := tdxOpts()
			cfg.TDXCollateral = pc
			claims, err := verifyUnder(t, cfg, f.Root, data)
			wantOutcome(t, claims, err, tc.check)
		})
	}
}

// TestTDXTCBStatusesPolicy: the policy member is strict.
func TestTDXTCBStatusesPolicy(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
	}{
		{`{"tdx_tcb_statuses":["UpToDate","OutOfDate"]}`, ""},
		{`{"tdx_tcb_statuses":["Fine"]}`, "tdx_tcb_statuses[0]"},
		{`{"tdx_tcb_statuses":["UpToDate","UpToDate"]}`, "repeats"},
		{`{"tdx_tcb_statuses":["uptodate"]}`, "not one of Intel's"},
	} {
		_, err := verify.ParsePolicy([]byte(tc.doc))
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestTDXTCBStatusDefaults (audit28c): what the default policy does with
// each of Intel's statuses. Intel's real TCB info is edited so that the
// level trustee's quote reaches (platform level 1, TDX_01 SVN 2) has the
// status, and the module's level is UpToDate, then signed under a test
// root: the four defaults verify with that status claimed; OutOfDate,
// OutOfDateConfigurationNeeded and Revoked are tdx-tcb-status.
func TestTDXTCBStatusDefaults(t *testing.T) {
	coll := realCollateral(t)
	f := tdxtest.New(t)
	data := resignedBy(t, f, func(*tdx.Quote) {})
	for _, status := range pcs.Statuses() {
		t.Run(status, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(coll.TCBInfos["00806f050000"].Signed.Raw, &m); err != nil {
				t.Fatal(err)
			}
			m["tcbLevels"].([]any)[1].(map[string]any)["tcbStatus"] = status
			for _, id := range m["tdxModuleIdentities"].([]any) {
				if id := id.(map[string]any); id["id"] == "TDX_01" {
					id["tcbLevels"].([]any)[1].(map[string]any)["tcbStatus"] = pcs.UpToDate
				}
			}
			ti := testutil.Must(json.Marshal(m))(t)
			pc := testutil.Must(pcs.LoadDir(f.FS(t, tdxtest.Collateral{TCBInfo: ti, QEIdentity: coll.QEIdentity.Signed.Raw, FMSPC: "00806f050000"})))(t)
			cfg := tdxOpts()
			cfg.TDXCollateral = pc
			claims, err := verifyUnder(t, cfg, f.Root, data)
			if !slices.Contains(verify.DefaultTDXTCBStatuses(), status) {
				wantOutcome(t, claims, err, verify.CheckTDXTCBStatus)
				return
			}
			if err != nil || claims.TDX.TCBStatus != status {
				t.Fatalf("%v; want verified with %s", err, status)
			}
		})
	}
}
