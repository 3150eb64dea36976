package server

import (
	"context"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestForge30ResourcePolicyNeverWidens: a resource's extra policy adds to
// the server's; one that loosens what the server's policy holds (any
// paravisor, debug, an uncommitted TCB) releases nothing the server's
// policy refuses, and emulated evidence gets nothing from a server that
// does not trust the emulated chain, whatever the resource.
func TestForge30ResourcePolicyNeverWidens(t *testing.T) {
	cfg := testConfig()
	cfg.Secret = nil
	loose := &verify.Policy{AllowAnyParavisor: true, AllowDebug: true, AllowUncommittedTCB: true, AllowMigrationAgent: true}
	cfg.Resources = map[string]Resource{"loose": {Secret: []byte("pw-loose"), Policy: loose}}
	ts := startHTTP(t, newServer(t, cfg))
	zero := [48]byte{}
	for _, tc := range []struct {
		name  string
		build func(nonce []byte) *testev.Builder
		want  verify.Check
	}{
		{"zero ID key digest", func(n []byte) *testev.Builder { return &testev.Builder{Nonce: n, IDKeyDigest: &zero} }, verify.CheckParavisorIdentity},
		{"debug guest", func(n []byte) *testev.Builder { return &testev.Builder{Nonce: n, Policy: testev.DebugPolicy} }, verify.CheckDebug},
		{"emulated CVM", func(n []byte) *testev.Builder { return testev.Emulated(testev.Builder{Nonce: n}) }, verify.CheckVCEKChain},
	} {
		build := tc.build
		t.Run(tc.name, func(t *testing.T) {
			gather := func(_ context.Context, nonce []byte) ([]byte, error) {
				ev, err := build(nonce).Build()
				if err != nil {
					return nil, err
				}
				return ev.JSON, nil
			}
			res, err := (&Client{URL: ts.URL, Resource: "loose"}).Attest(context.Background(), gather)
			if res != nil {
				t.Fatalf("secret released: %q", res.Secret)
			}
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok || apiErr.StatusCode != 403 || !errors.Is(err, ErrRejected) || apiErr.Check != string(tc.want) {
				t.Fatalf("err = %v, want a 403 naming %s", err, tc.want)
			}
		})
	}
	res, err := (&Client{URL: ts.URL, Resource: "loose"}).Attest(context.Background(), synthetic(t))
	if err != nil || string(res.Secret) != "pw-loose" {
		t.Fatalf("genuine evidence: %v", err)
	}
}
