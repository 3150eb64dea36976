//go:build cgo

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/maa"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// recordingVerifier is a verifier that hands out challenges and answers
// every attest request 403, recording the request; requests counts all.
type recordingVerifier struct {
	url      string
	requests atomic.Int32
	got      atomic.Pointer[server.AttestRequest]
}

func newRecordingVerifier(t *testing.T) *recordingVerifier {
	rv := new(recordingVerifier)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rv.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == server.PathChallenge {
			_ = json.NewEncoder(w).Encode(server.ChallengeResponse{Challenge: make([]byte, server.ChallengeSize), Suite: server.Suite})
			return
		}
		var req server.AttestRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err == nil {
			rv.got.Store(&req)
		}
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(server.ErrorResponse{Error: "recorded", Check: "test"})
	}))
	t.Cleanup(fake.Close)
	rv.url = fake.URL
	return rv
}

// TestAttestOfflineFetchesNoMAAKeys: attest --offline --maa-token FILE
// without --maa-jwks fetched the policy's instance's /certs for its local
// check; now it is a usage error naming --maa-jwks, and nothing reaches
// the verifier.
func TestAttestOfflineFetchesNoMAAKeys(t *testing.T) {
	token, _ := serveVouchToken(t)
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	rv := newRecordingVerifier(t)
	code, out, errOut := runCLI(t, "--emulate", "--timeout", "3s", "attest", "--offline", "--server", rv.url, "--policy", policy, "--maa-token", token)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "--offline: the keys of "+testmaa.Issuer)
	wantContains(t, "stderr", errOut, "--maa-jwks FILE")
	if n := rv.requests.Load(); n != 0 {
		t.Errorf("attest sent %d requests to the verifier after a usage error", n)
	}
}

// TestAttestMAAAttestEmulated: attest --maa-attest obtains the token in
// the same run (here from the fake MAA of --emulate) and sends it: the
// verifier gets, as maa_token, a token of the emulated MAA that verifies
// under its key and names the emulated CVM's VM id. The emulated paravisor
// is trusted, so a real serve ignores the token and releases the secret.
func TestAttestMAAAttestEmulated(t *testing.T) {
	rv := newRecordingVerifier(t)
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", rv.url, "--maa-attest")
	wantExit(t, code, exitRejected, out, errOut) // the recording verifier's 403
	wantContains(t, "stderr", errOut, "EMULATED MAA token")
	req := rv.got.Load()
	if req == nil || req.MAAToken == "" {
		t.Fatalf("the verifier got no maa_token: %+v\n%s", req, errOut)
	}
	keys := testutil.Must(maa.EmulatedKeys())(t)
	claims, err := maa.Verify(t.Context(), []byte(req.MAAToken), maa.Config{Keys: keys, Issuer: maa.EmulatedIssuer, TrustEmulated: true})
	if err != nil || !claims.Emulated() || claims.VMID == "" || !strings.Contains(errOut, claims.VMID) {
		t.Fatalf("the token sent does not verify as the emulated MAA's for this VM: %v (%+v)\n%s", err, claims, errOut)
	}

	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline")
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "--maa-attest")
	wantExit(t, code, exitOK, out, errOut)
	if out != cliSecret {
		t.Fatalf("stdout %q, want the secret", out)
	}
}

