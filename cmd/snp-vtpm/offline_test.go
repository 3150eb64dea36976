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
