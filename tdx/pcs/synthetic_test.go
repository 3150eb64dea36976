package pcs_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
)

// innerJSON returns the signed inner objects of the real documents,
// edited by edit (nil: unchanged).
func innerJSON(t *testing.T, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	var raw []byte
	if strings.Contains(file, "tcbinfo") {
		ti, err := pcs.ParseTCBInfo(testutil.ReadFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		raw = ti.Signed.Raw
	} else {
		qe, err := pcs.ParseQEIdentity(testutil.ReadFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		raw = qe.Signed.Raw
	}
	if edit == nil {
		return raw
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeCase is the trustee quote re-signed by a self-made Intel-like chain
// and collateral for it under that chain's root.
func fakeCase(t *testing.T, c tdxtest.Collateral) (*pcs.Collateral, *tdx.Quote, *tdx.Verified, *tdxtest.FakeIntel, pcs.Options) {
	t.Helper()
	f := tdxtest.New(t)
	q, err := tdx.ParseQuote(testutil.ReadFile(t, "trustee-az-vtpm/az-tdx-vtpm/td-quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f.Sign(t, q)
	now := testutil.TDXFixtureTime()
	v, err := q.Verify(tdx.VerifyOptions{Now: now, Root: f.Root})
	if err != nil {
		t.Fatal(err)
	}
	if c.TCBInfo == nil {
		c.TCBInfo = innerJSON(t, tcbInfoFile, nil)
	}
	if c.QEIdentity == nil {
		c.QEIdentity = innerJSON(t, qeIDFile, nil)
	}
	c.FMSPC = "00806f050000"
	coll, err := pcs.LoadDir(f.FS(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return coll, q, v, f, pcs.Options{Now: now, Root: f.Root}
}

// TestRevoked: the PCK's serial on the PCK CRL, or its CA's on the root
// CRL (both signed under a test root), is ErrRevoked naming the CRL.
func TestRevoked(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    tdxtest.Collateral
		want string
	}{
		{"pck", tdxtest.Collateral{RevokePCK: true}, "on the PCK CRL (platform)"},
		{"ca", tdxtest.Collateral{RevokeCA: true}, "on the Intel SGX Root CA CRL"},
		{"other serials", tdxtest.Collateral{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, _, opts := fakeCase(t, tc.c)
			r, err := c.Evaluate(q, v, opts)
			if tc.want == "" {
				if err != nil || r.Status != pcs.OutOfDate {
					t.Fatalf("%v %+v", err, r)
				}
				return
			}
			if !errors.Is(err, pcs.ErrRevoked) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrRevoked %q", err, tc.want)
			}
		})
	}
}

// TestFakeRootNotPinned: the same collateral is not trusted under the
// pinned root.
func TestFakeRootNotPinned(t *testing.T) {
	c, q, v, _, opts := fakeCase(t, tdxtest.Collateral{})
	opts.Root = nil
	if _, err := c.Evaluate(q, v, opts); !errors.Is(err, pcs.ErrCollateral) {
		t.Fatalf("%v", err)
	}
}

func levels(m map[string]any, key string) []any { return m[key].([]any) }

func moduleLevels(m map[string]any, id string) []any {
	for _, x := range levels(m, "tdxModuleIdentities") {
		if mi := x.(map[string]any); mi["id"] == id {
			return levels(mi, "tcbLevels")
		}
	}
	panic(id)
}

func setStatus(l any, s string) { l.(map[string]any)["tcbStatus"] = s }

// TestEvaluation: statuses fold as Intel's library folds them, and a quote
// below every level, of an unknown module or of another QE is rejected.
func TestEvaluation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tcb    func(m map[string]any)
		qe     func(m map[string]any)
		status string
		kind   error
	}{
		{"as Intel says", nil, nil, pcs.OutOfDate, nil},
		{"module revoked", func(m map[string]any) { setStatus(moduleLevels(m, "TDX_01")[1], pcs.Revoked) }, nil, pcs.Revoked, nil},
		{"config needed + module out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.ConfigurationNeeded)
		}, nil, pcs.OutOfDateConfigurationNeeded, nil},
		{"all up to date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.SWHardeningNeeded)
			setStatus(moduleLevels(m, "TDX_01")[1], pcs.UpToDate)
		}, nil, pcs.SWHardeningNeeded, nil},
		{"qe out of date", func(m map[string]any) {
			setStatus(levels(m, "tcbLevels")[1], pcs.UpToDate)
			setStatus(moduleLevels(m, "TDX_01")[1], pcs.UpToDate)
		}, func(m map[string]any) { setStatus(levels(m, "tcbLevels")[0], pcs.OutOfDate) }, pcs.OutOfDate, nil},
		{"below every level", func(m map[string]any) { m["tcbLevels"] = levels(m, "tcbLevels")[:1] }, nil, "", pcs.ErrTCBLevel},
		{"unknown module", func(m map[string]any) { m["tdxModuleIdentities"] = levels(m, "tdxModuleIdentities")[:1] }, nil, "", pcs.ErrTCBLevel},
		{"module signer", func(m map[string]any) { m["tdxModule"].(map[string]any)["mrsigner"] = strings.Repeat("11", 48) }, nil, "", pcs.ErrTCBLevel},
		{"qe mrsigner", nil, func(m map[string]any) { m["mrsigner"] = strings.Repeat("00", 32) }, "", pcs.ErrQEIdentity},
		{"qe prodid", nil, func(m map[string]any) { m["isvprodid"] = 1 }, "", pcs.ErrQEIdentity},
		{"qe attributes", nil, func(m map[string]any) { m["attributes"] = "13000000000000000000000000000000" }, "", pcs.ErrQEIdentity},
		{"qe svn", nil, func(m map[string]any) {
			levels(m, "tcbLevels")[0].(map[string]any)["tcb"] = map[string]any{"isvsvn": 9}
		}, "", pcs.ErrTCBLevel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q, v, _, opts := fakeCase(t, tdxtest.Collateral{
				TCBInfo: innerJSON(t, tcbInfoFile, tc.tcb), QEIdentity: innerJSON(t, qeIDFile, tc.qe)})
			r, err := c.Evaluate(q, v, opts)
			if tc.kind != nil {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("%v, want %v", err, tc.kind)
				}
				return
			}
			if err != nil || r.Status != tc.status {
				t.Fatalf("%v %+v, want %s", err, r, tc.status)
			}
		})
	}
}
