//go:build cgo

package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testmaa"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func TestServeAttestEmulated(t *testing.T) {
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	s := startServe(t, "--secret-file", secretFile, "--trust-emulated", "--offline")

	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--fresh")
	wantExit(t, code, exitOK, out, errOut)
	if out != cliSecret {
		t.Fatalf("stdout %q, want the secret alone", out)
	}
	for _, want := range []string{emulatedBanner, "attested: Milan", "evidence v2 (fresh report: yes)",
		`boot event log: replayed PCRs [0 1 2 3 4 5 6 7 8 9]; secure boot on; kernel command line "/boot/vmlinuz-6.8.0-snp-vtpm-emulated`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// Once (newcomer29): the verifier's emulated claims printed it again
	// on the line after --emulate's.
	if n := strings.Count(errOut, emulatedBanner); n != 1 {
		t.Errorf("stderr shows the emulated banner %d times:\n%s", n, errOut)
	}

	// -o: the secret goes to a 0600 file, not to stdout.
	outFile := filepath.Join(t.TempDir(), "secret.out")
	if err := os.WriteFile(outFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "-o", outFile)
	wantExit(t, code, exitOK, out, errOut)
	data, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(outFile)
	if string(data) != cliSecret || st.Mode().Perm() != 0o600 || strings.Contains(out, cliSecret) {
		t.Fatalf("file %q mode %v, stdout %q", data, st.Mode().Perm(), out)
	}
	if !strings.Contains(errOut, "evidence v1 (fresh report: no)") {
		t.Errorf("stderr:\n%s", errOut)
	}

	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited with %d", code)
	}
	if log := s.stderr.String(); strings.Contains(log, cliSecret) || !strings.Contains(log, "path=/v1/attest status=200") {
		t.Fatalf("serve log:\n%s", log)
	}
}

func TestAttestRejectedExit2(t *testing.T) {
	// Without --trust-emulated the emulated chain is not trusted.
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--offline")
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--fresh")
	wantExit(t, code, exitRejected, out, errOut)
	if out != "" || !strings.Contains(errOut, "REJECTED") || !strings.Contains(errOut, "vcek-chain") {
		t.Fatalf("stdout %q stderr:\n%s", out, errOut)
	}
	// The next step names the flag the verifier lacks (newcomer29).
	wantContains(t, "attest stderr", errOut, "Next: this evidence is the emulated CVM's", "only when run with --trust-emulated")
}

func TestAttestNetworkErrorExit1(t *testing.T) {
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", "http://127.0.0.1:1", "--timeout", "10s")
	wantExit(t, code, exitUsage, out, errOut)
	if !strings.Contains(errOut, "connection refused") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestAttestNotAVerifierHint: a --server that is not snp-vtpm serve (a
// 404 or 405 naming no check: another service, or the verifier's URL with
// a path) is exit 1 and says what to give instead; before, the error was
// "server answered 404 Not Found" and nothing more. A 404 of serve naming
// its check (an unknown resource) gets no such hint.
func TestAttestNotAVerifierHint(t *testing.T) {
	const hint = "Next: --server does not answer as snp-vtpm serve (no /v1/challenge there)"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/challenge" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(other.Close)
	s := startServe(t, "--secrets-dir", secretsDir(t), "--trust-emulated", "--offline")
	for _, tc := range []struct {
		name, url string
		args      []string
		want      string
	}{
		{"another service", other.URL + "/api", nil, "server answered 404 Not Found. " + hint},
		{"method not allowed", other.URL, nil, "server answered 405 Method Not Allowed. " + hint},
		{"serve with a path", s.url + "/verifier", nil, "server answered 404 Not Found: no such endpoint. " + hint},
		{"unknown resource", s.url, []string{"--resource", "db/nope"}, "resource check failed: no such resource"},
	} {
		code, out, errOut := runCLI(t, append([]string{"--emulate", "attest", "--server", tc.url}, tc.args...)...)
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, tc.name, errOut, tc.want)
		if tc.args != nil && strings.Contains(errOut, hint) {
			t.Errorf("%s: the verifier's own 404 got the hint:\n%s", tc.name, errOut)
		}
	}
}

// TestAttestUntrustedTLSHint: a verifier whose TLS certificate the attester
// does not trust is exit 1 and says what to do next: --ca-cert.
func TestAttestUntrustedTLSHint(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	otherCert, _ := selfSigned(t)
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline",
		"--tls-cert", certFile, "--tls-key", keyFile)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Next: give the verifier's CA certificate with --ca-cert FILE"},
		{[]string{"--ca-cert", otherCert}, "Next: check that --ca-cert " + otherCert + " holds the CA"},
	} {
		code, out, errOut := runCLI(t, append([]string{"--emulate", "attest", "--server", s.url}, tc.args...)...)
		wantExit(t, code, exitUsage, out, errOut)
		if !strings.Contains(errOut, "certificate") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.want, errOut)
		}
	}
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--ca-cert", certFile)
	wantExit(t, code, exitOK, out, errOut)
}

