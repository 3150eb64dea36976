//go:build cgo

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAttestOutputsCheckedBeforeSending: an -o or --token-out path that
// cannot be written (a directory, in a missing directory, below a file,
// both naming one file) is exit 1 naming the flag before anything is sent
// to the verifier, and leaves no file behind. Before, --token-out was
// written after the exchange: the verifier had released the secret, and
// the command failed without delivering it.
func TestAttestOutputsCheckedBeforeSending(t *testing.T) {
	var requests atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer fake.Close()
	dir := t.TempDir()
	file := writeTemp(t, "file", []byte("x"))
	same := filepath.Join(dir, "same")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"token-out a directory", []string{"--token-out", dir}, "--token-out " + dir + ": is a directory"},
		{"token-out in a missing directory", []string{"--token-out", filepath.Join(dir, "nope", "t.jwt")}, "--token-out: cannot write: "},
		{"token-out below a file", []string{"--token-out", filepath.Join(file, "t.jwt")}, "--token-out: "},
		{"-o a directory", []string{"-o", dir}, "-o " + dir + ": is a directory"},
		{"-o in a missing directory", []string{"-o", filepath.Join(dir, "nope", "s")}, "-o: cannot write: "},
		{"-o and --token-out one file", []string{"-o", same, "--token-out", dir + "/./same"}, "-o and --token-out both name"},
		{"good -o, bad --token-out", []string{"-o", filepath.Join(dir, "s"), "--token-out", dir}, "--token-out " + dir + ": is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"--emulate", "attest", "--server", fake.URL}, tc.args...)...)
			wantExit(t, code, exitUsage, out, errOut)
			wantContains(t, "stderr", errOut, "error: "+tc.want)
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests sent to the verifier", n)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}

// TestAttestTokenOutAfterRelease: once the verifier released the secret,
// the secret is delivered first (standard output, -o FILE, the --json
// document), and a --token-out that cannot be written afterwards is exit 1
// naming the file and saying where the secret went: a verifier that signs
// nothing, or a write that fails (/dev/full). Before, the command failed
// before delivering the secret, which was lost.
func TestAttestTokenOutAfterRelease(t *testing.T) {
	unsigned := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline")
	signed := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--offline",
		"--signing-key", filepath.Join(t.TempDir(), "sign.pem"), "--dev")
	dir := t.TempDir()
	token, secret := filepath.Join(dir, "result.jwt"), filepath.Join(dir, "secret")

	code, out, errOut := runCLI(t, "--emulate", "attest", "--server", unsigned.url, "--token-out", token)
	wantExit(t, code, exitUsage, out, errOut)
	if out != cliSecret {
		t.Errorf("stdout %q, want the secret", out)
	}
	wantContains(t, "stderr", errOut, "error: --token-out "+token+" not written: the verifier returned no signed result",
		"the secret was delivered on standard output")
	if _, err := os.Stat(token); err == nil {
		t.Error("the token file was created though nothing was written to it")
	}

	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", unsigned.url, "--token-out", token, "-o", secret)
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "the secret was delivered to "+secret)
	if data, err := os.ReadFile(secret); err != nil || string(data) != cliSecret || out != "" {
		t.Errorf("-o file %q (%v), stdout %q", data, err, out)
	}

	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", unsigned.url, "--token-out", token, "--json")
	wantExit(t, code, exitUsage, out, errOut)
	var doc attestJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil || !doc.Verified || string(doc.Secret) != cliSecret {
		t.Errorf("--json: %+v (%v)\n%s", doc, err, out)
	}
	wantContains(t, "stderr", errOut, "error: --token-out "+token+" not written")

	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", signed.url, "--token-out", "/dev/full")
	wantExit(t, code, exitUsage, out, errOut)
	if out != cliSecret {
		t.Errorf("stdout %q, want the secret", out)
	}
	wantContains(t, "stderr", errOut, "error: --token-out /dev/full not written: ", "no space left on device",
		"the secret was delivered on standard output")

	// Both written when all goes well.
	code, out, errOut = runCLI(t, "--emulate", "attest", "--server", signed.url, "--token-out", token, "-o", secret)
	wantExit(t, code, exitOK, out, errOut)
	if data, err := os.ReadFile(token); err != nil || strings.Count(string(data), ".") != 2 {
		t.Errorf("token file %q (%v)", data, err)
	}
}
