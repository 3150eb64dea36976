package server

import (
	"context"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestParavisorForgeryReleasesNothing: evidence from a guest at VMPL0 on a
// trusted (test) chip that is not Azure's paravisor (its ID_KEY_DIGEST is
// zero, its own, ACI's or the emulator's public one) gets no secret, even
// when the policy pins PCR values (which the forger copies).
func TestParavisorForgeryReleasesNothing(t *testing.T) {
	cfg := testConfig()
	cfg.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{
		PCRs: map[int]verify.HexBytes{4: testev.DefaultPCRs()[4], 7: testev.DefaultPCRs()[7]},
	}})
	ts := startHTTP(t, newServer(t, cfg))
	for name, d := range map[string][48]byte{
		"zero":     {},
		"own key":  sha512.Sum384([]byte("forger's ID key")),
		"ACI":      testev.ACIIDKeyDigest(),
		"emulator": fakeamd.IDKeyDigest(),
	} {
		t.Run(name, func(t *testing.T) {
			gather := func(ctx context.Context, nonce []byte) ([]byte, error) {
				ev, err := (&testev.Builder{Nonce: nonce, IDKeyDigest: &d}).Build()
				if err != nil {
					return nil, err
				}
				return ev.JSON, nil
			}
			res, err := (&Client{URL: ts.URL}).Attest(context.Background(), gather)
			if res != nil {
				t.Fatalf("secret released: %q", res.Secret)
			}
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || !errors.Is(err, ErrRejected) || apiErr.Check != string(verify.CheckParavisorIdentity) || apiErr.StatusCode != 403 {
				t.Fatalf("err = %#v, want a 403 paravisor-identity rejection", err)
			}
		})
	}
	// The same server releases the secret to Azure's paravisor.
	res, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t))
	if err != nil || string(res.Secret) != string(testSecret) {
		t.Fatalf("genuine evidence: %v %+v", err, res)
	}
}
