package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// secretsDir writes a secrets directory: db/password (no extra policy) and
// strict (a measurement policy no evidence meets).
func secretsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	policy := `{"measurements":["` + strings.Repeat("ee", 48) + `"]}`
	for _, f := range [][2]string{{"db/password", "pw-db-9f2c"}, {"strict", "pw-strict-77a1"}, {"strict.policy.json", policy}} {
		if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// attestResource runs the protocol for resource and returns the answer and
// the exchange's nonce.
func attestResource(t *testing.T, url, resource string) (*server.AttestResponse, []byte, error) {
	t.Helper()
	c := &server.Client{URL: url, Resource: resource}
	req, _, err := c.Request(context.Background(), syntheticGather)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(req)
	var ar server.AttestResponse
	err = c.Post(context.Background(), server.PathAttest, body, &ar)
	return &ar, server.Nonce(req.Challenge, req.PublicKey), err
}

func TestServeSignedResultsAndResources(t *testing.T) {
	_, keyPEM, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--secrets-dir", secretsDir(t), "--signing-key", writeTemp(t, "sign.pem", keyPEM),
		"--roots", writeTemp(t, "roots.pem", testev.ChainPEM()), "--offline")
	jwksURL := s.url + server.PathJWKS

	ar, nonce, err := attestResource(t, s.url, "db/password")
	if err != nil || ar.Token == "" {
		t.Fatalf("db/password: %v\n%s", err, s.stderr)
	}
	// result verify against the JWKS the server publishes.
	code, out, errOut := runCLI(t, "result", "verify", "--jwks", jwksURL, "--nonce-hex", hex.EncodeToString(nonce), ar.Token)
	wantExit(t, code, exitOK, out, errOut)
	wantContains(t, "stdout", out, "VERIFIED", "ear.status affirming", "db/password", "(checked)", "Milan")
	code, out, errOut = runCLIIn(t, []byte(ar.Token+"\n"), "result", "verify", "--jwks", jwksURL, "--json", "-")
	wantExit(t, code, exitOK, out, errOut)
	var parsed struct {
		Verified bool          `json:"verified"`
		Claims   result.Claims `json:"claims"`
	}
	if err := json.Unmarshal([]byte(out), &parsed); err != nil || !parsed.Verified || parsed.Claims.Appraisal().CVM.Resource != "db/password" {
		t.Fatalf("--json: %v %s", err, out)
	}
	// Any changed byte: exit 2 naming a check.
	for _, i := range []int{0, len(ar.Token) / 3, len(ar.Token) / 2, len(ar.Token) - 2} {
		b := []byte(ar.Token)
		b[i] ^= 1
		code, out, errOut = runCLI(t, "result", "verify", "--jwks", jwksURL, string(b))
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, "stderr", errOut, "REJECTED", "result-")
	}
	jwksFile := writeTemp(t, "jwks.json", []byte(mustGet(t, jwksURL)))
	rejections := []struct {
		args []string
		want string
	}{
		{[]string{"--jwks", jwksURL, "--nonce-hex", "00"}, "result-nonce"},
		{[]string{"--jwks", jwksFile, "--issuer", "https://elsewhere"}, "result-issuer"},
		{[]string{"--jwks", jwksURL, "--audience", "rp"}, "result-audience"},
	}
	for _, r := range rejections {
		code, out, errOut = runCLI(t, append(append([]string{"result", "verify"}, r.args...), ar.Token)...)
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, "stderr", errOut, r.want)
	}
	// Nothing examined: exit 1.
	for _, args := range [][]string{
		{"--jwks", "http://127.0.0.1:1/.well-known/jwks.json"},
		{"--jwks", jwksFile},
		{},
	} {
		code, out, errOut = runCLI(t, append(append([]string{"result", "verify", "--timeout", "5s"}, args...), ar.Token)...)
		wantExit(t, code, exitUsage, out, errOut)
	}
	// The extra policy of a resource, and unknown names.
	_, _, err = attestResource(t, s.url, "strict")
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "measurement") {
		t.Fatalf("strict: %v", err)
	}
	for _, name := range []string{"nope", "../strict", "strict.policy.json"} {
		if _, _, err = attestResource(t, s.url, name); err == nil || !strings.Contains(err.Error(), "404") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve: %d\n%s", code, s.stderr)
	}
	log := s.stderr.String()
	wantContains(t, "log", log, `msg="secret released" resource=db/password chip_id=`, "vm_unique_id="+testev.DefaultVMConfig().VMUniqueID, "kid=")
	for _, secret := range []string{"pw-db-9f2c", "pw-strict-77a1", "PRIVATE KEY", strings.Split(string(keyPEM), "\n")[1][:20]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

func TestServeSigningKeyFlags(t *testing.T) {
	secret := writeTemp(t, "secret", []byte(cliSecret))
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rk)
	rsaFile := writeTemp(t, "rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}))
	escape := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(escape, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"RSA key", []string{"--secret-file", secret, "--signing-key", rsaFile}, "P-256"},
		{"missing key without --dev", []string{"--secret-file", secret, "--signing-key", rsaFile + ".nope"}, "no such file"},
		{"--dev without key", []string{"--secret-file", secret, "--dev"}, "--signing-key"},
		{"nothing to release", []string{"--signing-key", rsaFile}, "--secrets-dir"},
		{"symlink escape", []string{"--secrets-dir", escape}, "--secrets-dir"},
	} {
		code, out, errOut := runCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--offline"}, tc.args...)...)
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, tc.name, errOut, tc.want)
	}
	// --dev generates a missing key (0600) and says its kid, never the key.
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	s := startServe(t, "--secret-file", secret, "--signing-key", keyFile, "--dev", "--offline")
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key: %v %v", err, st)
	}
	data, _ := os.ReadFile(keyFile)
	key, err := result.LoadSigningKey(data)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := result.PublicJWK(&key.PublicKey)
	s.stop()
	log := s.stderr.String()
	wantContains(t, "log", log, "generated a signing key", keyFile, j.Kid)
	if strings.Contains(log, strings.Split(string(data), "\n")[1][:20]) {
		t.Fatal("the log contains the key")
	}
	// Started again, --dev keeps the existing key.
	s = startServe(t, "--secret-file", secret, "--signing-key", keyFile, "--dev", "--offline")
	jwks := mustGet(t, s.url+server.PathJWKS)
	s.stop()
	if !strings.Contains(jwks, j.Kid) || strings.Contains(s.stderr.String(), "generated") {
		t.Fatalf("second start: %s", jwks)
	}
}