// TestAttestResourceAndResultToken: attest --resource against serve
// --secrets-dir --signing-key, then result verify with the served JWKS.
func TestAttestResourceAndResultToken(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "sign.pem")
	s := startServe(t, "--secrets-dir", secretsDir(t), "--signing-key", keyFile, "--dev", "--trust-emulated", "--offline")
	tokenFile := filepath.Join(t.TempDir(), "result.jwt")
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--resource", "db/password", "--token-out", tokenFile)
	wantExit(t, code, exitOK, out, errOut)
	if out != "pw-db-9f2c" {
		t.Fatalf("stdout %q", out)
	}
	jwks := s.url + "/.well-known/jwks.json"
	code, out, errOut = runCLI(t, "result", "verify", "--jwks", jwks, "--trust-emulated", tokenFile)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "stdout", out, "ear.status contraindicated", "db/password", "emulated-hcl")
	// An emulated result is not "affirming": refused without --trust-emulated.
	code, out, errOut = runCLI(t, "result", "verify", "--jwks", jwks, tokenFile)
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "stderr", errOut, "result-status", "--trust-emulated")
	if strings.Contains(errOut, "Config.") {
		t.Errorf("stderr names a Go field:\n%s", errOut)
	}
	// The resource's extra policy fails: exit 2 naming the check.
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "--resource", "strict")
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "stderr", errOut, "measurement")
	// An unknown resource is not a verdict on the evidence: exit 1.
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "--resource", "nope")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "404")
	// No resource named: not a verdict either, and the answer says how to
	// name one (newcomer29: it said only "name one").
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "400", "releases secrets per resource", "attest --resource NAME")
	s.stop()
}

