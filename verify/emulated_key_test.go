package verify_test

import (
	"context"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// reissuedChain is a Milan chain an attacker issues with keys of the
// emulated CVM's fake AMD chain (all public): other certificates than
// fakeamd's (testev's subjects, serials, validity), the same keys.
func reissuedChain(t *testing.T, ark, ask, asvk *rsa.PrivateKey) *testev.Chain {
	t.Helper()
	c, err := testev.NewChain(snp.Milan, ark, ask, asvk)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEmulatedKeyNotTrustedUnmarked: evidence signed under a chain that
// holds a key of the emulated CVM's fake AMD chain (ARK, ASK or ASVK: a
// re-issued chain, not byte-equal to fakeamd's) is rejected by vcek-chain
// with ErrEmulatedKey when the chain is trusted as a custom one (the
// CLI's --roots, Config.Roots), through Evidence, Report and a
// VCEKGetter; the same chain marked Emulated verifies with claims that
// say emulated. Before the check such evidence verified as non-emulated,
// with Azure's paravisor ID key digest written by the forger.
func TestEmulatedKeyNotTrustedUnmarked(t *testing.T) {
	ctx := context.Background()
	fakeARK, fakeASK, other := fakekeys.ARKKey(), fakekeys.ASKKey(), testev.OtherRSAKey()
	for _, tc := range []struct {
		name  string
		chain *testev.Chain
		vlek  bool
	}{
		{"fake ARK and ASK keys", reissuedChain(t, fakeARK, fakeASK, nil), false},
		{"fake ARK key only", reissuedChain(t, fakeARK, other, nil), false},
		{"fake ASK key under another ARK", reissuedChain(t, other, fakeASK, nil), false},
		{"fake ASK key as the ASVK (VLEK)", reissuedChain(t, testev.ARKKey(), testev.ASKKey(), fakeASK), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testev.Builder{Chain: tc.chain}
			if tc.vlek {
				b.VCEK = testev.VCEKTemplate{VLEK: true}
			}
			ev := b.MustBuild()
			unmarked := snp.DefaultRoots().Replace(tc.chain.SNPChain())
			cfg := verify.Config{Roots: unmarked}
			claims, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, cfg)
			wantEmulatedKey(t, err, verify.CheckVCEKChain)
			if claims != nil {
				t.Error("claims returned with an error")
			}
			_, err = reportWith(ctx, ev.Evidence.HCLReport, ev.VCEKDER, cfg)
			wantEmulatedKey(t, err, verify.CheckVCEKChain)
			if !tc.vlek {
				// A getter's VCEK goes through the same check (Validate).
				noVCEK := (&testev.Builder{Chain: tc.chain, OmitVCEK: true}).MustBuild()
				getter := verify.VCEKGetterFunc(func(_ context.Context, req verify.VCEKRequest) ([]byte, error) {
					if err := req.Validate(noVCEK.VCEKDER); err != nil {
						return nil, err
					}
					return noVCEK.VCEKDER, nil
				})
				_, err = verify.Evidence(ctx, noVCEK.JSON, noVCEK.Nonce, verify.Config{Roots: unmarked, VCEKGetter: getter})
				wantEmulatedKey(t, err, verify.CheckVCEKMissing)
			}

			// Marked Emulated (as fakeamd.Chain is): verified, and said so.
			sc := tc.chain.SNPChain()
			sc.Emulated = true
			c, err := verify.Evidence(ctx, ev.JSON, ev.Nonce, verify.Config{Roots: snp.DefaultRoots().Add(sc)})
			if err != nil {
				t.Fatalf("under the chain marked emulated: %v", err)
			}
			if !c.Emulated || c.PinnedRoots {
				t.Errorf("claims emulated %v, pinned roots %v; want emulated, not pinned", c.Emulated, c.PinnedRoots)
			}
		})
	}
}

// wantEmulatedKey wants a rejection by check that matches ErrEmulatedKey.
func wantEmulatedKey(t *testing.T, err error, check verify.Check) {
	t.Helper()
	wantCheck(t, err, check)
	if !errors.Is(err, verify.ErrEmulatedKey) {
		t.Errorf("err = %v, does not match ErrEmulatedKey", err)
	}
}
