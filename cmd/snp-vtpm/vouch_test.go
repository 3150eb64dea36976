package main

import (
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestVerifyMAAVouchCLI: evidence of a paravisor whose ID key snp-vtpm
// does not know verifies when the policy names an MAA instance and
// --maa-token is that instance's token for the same report; without the
// token, with another VM's token or with an untrusted key it exits 2
// naming paravisor-identity; a token without the policy entry is a usage
// error.
func TestVerifyMAAVouchCLI(t *testing.T) {
	ours, other := testmaa.UnknownParavisor(t)
	ev := ours.Evidence
	// tokenFor returns the files of a fresh test-signed token for e's
	// evidence with attestation key ak, and of the JWKS that trusts it.
	tokenFor := func(e testmaa.Vouchee, ak *rsa.PrivateKey) (token, jwks string) {
		base, err := testmaa.Edit(payloadOf(t, maaToken), func(m map[string]any) {
			now := time.Now().Unix()
			m["iat"], m["nbf"], m["exp"] = now, now, now+3600
		})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := testmaa.PayloadFor(base, e.Claims, &ak.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return testSigned(t, payload)
	}
	good, jwksFile := tokenFor(ours, testev.AKKey())
	otherVM, _ := tokenFor(other, testev.OtherRSAKey())
	file := writeTemp(t, "evidence.json", ev.JSON)
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	base := []string{"--roots", roots, "--nonce", string(ev.Nonce)}
	run := func(args ...string) (int, string, string) {
		return verifyCLI(t, nil, append(append(append([]string(nil), base...), args...), file)...)
	}

	code, out, errOut := run("--policy", policy, "--maa-token", good, "--maa-jwks", jwksFile)
	if code != 0 || !strings.Contains(out, "maa-vouched") || !strings.Contains(out, testmaa.Issuer) {
		t.Fatalf("vouched: exit %d\n%s\n%s", code, out, errOut)
	}
	for name, args := range map[string][]string{
		"no token":                {"--policy", policy},
		"another VM's token":      {"--policy", policy, "--maa-token", otherVM, "--maa-jwks", jwksFile},
		"token under another key": {"--policy", policy, "--maa-token", good, "--maa-jwks", writeTemp(t, "real.json", testutil.ReadFile(t, maaJWKS))},
	} {
		code, out, errOut := run(args...)
		if code != 2 || !strings.Contains(errOut+out, string(verify.CheckParavisorIdentity)) {
			t.Errorf("%s: exit %d, want 2 naming %s\n%s\n%s", name, code, verify.CheckParavisorIdentity, out, errOut)
		}
	}
	for name, args := range map[string][]string{
		"token without policy entry": {"--maa-token", good},
		"jwks without token":         {"--policy", policy, "--maa-jwks", jwksFile},
	} {
		if code, out, errOut := run(args...); code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s\n%s", name, code, out, errOut)
		}
	}
}
