package main

import (
	"strings"
	"testing"
	"time"
)

// TestURLFlagsNeedScheme: a server URL given without its scheme (the host
// and port alone, as one types it) is a usage error naming the flag and
// the form wanted, found before anything is opened or sent. Before,
// attest --server 127.0.0.1:8443 started the TPM and then failed with Go's
// "first path segment in URL cannot contain colon"; --kds-url and
// --pcs-url were retried five times as "unsupported protocol scheme" and
// ended with a hint to give --kds-url; maa attest --instance HOST said
// "--instance URL is required" although it was given.
func TestURLFlagsNeedScheme(t *testing.T) {
	ev := verifySNPDir + "evidence-v1.json"
	noVCEK, _, _ := evidenceWithoutVCEK(t)
	tdx := verifyTDXDir + "evidence-v1.json"
	tdxPolicy := writeTemp(t, "tdx-policy.json", []byte(`{"tdx_tcb_statuses":["UpToDate"]}`))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"attest --server host:port", []string{"--tpm", "/nonexistent", "attest", "--server", "127.0.0.1:8443"},
			`--server "127.0.0.1:8443": want an http:// or https:// URL with a host, such as https://verifier:8443`},
		{"attest --server path", []string{"--tpm", "/nonexistent", "attest", "--server", "/v1"}, `--server "/v1": want an http:// or https:// URL`},
		{"attest --server ftp", []string{"--tpm", "/nonexistent", "attest", "--server", "ftp://verifier"}, `--server "ftp://verifier": want`},
		{"verify --kds-url host", []string{"verify", "--kds-url", "kdsintf.amd.com", "--at", verifyAt, "--cache-dir", t.TempDir(), "--nonce", "challenge", noVCEK},
			`--kds-url "kdsintf.amd.com": want an http:// or https:// URL with a host, such as https://kdsintf.amd.com`},
		{"verify --kds-url with VCEK in the evidence", []string{"verify", "--kds-url", "localhost:9", "--nonce", "challenge", ev}, `--kds-url "localhost:9": want`},
		{"report --kds-url host", []string{"report", "--kds-url", "localhost:9", "-f", realHCL}, `--kds-url "localhost:9": want`},
		{"verify --pcs-url host", []string{"verify", "--pcs-url", "api.trustedservices.intel.com", "--policy", tdxPolicy, "--nonce", "challenge", tdx},
			`--pcs-url "api.trustedservices.intel.com": want an http:// or https:// URL with a host, such as https://api.trustedservices.intel.com`},
		{"maa attest --instance host", []string{"--tpm", "/nonexistent", "maa", "attest", "--instance", "sharedeus2.eus2.attest.azure.net", "--nonce", "n"},
			`--instance "sharedeus2.eus2.attest.azure.net": want an https:// URL with a host, such as https://sharedeus2.eus2.attest.azure.net`},
		{"maa attest --instance http", []string{"--tpm", "/nonexistent", "maa", "attest", "--instance", "http://sharedeus2.eus2.attest.azure.net", "--nonce", "n"},
			`want an https:// URL`},
		{"maa verify --instance host", []string{"maa", "verify", "--instance", "sharedeus2.eus2.attest.azure.net", "--nonce", "n", ev},
			`--instance "sharedeus2.eus2.attest.azure.net": want an http:// or https:// URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr lacks %q:\n%s", tc.want, errOut)
			}
			for _, bad := range []string{"unsupported protocol scheme", "first path segment", "no TPM device", "is required", "giving up"} {
				if strings.Contains(errOut, bad) {
					t.Errorf("stderr says %q: the URL was used before it was checked:\n%s", bad, errOut)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v: a usage error is found before any request", d)
			}
		})
	}
}
