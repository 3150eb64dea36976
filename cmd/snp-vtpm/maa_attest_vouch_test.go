package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestMAAAttestVouchingPrecheck: "maa attest" on a CVM whose paravisor
// the policy does not trust, with the policy's maa_paravisor_instance the
// instance asked, checked its evidence with the full policy before asking
// MAA and so failed paravisor-identity: the token that was to vouch for
// the paravisor could never be obtained. Now, when (and only when) the
// policy names the instance asked (a trailing slash aside), the evidence
// MAA gets is checked without the paravisor's identity (preCheck), and
// after the token comes back the evidence is checked again in full with
// the token as voucher (recheck): it is maa-vouched; a token of another
// report is a rejection (exit 2) and leaves the claims as they were. A
// policy naming another instance, or none, keeps the full pre-check.
func TestMAAAttestVouchingPrecheck(t *testing.T) {
	tokenFile, jwksFile := serveVouchToken(t)
	token := testutil.Must(os.ReadFile(tokenFile))(t)
	keys := testutil.Must(maa.ParseJWKS(testutil.Must(os.ReadFile(jwksFile))(t)))(t)
	nonce := []byte("n")
	ev := testutil.Must(evidence.Decode(testutil.Must(untrustedParavisorGather(t.Context(), nonce))(t)))(t)
	// The policy names the instance and trusts only another paravisor,
	// so this evidence fails paravisor-identity without a voucher.
	azure := testev.AzureIDKeyDigest()
	policy := verify.Policy{MAAParavisorInstance: testmaa.Issuer, IDKeyDigests: []verify.HexBytes{azure[:]}}
	full := testutil.Must(verify.New(verify.Config{Roots: testev.Roots(), Policy: policy}))(t)
	_, err := full.Decoded(t.Context(), ev, nonce)
	wantParavisorIdentity(t, "the full policy", err)

	for _, instance := range []string{testmaa.Issuer, testmaa.Issuer + "/"} {
		tgt := &maaTarget{instance: instance, cfg: maa.Config{Keys: keys, Issuer: instance}}
		pre, vouching, err := tgt.preCheck(full)
		if err != nil || !vouching || pre == full {
			t.Fatalf("%s: preCheck = vouching %v, the same verifier %v, %v; want a relaxed verifier", instance, vouching, pre == full, err)
		}
		claims, err := pre.Decoded(t.Context(), ev, nonce)
		if err != nil {
			t.Fatalf("%s: the relaxed pre-check rejects the evidence MAA is to get: %v", instance, err)
		}
		if got := full.Config().Policy; len(got.IDKeyDigests) != 1 || got.AllowAnyParavisor {
			t.Fatalf("preCheck changed the policy it was given: %+v", got)
		}

		res := &attester.Result{Evidence: ev, Claims: claims}
		if err := tgt.recheck(t.Context(), full, token, res, nonce); err != nil {
			t.Fatalf("%s: the full re-check with the token as voucher: %v", instance, err)
		}
		if res.Claims.Paravisor != verify.ParavisorVouched || res.Claims.ParavisorVoucher != testmaa.Issuer {
			t.Fatalf("%s: re-checked claims say paravisor %q vouched by %q, want %q by %s", instance, res.Claims.Paravisor, res.Claims.ParavisorVoucher, verify.ParavisorVouched, testmaa.Issuer)
		}
	}

	// A token of another report (same paravisor, another VM) does not
	// vouch: exit 2, claims untouched.
	ours, _ := testmaa.UnknownParavisor(t)
	tgt := &maaTarget{instance: testmaa.Issuer, cfg: maa.Config{Keys: keys, Issuer: testmaa.Issuer}}
	res := &attester.Result{Evidence: ours.Evidence.Evidence, Claims: ours.Claims}
	err = tgt.recheck(t.Context(), full, token, res, ours.Evidence.Nonce)
	wantParavisorIdentity(t, "a token of another report", err)
	if exitCode(err) != exitRejected || !strings.Contains(err.Error(), "voucher") || res.Claims != ours.Claims {
		t.Fatalf("another report's token: exit %d, claims replaced %v: %v", exitCode(err), res.Claims != ours.Claims, err)
	}

	// Another instance, or none: the pre-check is the full policy's.
	none := testutil.Must(verify.New(verify.Config{Roots: testev.Roots(), Policy: verify.Policy{IDKeyDigests: policy.IDKeyDigests}}))(t)
	for name, c := range map[string]struct {
		v        *verify.Verifier
		instance string
	}{
		"another instance": {full, "https://other.eus2.attest.azure.net"},
		"no instance":      {none, testmaa.Issuer},
	} {
		pre, vouching, err := (&maaTarget{instance: c.instance}).preCheck(c.v)
		if err != nil || vouching || pre != c.v {
			t.Fatalf("%s: preCheck = vouching %v, the same verifier %v, %v; want the verifier unchanged", name, vouching, pre == c.v, err)
		}
		_, err = pre.Decoded(t.Context(), ev, nonce)
		wantParavisorIdentity(t, name, err)
	}
}

// wantParavisorIdentity fails t unless err is a rejection of
// paravisor-identity.
func wantParavisorIdentity(t *testing.T, what string, err error) {
	t.Helper()
	verr, ok := errors.AsType[*verify.Error](err)
	if !ok || verr.Check != verify.CheckParavisorIdentity {
		t.Fatalf("%s: %v, want a %s rejection", what, err, verify.CheckParavisorIdentity)
	}
}

// TestPolicyAudience: the aud a vouching token must name is the policy's
// maa_paravisor_audience, or the flag's when the policy names none; both
// given and different is an error naming the flag.
func TestPolicyAudience(t *testing.T) {
	for _, c := range []struct{ given, policy, want string }{
		{"", "", ""}, {"https://a", "", "https://a"}, {"", "https://p", "https://p"}, {"https://p", "https://p", "https://p"},
	} {
		if got, err := policyAudience("--audience", c.given, c.policy); err != nil || got != c.want {
			t.Errorf("policyAudience(%q, %q) = %q, %v; want %q", c.given, c.policy, got, err, c.want)
		}
	}
	if _, err := policyAudience("--audience", "https://a", "https://p"); err == nil || !strings.Contains(err.Error(), "--audience") {
		t.Errorf("a flag that differs from the policy: %v, want an error naming --audience", err)
	}
}
