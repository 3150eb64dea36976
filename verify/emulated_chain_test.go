package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestUntrustedEmulatedChainNamed (emu30): what the emulated CVMs signed,
// verified without trusting their fake chains, is rejected by the chain
// check with an error that says so (ErrEmulatedChain, "emulated" in the
// text), for SEV-SNP (evidence, a bare report with its VCEK) and TDX (a TD
// quote). Before, the TDX rejection said only that the root is not Intel's
// (the CLI's hint, which looked for the marker in the quote's PEM chain,
// never found it), and SEV-SNP's only through the fake ASK's name. A chain
// rejection of anything else does not match ErrEmulatedChain, and with the
// emulated chain trusted the same inputs verify.
func TestUntrustedEmulatedChainNamed(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // within the fake chains' 2025..2045
	emu := testev.Emulated(testev.Builder{}).MustBuild()
	other := (&testev.Builder{}).MustBuild() // a test chain, not the emulated one
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		check    verify.Check
		emulated bool
		run      func(v *verify.Verifier) (*verify.Claims, error)
	}{
		{"emulated SEV-SNP evidence", verify.CheckVCEKChain, true, func(v *verify.Verifier) (*verify.Claims, error) {
			return v.Evidence(ctx, emu.JSON, emu.Nonce)
		}},
		{"emulated SEV-SNP report and VCEK", verify.CheckVCEKChain, true, func(v *verify.Verifier) (*verify.Claims, error) {
			return v.Report(ctx, emu.Evidence.HCLReport, fakeamd.VCEKDER())
		}},
		{"emulated TD quote", verify.CheckTDXPCKChain, true, func(v *verify.Verifier) (*verify.Claims, error) {
			return v.TDXReport(ctx, nil, emulatedTDQuote(t))
		}},
		{"another self-made SEV-SNP chain", verify.CheckVCEKChain, false, func(v *verify.Verifier) (*verify.Claims, error) {
			return v.Evidence(ctx, other.JSON, other.Nonce)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.run(newVerifier(t, verify.Config{Now: at}))
			wantOutcome(t, c, err, tc.check)
			if got := errors.Is(err, verify.ErrEmulatedChain); got != tc.emulated {
				t.Fatalf("errors.Is(ErrEmulatedChain) = %v, want %v: %v", got, tc.emulated, err)
			}
			if tc.emulated && !strings.Contains(err.Error(), "emulated CVM's fake") {
				t.Errorf("the rejection does not say emulated: %v", err)
			}
			if !tc.emulated {
				return
			}
			trusted := newVerifier(t, verify.Config{Now: at, Roots: snp.DefaultRoots().Add(fake), TrustEmulatedTDX: true})
			if c, err := tc.run(trusted); err != nil || !c.Emulated {
				t.Fatalf("with the emulated chains trusted: %v", err)
			}
		})
	}
}

// TestEmulatedChainNotCheckedAgainstAMDCRLs (emu30): with revocation
// checking, evidence under the emulated chain (trusted, marked Emulated)
// is not checked against AMD's CRLs, which list only what AMD issued:
// before, the checker (collateral's Chain: AMD's CRLs from KDS, validated
// under the pinned ARK) was asked about the fake ASK and VCEK, so an
// emulated run fetched AMD's CRLs (failing offline) to vouch for
// certificates AMD never issued. Evidence under any other chain is still
// checked.
func TestEmulatedChainNotCheckedAgainstAMDCRLs(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	emu := testev.Emulated(testev.Builder{}).MustBuild()
	var asked []string
	cfg := verify.Config{Now: at, Roots: snp.DefaultRoots().Add(fake), Revocation: checker{asked: &asked, err: errors.New("AMD's CRL asked about the emulated chain")}}
	c, err := verify.Evidence(ctx, emu.JSON, emu.Nonce, cfg)
	if err != nil || !c.Emulated || len(asked) != 0 {
		t.Fatalf("emulated evidence with revocation checking: %v (checker asked %v)", err, asked)
	}
	other := testev.Builder{}
	ev := other.MustBuild()
	cfg = verify.Config{Roots: testev.Roots(), Revocation: checker{asked: &asked}}
	if _, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg); err != nil || len(asked) == 0 {
		t.Fatalf("evidence under a test chain: %v, checker asked %v", err, asked)
	}
}
