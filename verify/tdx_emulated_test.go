package verify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeintel/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// emulatedTDQuote is a TD quote of the emulated TDX CVM (the public fake
// Intel chain and keys of emulator/fakeintel) for the emulated paravisor's
// MRTD.
func emulatedTDQuote(t *testing.T) []byte {
	t.Helper()
	body, err := fakeintel.DefaultBody([64]byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	q, err := fakekeys.Quote(body)
	if err != nil {
		t.Fatal(err)
	}
	return q.Marshal()
}

// TestTDXEmulatedChainOnlyWhenTrusted: a TD quote under the emulated TDX
// CVM's fake Intel chain (whose keys are public) is rejected by
// tdx-pck-chain unless Config.TrustEmulatedTDX is set, and then its claims
// say so; TrustEmulatedTDX trusts no other self-made root; the emulated
// MRTD is trusted under the emulated chain only.
func TestTDXEmulatedChainOnlyWhenTrusted(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // within the fake chain's 2025..2045
	emu := emulatedTDQuote(t)
	f := tdxtest.New(t)
	selfMade := func(mrtd [48]byte) []byte {
		q, err := fakeintel.NewQuote(tdx.Body{MRTD: mrtd})
		if err != nil {
			t.Fatal(err)
		}
		f.Sign(t, q)
		return q.Marshal()
	}
	tests := []struct {
		name          string
		quote         []byte
		trustEmulated bool
		testRoot      bool // trust f's root (a test hook), not as emulated
		want          verify.Check
	}{
		{"emulated quote, default", emu, false, false, verify.CheckTDXPCKChain},
		{"emulated quote, --trust-emulated", emu, true, false, ""},
		{"self-made root, --trust-emulated", selfMade(fakeintel.MRTD()), true, false, verify.CheckTDXPCKChain},
		{"emulated MRTD under a root not the emulated one", selfMade(fakeintel.MRTD()), false, true, verify.CheckParavisorIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, verify.Config{Now: at, TrustEmulatedTDX: tt.trustEmulated})
			if tt.testRoot {
				verify.SetTDXRootForTest(v, f.Root)
			}
			c, err := v.TDXReport(context.Background(), nil, tt.quote)
			wantOutcome(t, c, err, tt.want)
			if tt.want != "" {
				return
			}
			if !c.Emulated || c.PinnedRoots || c.Paravisor != fakeintel.ParavisorName || c.Platform != verify.PlatformTDX || c.TDX.TCBStatus == verify.TCBNotEvaluated {
				t.Fatalf("claims: emulated %v pinned %v paravisor %q platform %q roots %q tcb %q", c.Emulated, c.PinnedRoots, c.Paravisor, c.Platform, c.RootsSource, c.TDX.TCBStatus)
			}
		})
	}
}

// TestTDXEmulatedNoGetter (mutation29b): an emulated TD quote is judged by
// the emulated collateral alone; Intel's collateral getter (here down) is
// not asked for it.
func TestTDXEmulatedNoGetter(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // within the fake chain's 2025..2045
	asked := false
	getter := getterFunc(func(context.Context, verify.TDXCollateralRequest) (*pcs.Collateral, error) {
		asked = true
		return nil, errors.New("Intel's PCS is down")
	})
	v := newVerifier(t, verify.Config{Now: at, TrustEmulatedTDX: true, TDXCollateralGetter: getter})
	c, err := v.TDXReport(context.Background(), nil, emulatedTDQuote(t))
	if err != nil || asked || !c.Emulated || c.TDX.TCBStatus == verify.TCBNotEvaluated {
		t.Fatalf("emulated quote with a getter: %v (getter asked %v)", err, asked)
	}
}
