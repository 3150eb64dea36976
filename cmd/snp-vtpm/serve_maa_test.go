package main

import (
	"context"
	"crypto/sha512"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// untrustedParavisorGather gathers evidence v1 (its report the same for
// every nonce) of a paravisor whose ID key no verifier trusts by default.
func untrustedParavisorGather(_ context.Context, nonce []byte) ([]byte, error) {
	newKey := sha512.Sum384([]byte("a new Azure paravisor ID key"))
	ev, err := (&testev.Builder{Version: 1, Nonce: nonce, IDKeyDigest: &newKey}).Build()
	if err != nil {
		return nil, err
	}
	return ev.JSON, nil
}

// serveVouchToken returns the files of a test-signed token of
// testmaa.Issuer for untrustedParavisorGather's report, and of its JWKS.
func serveVouchToken(t *testing.T) (token, jwks string) {
	ev, err := untrustedParavisorGather(t.Context(), []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := verify.Evidence(t.Context(), ev, []byte("n"), verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowAnyParavisor: true}})
	if err != nil {
		t.Fatal(err)
	}
	base := testutil.Must(testmaa.Edit(payloadOf(t, maaToken), func(m map[string]any) {
		now := time.Now().Unix()
		m["iat"], m["nbf"], m["exp"] = now, now, now+3600
	}))(t)
	return testSigned(t, testutil.Must(testmaa.PayloadFor(base, claims, &testev.AKKey().PublicKey))(t))
}

// TestServeMAAVouched: serve with a policy naming maa_paravisor_instance
// and the instance's JWKS pinned (--maa-jwks, so --offline) releases the
// secret to evidence of an untrusted paravisor whose request carries a
// token of the instance for its report, and logs the voucher; without the
// token it is 403 paravisor-identity. Before, serve had no way to take a
// token and refused it always.
func TestServeMAAVouched(t *testing.T) {
	token, jwks := serveVouchToken(t)
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	s := startServe(t, "--secret-file", secretFile, "--roots", roots, "--offline", "--policy", policy, "--maa-jwks", jwks)

	tok := strings.TrimSpace(string(testutil.Must(os.ReadFile(token))(t)))
	res, err := (&server.Client{URL: s.url, MAAToken: tok}).Attest(t.Context(), untrustedParavisorGather)
	if err != nil {
		t.Fatalf("vouched: %v\n%s", err, s.stderr)
	}
	if string(res.Secret) != cliSecret || res.Claims.Paravisor != verify.ParavisorVouched || res.Claims.ParavisorVoucher != testmaa.Issuer {
		t.Fatalf("vouched: secret %q, claims %+v", res.Secret, res.Claims)
	}
	_, err = (&server.Client{URL: s.url}).Attest(t.Context(), untrustedParavisorGather)
	if apiErr, ok := errors.AsType[*server.APIError](err); !ok || apiErr.StatusCode != http.StatusForbidden || apiErr.Check != string(verify.CheckParavisorIdentity) {
		t.Fatalf("no token: %v, want 403 paravisor-identity", err)
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited with %d:\n%s", code, s.stderr)
	}
	log := s.stderr.String()
	for _, want := range []string{"paravisor voucher", "jwks=pinned", "msg=\"secret released\"", "paravisor_voucher=" + testmaa.Issuer, "check=paravisor-identity"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// TestServeMAAUsage: --maa-jwks needs a policy naming the instance, and
// --offline a pinned JWKS for it (exit 1 before listening).
func TestServeMAAUsage(t *testing.T) {
	_, jwks := serveVouchToken(t)
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	for name, args := range map[string][]string{
		"jwks without instance":   {"--maa-jwks", jwks},
		"offline without jwks":    {"--policy", policy},
		"jwks that is not a JWKS": {"--policy", policy, "--maa-jwks", secretFile},
	} {
		code, out, errOut := runCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--offline", "--secret-file", secretFile}, args...)...)
		if code != exitUsage || strings.Contains(out, "listening on") {
			t.Errorf("%s: exit %d, want %d\n%s\n%s", name, code, exitUsage, out, errOut)
		}
	}
}