func mustGet(t *testing.T, url string) string {
	t.Helper()
	var body strings.Builder
	resp, err := http.DefaultClient.Get(url)
	if err == nil {
		_, err = io.Copy(&body, resp.Body)
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", url, resp, err)
	}
	return body.String()
}

// TestServeWarnsUnreachableIssuer holds that serve warns when the signed
// results' issuer defaults to the unspecified address it listens on (every
// interface, no --issuer): relying parties check iss, and none can reach
// http://0.0.0.0:PORT.
func TestServeWarnsUnreachableIssuer(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		warn   bool
	}{
		{"http://0.0.0.0:8443", true},
		{"http://[::]:8443", true},
		{"https://:8443", true},
		{"http://127.0.0.1:8443", false},
		{"https://verifier.example", false},
		{"https://[2001:db8::1]:443", false},
	} {
		if got := unreachableIssuer(tc.issuer); got != tc.warn {
			t.Errorf("unreachableIssuer(%q) = %v, want %v", tc.issuer, got, tc.warn)
		}
	}
	secret := writeTemp(t, "secret", []byte(cliSecret))
	key := filepath.Join(t.TempDir(), "sign.pem")
	for _, tc := range []struct {
		name string
		args []string
		warn bool
	}{
		{"every interface, no --issuer", []string{"--listen", "0.0.0.0:0"}, true},
		{"every interface, --issuer", []string{"--listen", "0.0.0.0:0", "--issuer", "https://verifier.example"}, false},
		{"loopback", nil, false},
	} {
		s := startServe(t, append([]string{"--secret-file", secret, "--signing-key", key, "--dev", "--offline"}, tc.args...)...)
		s.stop()
		if got := strings.Contains(s.stderr.String(), "no relying party can reach"); got != tc.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tc.name, got, tc.warn, s.stderr)
		}
	}
}
