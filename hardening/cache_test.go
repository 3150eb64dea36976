package hardening_test

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestCacheClaimsDoNotAlias checks that the claims returned from a caching
// Verifier are the caller's own: changing them must not change what a later
// verification of the same evidence reports or what its policy checks see.
func TestCacheClaimsDoNotAlias(t *testing.T) {
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			want := runDecoded(t, fx.ev, fx.nonce, uncached())
			if want.claims == nil {
				t.Fatalf("genuine evidence: %v", want)
			}
			opts := cached()
			c1, err := opts.Decoded(context.Background(), fx.ev, fx.nonce)
			if err != nil {
				t.Fatal(err)
			}
			// A careless caller scribbles over every byte it was given.
			for _, b := range [][]byte{c1.ChipID, c1.Measurement, c1.ReportData, c1.HostData, c1.FamilyID,
				c1.ImageID, c1.IDKeyDigest, c1.AuthorKeyDigest, c1.UserData, c1.AKPublic} {
				for i := range b {
					b[i] ^= 0xA5
				}
			}
			if c1.VMConfig != nil {
				c1.VMConfig.VMUniqueID = "00000000-0000-0000-0000-000000000000"
				c1.VMConfig.SecureBoot = !c1.VMConfig.SecureBoot
			}
			got := runDecoded(t, fx.ev, fx.nonce, opts)
			if got.claims == nil {
				t.Fatalf("second verification with the same cache: %v", got)
			}
			if got.json != want.json {
				t.Errorf("claims changed through the cache:\n got %s\nwant %s", got.json, want.json)
			}
		})
	}
}

func isCheck(err error, c verify.Check) bool {
	var ve *verify.Error
	return errors.As(err, &ve) && ve.Check == c
}
