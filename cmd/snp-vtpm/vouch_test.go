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
// naming paravisor-identity, as does a token with an aud (unless
// --maa-audience names it) or valid for a year; a token without the
// policy entry is a usage error.
func TestVerifyMAAVouchCLI(t *testing.T) {
	// vouchRejection is the maa check each rejected token fails.
	vouchRejection := map[string]string{
		"token with an aud": "maa-audience", "token with another aud": "maa-audience",
		"token without the aud": "maa-audience", "token valid for a year": "maa-lifetime",
		"token without the policy's aud": "maa-audience",
	}
	ours, other := testmaa.UnknownParavisor(t)
	ev := ours.Evidence
	// tokenFor returns the files of a fresh test-signed token for e's
	// evidence with attestation key ak, and of the JWKS that trusts it.
	tokenFor := func(e testmaa.Vouchee, ak *rsa.PrivateKey, change ...func(m map[string]any)) (token, jwks string) {
		base, err := testmaa.Edit(payloadOf(t, maaToken), func(m map[string]any) {
			now := time.Now().Unix()
			m["iat"], m["nbf"], m["exp"] = now, now, now+3600
			for _, c := range change {
				c(m)
			}
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
	// MAA's token for a relying party named in aud (a custom policy's),
	// and one valid for a year (maa-lifetime).
	withAud, _ := tokenFor(ours, testev.AKKey(), func(m map[string]any) { m["aud"] = []string{"https://rp.example"} })
	longLived, _ := tokenFor(ours, testev.AKKey(), func(m map[string]any) { m["exp"] = m["iat"].(int64) + 365*24*3600 })
	file := writeTemp(t, "evidence.json", ev.JSON)
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	// A policy that names the aud of its instance's tokens (a custom
	// policy's relying party): maa_paravisor_audience.
	audPolicy := writeTemp(t, "aud-policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`", "maa_paravisor_audience": "https://rp.example"}`))
	base := []string{"--roots", roots, "--nonce", string(ev.Nonce)}
	run := func(args ...string) (int, string, string) {
		return verifyCLI(t, nil, append(append(append([]string(nil), base...), args...), file)...)
	}

	for _, args := range [][]string{
		{"--policy", policy, "--maa-token", good, "--maa-jwks", jwksFile},
		{"--policy", policy, "--maa-token", withAud, "--maa-jwks", jwksFile, "--maa-audience", "https://rp.example"},
		{"--policy", audPolicy, "--maa-token", withAud, "--maa-jwks", jwksFile},
		{"--policy", audPolicy, "--maa-token", withAud, "--maa-jwks", jwksFile, "--maa-audience", "https://rp.example"},
	} {
		code, out, errOut := run(args...)
		if code != 0 || !strings.Contains(out, "maa-vouched") || !strings.Contains(out, testmaa.Issuer) {
			t.Fatalf("vouched %v: exit %d\n%s\n%s", args[3:], code, out, errOut)
		}
	}
	for name, args := range map[string][]string{
		"no token":                       {"--policy", policy},
		"another VM's token":             {"--policy", policy, "--maa-token", otherVM, "--maa-jwks", jwksFile},
		"token under another key":        {"--policy", policy, "--maa-token", good, "--maa-jwks", writeTemp(t, "real.json", testutil.ReadFile(t, maaJWKS))},
		"token with an aud":              {"--policy", policy, "--maa-token", withAud, "--maa-jwks", jwksFile},
		"token with another aud":         {"--policy", policy, "--maa-token", withAud, "--maa-jwks", jwksFile, "--maa-audience", "https://other.example"},
		"token without the aud":          {"--policy", policy, "--maa-token", good, "--maa-jwks", jwksFile, "--maa-audience", "https://rp.example"},
		"token valid for a year":         {"--policy", policy, "--maa-token", longLived, "--maa-jwks", jwksFile},
		"token without the policy's aud": {"--policy", audPolicy, "--maa-token", good, "--maa-jwks", jwksFile},
	} {
		code, out, errOut := run(args...)
		if code != 2 || !strings.Contains(errOut+out, string(verify.CheckParavisorIdentity)) {
			t.Errorf("%s: exit %d, want 2 naming %s\n%s\n%s", name, code, verify.CheckParavisorIdentity, out, errOut)
		}
		if want := vouchRejection[name]; want != "" && !strings.Contains(errOut+out, want) {
			t.Errorf("%s: the rejection does not name %s\n%s\n%s", name, want, out, errOut)
		}
	}
	for name, args := range map[string][]string{
		"token without policy entry":  {"--maa-token", good},
		"jwks without token":          {"--policy", policy, "--maa-jwks", jwksFile},
		"audience without token":      {"--policy", policy, "--maa-audience", "https://rp.example"},
		"flag contradicts policy aud": {"--policy", audPolicy, "--maa-token", withAud, "--maa-jwks", jwksFile, "--maa-audience", "https://other.example"},
	} {
		if code, out, errOut := run(args...); code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s\n%s", name, code, out, errOut)
		}
	}
}
