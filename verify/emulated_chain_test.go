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

// TestEmulatedChainNotCheckedAgainstAMDCRLs (emu30, emu30b): with
// revocation checking, evidence under the emulated chain (trusted, marked
// Emulated) is never checked against AMD's CRLs (Config.Revocation),
// which list only what AMD issued: before emu30, the checker (collateral's
// Chain: AMD's CRLs from KDS, validated under the pinned ARK) was asked
// about the fake ASK and VCEK. It is checked by EmulatedRevocation (the
// fake chain's own CRLs: collateral.EmulatedChain), with the fake ASK and
// VCEK, whose rejection rejects; emu30 left it unchecked. Evidence under
// any other chain goes to Revocation only, never to EmulatedRevocation.
func TestEmulatedChainNotCheckedAgainstAMDCRLs(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	emu := testev.Emulated(testev.Builder{}).MustBuild()
	var amd, emulated []string
	amdErr := errors.New("AMD's CRL asked about the emulated chain")
	cfg := verify.Config{Now: at, Roots: snp.DefaultRoots().Add(fake), Revocation: checker{asked: &amd, err: amdErr}}
	c, err := verify.Evidence(ctx, emu.JSON, emu.Nonce, cfg)
	if err != nil || !c.Emulated || len(amd) != 0 {
		t.Fatalf("emulated evidence, no EmulatedRevocation: %v (AMD's checker asked %v)", err, amd)
	}
	cfg.EmulatedRevocation = checker{asked: &emulated}
	c, err = verify.Evidence(ctx, emu.JSON, emu.Nonce, cfg)
	if err != nil || !c.Emulated || len(amd) != 0 {
		t.Fatalf("emulated evidence: %v (AMD's checker asked %v)", err, amd)
	}
	if want := []string{"VCEK", "SEV-Milan", "SEV-VCEK"}; strings.Join(emulated, ",") != strings.Join(want, ",") {
		t.Fatalf("the emulated chain's checker was asked %v, want %v", emulated, want)
	}
	cfg.EmulatedRevocation = checker{asked: &emulated, err: errors.New("revoked fake VCEK")}
	c, err = verify.Evidence(ctx, emu.JSON, emu.Nonce, cfg)
	wantOutcome(t, c, err, verify.CheckRevocation)
	emulated = nil
	other := testev.Builder{}
	ev := other.MustBuild()
	cfg = verify.Config{Roots: testev.Roots(), Revocation: checker{asked: &amd}, EmulatedRevocation: checker{asked: &emulated, err: errors.New("asked about a chain not marked Emulated")}}
	if _, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg); err != nil || len(amd) == 0 || len(emulated) != 0 {
		t.Fatalf("evidence under a test chain: %v, AMD's checker asked %v, the emulated one %v", err, amd, emulated)
	}
}
