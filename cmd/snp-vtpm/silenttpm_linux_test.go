package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// TestSilentTPMTimeout: a vTPM that never answers (a device that takes
// commands and stays silent) ends every command that uses it after
// --timeout, exit status 1, naming the TPM; before, the CLI waited for the
// answer forever, past --timeout, SIGINT and SIGTERM.
func TestSilentTPMTimeout(t *testing.T) {
	tpm := testutil.SilentTPMDevice(t)
	verifier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(server.ChallengeResponse{Challenge: make([]byte, server.ChallengeSize), Suite: server.Suite})
	}))
	t.Cleanup(verifier.Close)
	for _, args := range [][]string{
		{"report"},
		{"report", "--user-data", "0102"},
		{"quote", "--nonce", "n"},
		{"evidence", "--nonce", "n", "--offline"},
		{"evidence", "--nonce", "n", "--fresh", "--offline"},
		{"attest", "--server", verifier.URL, "--offline"},
		{"maa", "attest", "--instance", "https://127.0.0.1:1", "--nonce", "n", "--offline"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			type result struct {
				code        int
				out, errOut string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errOut := runCLI(t, append([]string{"--tpm", tpm, "--timeout", "300ms"}, args...)...)
				done <- result{code, out, errOut}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("still running 5 s after --timeout 300ms")
			}
			code, out, errOut := r.code, r.out, r.errOut
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.Contains(errOut, "gave up after 300ms (--timeout) waiting for") || !strings.Contains(errOut, "the TPM "+tpm) {
				t.Errorf("stderr does not name the timeout and the TPM:\n%s", errOut)
			}
		})
	}
}
