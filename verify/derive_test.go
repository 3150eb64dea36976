package verify_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestDerivePolicyRoundTrip: the policy derived from the claims of real
// evidence accepts that evidence and rejects evidence of another VM: the
// Milan VM's policy rejects the Genoa VM (and the TDX VM: another
// platform), the TDX VM's policy rejects the Milan VM.
func TestDerivePolicyRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg := fixedOpts()
	milan := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
	genoa := testutil.ReadFile(t, testutil.SNPDir+"evidence-genoa.json")
	tdxEv := testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json")
	claimsOf := func(data []byte, nonce []byte) *verify.Claims {
		t.Helper()
		c, err := verify.Evidence(ctx, data, nonce, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	milanClaims := claimsOf(milan, []byte("challenge"))
	tdxClaims := claimsOf(tdxEv, []byte("challenge"))
	for _, tc := range []struct {
		name   string
		claims *verify.Claims
		pcrs   []int
		data   []byte
		nonce  []byte
		check  verify.Check // "" accepted
	}{
		{"milan policy, milan", milanClaims, []int{0, 7}, milan, []byte("challenge"), ""},
		{"milan policy, genoa", milanClaims, nil, genoa, quotedNonce(t, genoa), verify.CheckProduct},
		{"milan policy, tdx", milanClaims, nil, tdxEv, []byte("challenge"), verify.CheckPlatform},
		{"tdx policy, tdx", tdxClaims, []int{7}, tdxEv, []byte("challenge"), ""},
		{"tdx policy, milan", tdxClaims, nil, milan, []byte("challenge"), verify.CheckPlatform},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify.DerivePolicy(tc.claims, tc.pcrs)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.PCRs) != len(tc.pcrs) {
				t.Errorf("policy pins %d PCRs, want %d", len(p.PCRs), len(tc.pcrs))
			}
			c := cfg
			c.Policy = *p
			claims, err := verify.Evidence(ctx, tc.data, tc.nonce, c)
			wantOutcome(t, claims, err, tc.check)
		})
	}
}

// TestDerivePolicy: what the derived policy holds, that it shares no
// memory with the claims, and the claims it cannot derive a policy from.
func TestDerivePolicy(t *testing.T) {
	c, err := verify.Evidence(context.Background(), testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json"), []byte("challenge"), fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	p, err := verify.DerivePolicy(c, []int{7})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Platforms) != 1 || p.Platforms[0] != verify.PlatformSNP || p.MinTCB == nil || *p.MinTCB != c.ReportedTCB ||
		len(p.Measurements) != 1 || !bytes.Equal(p.Measurements[0], c.Measurement) ||
		len(p.IDKeyDigests) != 1 || !bytes.Equal(p.IDKeyDigests[0], c.IDKeyDigest) ||
		len(p.Products) != 1 || p.Products[0] != "Milan" || !bytes.Equal(p.PCRs[7], c.PCRs[7]) {
		t.Fatalf("derived %+v", p)
	}
	c.Measurement[0] ^= 1
	c.IDKeyDigest[0] ^= 1
	c.PCRs[7][0] ^= 1
	if bytes.Equal(p.Measurements[0], c.Measurement) || bytes.Equal(p.IDKeyDigests[0], c.IDKeyDigest) || bytes.Equal(p.PCRs[7], c.PCRs[7]) {
		t.Error("the policy shares memory with the claims")
	}

	emulated := *c
	emulated.Paravisor = verify.ParavisorEmulated
	if p, err := verify.DerivePolicy(&emulated, nil); err != nil || p.IDKeyDigests != nil {
		t.Errorf("emulated paravisor: %v, id_key_digests %v (want none)", err, p)
	}

	noValues := *c
	noValues.PCRs, noValues.PCRValues = nil, verify.PCRValuesAbsent
	zeroKey := *c
	zeroKey.IDKeyDigest = make([]byte, 48)
	for _, tc := range []struct {
		name   string
		claims *verify.Claims
		pcrs   []int
		want   string
	}{
		{"nil claims", nil, nil, "no claims"},
		{"PCR not quoted", c, []int{7, 24}, "no value for PCR 24"},
		{"no PCR values", &noValues, []int{7}, "carries no PCR values"},
		{"TDX without MRTD", &verify.Claims{Platform: verify.PlatformTDX}, nil, "no MRTD"},
		{"zero ID key", &zeroKey, nil, "id_key_digests[0]"},
	} {
		p, err := verify.DerivePolicy(tc.claims, tc.pcrs)
		if err == nil || !strings.Contains(err.Error(), tc.want) || p != nil {
			t.Errorf("%s: %v, %v; want an error saying %q", tc.name, p, err, tc.want)
		}
	}
	// Without PCRs asked for, absent values are no error.
	if _, err := verify.DerivePolicy(&noValues, nil); err != nil {
		t.Errorf("no PCR values, none asked: %v", err)
	}
}
