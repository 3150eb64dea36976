package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// TestOfflineFetchesNoMAAKeys: --offline fetches no MAA JWKS. "maa verify
// --offline --instance URL" asked URL/certs (it verified, one request) and
// "verify --offline --maa-token FILE" without --maa-jwks fetched the
// policy's instance's /certs; both are now a usage error (exit 1) naming
// the flag that gives the keys, before any request, as is attest's local
// check of --maa-token (nothing is sent to the verifier). With the keys
// given, --offline verifies as before.
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

	// attest's local check of the token: nothing reaches the verifier.
	var sent atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(server.ChallengeResponse{Challenge: make([]byte, server.ChallengeSize), Suite: server.Suite})
	}))
	defer fake.Close()
	code, out, errOut = runCLI(t, "--emulate", "--timeout", "3s", "attest", "--offline", "--server", fake.URL, "--policy", policy, "--maa-token", vtok)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "--maa-jwks FILE")
	if n := sent.Load(); n != 0 {
		t.Errorf("attest sent %d requests to the verifier after a usage error", n)
	}
	if strings.Contains(errOut, "gave up") {
		t.Errorf("attest tried the network:\n%s", errOut)
	}
}

// TestOfflineHelpOfAskingCommands: attest's and maa attest's --offline
// say what they still ask (their help said "make no network request at
// all", which the command, asking a verifier or MAA, cannot keep).
func TestOfflineHelpOfAskingCommands(t *testing.T) {
	for cmd, asked := range map[string]string{"attest": "the verifier (--server) is still asked", "maa attest": "the MAA instance"} {
		_, out, _ := runCLI(t, append(strings.Fields(cmd), "--help")...)
		if !strings.Contains(out, asked) || strings.Contains(out, "make no network request at all") {
			t.Errorf("%s --help: --offline does not say that %q\n%s", cmd, asked, out)
		}
	}
}