// TestServeAttestEmulatedTDX: the emulated TDX CVM attests to serve
// (--trust-emulated) end to end and receives the secret, with claims that
// leave out the SEV-SNP members; without
// --trust-emulated serve refuses it (naming the TD quote's chain).
func TestServeAttestEmulatedTDX(t *testing.T) {
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	s := startServe(t, "--secret-file", secretFile, "--trust-emulated", "--offline")
	code, out, errOut := runCLI(t, "--emulate=tdx", "attest", "--server", s.url)
	wantExit(t, code, exitOK, out, errOut)
	if out != cliSecret {
		t.Fatalf("stdout %q, want the secret alone", out)
	}
	wantContains(t, "attest stderr", errOut, emulatedBanner, "attested: Intel TDX, mr td", "tcb status UpToDate")
	// The answer's claims leave out what a TD does not have (an AMD
	// product, CHIP_ID, ID key digest and TCB: they were "" and zeros),
	// and attest reads them.
	code, out, errOut = runCLI(t, "--emulate=tdx", "attest", "--server", s.url, "--json")
	wantExit(t, code, exitOK, out, errOut)
	var doc struct {
		Claims map[string]json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, member := range []string{"product", "chip_id", "id_key_digest", "reported_tcb"} {
		if v, ok := doc.Claims[member]; ok {
			t.Errorf("TDX claims carry %s: %s", member, v)
		}
	}
	if string(doc.Claims["platform"]) != `"tdx"` || len(doc.Claims["measurement"]) != 2+96 {
		t.Errorf("TDX claims %s", out)
	}

	strict := startServe(t, "--secret-file", secretFile, "--offline")
	code, out, errOut = runCLI(t, "--emulate=tdx", "attest", "--server", strict.url)
	wantExit(t, code, exitRejected, out, errOut)
	wantContains(t, "attest stderr", errOut, "tdx-pck-chain", "only when run with --trust-emulated")
	if strings.Contains(out, cliSecret) {
		t.Fatal("secret released to the emulated TDX CVM without --trust-emulated")
	}
}

// TestAttestJSON: attest --json prints one document on stdout, the claims
// and the secret in standard base64 (with -o FILE the file's name instead),
// nothing but the emulated banner on stderr; a rejection is the document
// every command prints.
func TestAttestJSON(t *testing.T) {
	s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline")
	var got struct {
		Verified bool `json:"verified"`
		Claims   struct {
			Product  string `json:"product"`
			Emulated bool   `json:"emulated"`
		} `json:"claims"`
		Secret     []byte `json:"secret"`
		SecretFile string `json:"secret_file"`
	}
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url, "--json")
	wantExit(t, code, exitOK, out, errOut)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.Verified || string(got.Secret) != cliSecret || got.Claims.Product != "Milan" || !got.Claims.Emulated || got.SecretFile != "" {
		t.Errorf("JSON %+v\n%s", got, out)
	}
	if !strings.Contains(out, `"secret": "`+base64.StdEncoding.EncodeToString([]byte(cliSecret))+`"`) {
		t.Errorf("the secret is not standard base64:\n%s", out)
	}
	if strings.Contains(errOut, "attested:") || strings.Contains(errOut, cliSecret) {
		t.Errorf("stderr carries the human summary:\n%s", errOut)
	}

	outFile := filepath.Join(t.TempDir(), "secret.out")
	got.Secret, got.SecretFile = nil, ""
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "--json", "-o", outFile)
	wantExit(t, code, exitOK, out, errOut)
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Secret != nil || got.SecretFile != outFile {
		t.Errorf("with -o: %+v (%v)\n%s", got, err, out)
	}
	if data, err := os.ReadFile(outFile); err != nil || string(data) != cliSecret {
		t.Errorf("-o file %q, %v", data, err)
	}

	// Rejected by the verifier (403) and before sending: the same document.
	strict := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--offline")
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", strict.url, "--json")
	wantExit(t, code, exitRejected, out, errOut)
	wantRejectionDoc(t, out, "vcek-chain")
	// "error" is the reason, as verify --json gives it: the check is named
	// once, by "check" (the verifier's message starts with it too).
	if strings.Contains(out, `"error": "vcek-chain check failed: `) || !strings.Contains(out, `"error": "signed under the emulated CVM's fake chain`) || !strings.Contains(out, "VCEK not signed by a trusted AMD ASK/ARK") {
		t.Errorf("the 403's error repeats the check or lacks the reason:\n%s", out)
	}
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", s.url, "--json", "--policy", writeTemp(t, "p.json", []byte(`{"vmpl": 0, "measurements": ["`+strings.Repeat("00", 48)+`"]}`)))
	wantExit(t, code, exitRejected, out, errOut)
	wantRejectionDoc(t, out, "measurement")
}

// TestAttestSendsMAAToken: attest --maa-token sends the token file's
// token (without its final newline) as the request's maa_token, after
// checking the evidence with it locally as verify would (--policy naming
// the instance); without that policy entry it is a usage error and
// nothing is sent. Before, attest had no way to send a token.
func TestAttestSendsMAAToken(t *testing.T) {
	token, jwks := serveVouchToken(t)
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "`+testmaa.Issuer+`"}`))
	rv := newRecordingVerifier(t)
	got := &rv.got
	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", rv.url, "--policy", policy, "--maa-token", token, "--maa-jwks", jwks)
	wantExit(t, code, exitRejected, out, errOut)
	want := strings.TrimSpace(string(testutil.Must(os.ReadFile(token))(t)))
	if req := got.Load(); req == nil || req.MAAToken != want {
		t.Fatalf("the verifier got %+v, want maa_token %.20q...", req, want)
	}
	got.Store(nil)
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", rv.url, "--maa-token", token, "--maa-jwks", jwks)
	wantExit(t, code, exitUsage, out, errOut)
	if got.Load() != nil || !strings.Contains(errOut, "maa_paravisor_instance") {
		t.Fatalf("without the policy's instance: sent %v\n%s", got.Load(), errOut)
	}
}
