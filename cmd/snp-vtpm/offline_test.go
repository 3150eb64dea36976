package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestOfflineFetchesNoMAAKeys: --offline fetches no MAA JWKS. "maa verify
// --offline --instance URL" asked URL/certs (it verified, one request) and
// "verify --offline --maa-token FILE" without --maa-jwks fetched the
// policy's instance's /certs; both are now a usage error (exit 1) naming
// the flag that gives the keys, before any request (attest's local check:
// TestAttestOfflineFetchesNoMAAKeys). With the keys given, --offline
// verifies as before.
func TestOfflineFetchesNoMAAKeys(t *testing.T) {
	tok, jwks := realMAAFiles(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(testutil.ReadFile(t, maaJWKS))
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, "maa", "verify", "--offline", "--instance", srv.URL, "--issuer", testmaa.Issuer, "--at", maaAt, tok)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "--offline")
	wantContains(t, "stderr", errOut, "--jwks FILE")
	if n := hits.Load(); n != 0 {
		t.Errorf("maa verify --offline sent %d requests to the instance", n)
	}
	code, out, errOut = runCLI(t, "maa", "verify", "--offline", "--jwks", jwks, "--issuer", testmaa.Issuer, "--at", maaAt, tok)
	wantExit(t, code, exitOK, out, errOut)

	// verify: the policy's instance is a real host (a policy names no
	// port), so the request would leave the machine; the usage error
	// comes before it (--timeout bounds the old behaviour's attempt).
	vtok, vjwks := serveVouchToken(t)
	ev := writeTemp(t, "evidence.json", testutil.Must(untrustedParavisorGather(t.Context(), []byte("n")))(t))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	args := []string{"--timeout", "3s", "--roots", roots, "--policy", policy, "--nonce", "n", "--maa-token", vtok}
	code, out, errOut = verifyCLI(t, nil, append(args, ev)...)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "--offline: the keys of "+testmaa.Issuer)
	wantContains(t, "stderr", errOut, "--maa-jwks FILE")
	code, out, errOut = verifyCLI(t, nil, append(args, "--maa-jwks", vjwks, ev)...)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "stdout", out, "maa-vouched")

}

// TestOfflineHelpOfAskingCommands: attest's and maa attest's --offline
// say what they still ask (their help said "make no network request at
// all", which the command, asking a verifier or MAA, cannot keep).
func TestOfflineHelpOfAskingCommands(t *testing.T) {
	for cmd, asked := range map[string]string{"attest": "the verifier (--server)", "maa attest": "the MAA instance"} {
		_, out, _ := runCLI(t, append(strings.Fields(cmd), "--help")...)
		if !strings.Contains(out, asked) || strings.Contains(out, "make no network request at all") {
			t.Errorf("%s --help: --offline does not say that %q\n%s", cmd, asked, out)
		}
	}
}

// TestFlagHelpSaysWhatOfflineNeeds: the help of the flags that later
// changes left stale says what they do now. --offline said only "a VCEK
// must be in the evidence or the cache", but Intel's collateral and AMD's
// CRLs are then read only from --collateral or the cache, and an MAA
// instance's keys are never fetched (the flag that gives them is named);
// --maa-jwks said its default was a fetch, which --offline refuses;
// --check-revocation said "fetch" (--offline: the cache only) and not that
// TDX evidence then needs Intel's collateral; maa verify's
// --trust-emulated said nothing of the emulated MAA's tokens, which is
// what it is for there; --maa-attest did not say it is refused beside
// --fresh.
func TestFlagHelpSaysWhatOfflineNeeds(t *testing.T) {
	root := newRootCmd(&globals{})
	usage := func(path, flag string) string {
		t.Helper()
		c, _, err := root.Find(strings.Fields(path))
		if err != nil || c.Flags().Lookup(flag) == nil {
			t.Fatalf("%s --%s: %v", path, flag, err)
		}
		return c.Flags().Lookup(flag).Usage
	}
	for _, path := range []string{"verify", "report", "evidence", "policy derive", "serve", "attest", "maa verify", "maa attest"} {
		wantContains(t, path+" --offline", usage(path, "offline"), "a VCEK must be in the evidence or the cache",
			"Intel's collateral (TDX) is read only from --collateral or the cache", "AMD's CRLs (--check-revocation) only from the cache")
		wantContains(t, path+" --check-revocation", usage(path, "check-revocation"), "with --offline the cached ones only",
			"TDX evidence then needs Intel's collateral")
	}
	for path, want := range map[string]string{
		"verify":     "the keys of --maa-token's instance are not fetched: give them with --maa-jwks",
		"attest":     "the keys of --maa-token's instance are not fetched: give them with --maa-jwks",
		"serve":      "the keys of the policy's maa_paravisor_instance are not fetched: give them with --maa-jwks",
		"maa verify": "the keys of --instance are not fetched: give them with --jwks",
	} {
		wantContains(t, path+" --offline", usage(path, "offline"), want)
	}
	for _, path := range []string{"verify", "attest"} {
		wantContains(t, path+" --maa-jwks", usage(path, "maa-jwks"), "with --offline it must be given")
	}
	wantContains(t, "maa verify --trust-emulated", usage("maa verify", "trust-emulated"), "the emulated MAA's tokens", "without --jwks or --instance")
	wantContains(t, "attest --maa-attest", usage("attest", "maa-attest"), "not with --fresh")
}