// TestAttestMAAAttestUsage: --maa-attest excludes --maa-token and
// --maa-jwks (exit 1 before the verifier is asked).
func TestAttestMAAAttestUsage(t *testing.T) {
	token, jwks := serveVouchToken(t)
	rv := newRecordingVerifier(t)
	for name, args := range map[string][]string{
		"with --maa-token": {"--maa-token", token},
		"with --maa-jwks":  {"--maa-jwks", jwks},
	} {
		code, out, errOut := runCLI(t, append([]string{"--emulate", "attest", "--server", rv.url, "--maa-attest"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "--maa-attest") {
			t.Errorf("%s: exit %d, want %d naming --maa-attest\n%s\n%s", name, code, exitUsage, out, errOut)
		}
	}
	if n := rv.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the verifier", n)
	}
}

// TestAttestMAAAttestAudience: --maa-audience applies to the token that
// --maa-attest requests (held to the policy's maa_paravisor_audience) as
// it does to --maa-token's; it was refused as "--maa-audience needs
// --maa-token" before the token was requested.
func TestAttestMAAAttestAudience(t *testing.T) {
	rv := newRecordingVerifier(t)
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", rv.url, "--maa-attest", "--maa-audience", "https://rp.example")
	wantExit(t, code, exitRejected, out, errOut) // the recording verifier's 403
	if req := rv.got.Load(); req == nil || req.MAAToken == "" {
		t.Fatalf("the verifier got no maa_token: %+v\n%s", req, errOut)
	}
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`", "maa_paravisor_audience": "https://other.example"}`))
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", rv.url, "--policy", policy, "--maa-attest", "--maa-audience", "https://rp.example")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "--maa-audience", "maa_paravisor_audience")
}

// TestAttestMAATokenNotFresh: --fresh beside --maa-attest or --maa-token
// is a usage error before anything is asked: the token vouches for the
// report the CVM booted with, never for a refreshed one (the local check
// failed after MAA had been asked, or the token was sent for nothing).
func TestAttestMAATokenNotFresh(t *testing.T) {
	token, _ := serveVouchToken(t)
	rv := newRecordingVerifier(t)
	for name, args := range map[string][]string{
		"--maa-attest": {"--maa-attest"},
		"--maa-token":  {"--maa-token", token},
	} {
		code, out, errOut := runCLI(t, append([]string{"--emulate", "attest", "--server", rv.url, "--fresh"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "--fresh") || strings.Contains(errOut, "EMULATED MAA") {
			t.Errorf("%s: exit %d, want %d naming --fresh, no MAA asked\n%s\n%s", name, code, exitUsage, out, errOut)
		}
	}
	if n := rv.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the verifier", n)
	}
}

// TestAttestMAATokenTooLarge: a --maa-token file whose token (without its
// surrounding white space) is over the verifier's bound on a request's
// maa_token (server.MaxMAATokenBytes, 16 KiB) is exit 1 before the
// verifier is asked, with the message --maa-attest gives too
// (checkTokenSendable); a token of exactly the bound passes that check.
// Before, the two flags said it in two different ways.
func TestAttestMAATokenTooLarge(t *testing.T) {
	_, jwks := serveVouchToken(t)
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	rv := newRecordingVerifier(t)
	jws := func(n int) []byte { return []byte("a." + strings.Repeat("b", n-4) + ".c") }
	big := writeTemp(t, "big.jwt", append(jws(server.MaxMAATokenBytes+1), '\n'))
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", rv.url, "--policy", policy, "--maa-token", big, "--maa-jwks", jwks)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, fmt.Sprintf("error: --maa-token %s: the MAA token is %d bytes, more than a verifier accepts (a request's maa_token: at most %d)",
		big, server.MaxMAATokenBytes+1, server.MaxMAATokenBytes))
	if n := rv.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the verifier", n)
	}

	atBound := writeTemp(t, "bound.jwt", append(jws(server.MaxMAATokenBytes), " \n"...))
	_, _, errOut = runCLI(t, "--emulate", "attest", "--server", rv.url, "--policy", policy, "--maa-token", atBound, "--maa-jwks", jwks)
	if strings.Contains(errOut, "more than a verifier accepts") {
		t.Errorf("a token of %d bytes refused:\n%s", server.MaxMAATokenBytes, errOut)
	}

	// --maa-attest's token is held to the same bound, in the same words.
	err := checkTokenSendable("--maa-attest", jws(server.MaxMAATokenBytes+1))
	if want := fmt.Sprintf("--maa-attest: the MAA token is %d bytes, more than a verifier accepts (a request's maa_token: at most %d)", server.MaxMAATokenBytes+1, server.MaxMAATokenBytes); err == nil || err.Error() != want {
		t.Errorf("--maa-attest: %v, want %q", err, want)
	}
	if err := checkTokenSendable("--maa-attest", jws(server.MaxMAATokenBytes)); err != nil {
		t.Errorf("--maa-attest, at the bound: %v", err)
	}
}
