//go:build cgo

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestEmulatedRevocationAsksNotAMD (emu30): with --check-revocation, the
// emulated CVM's evidence (--trust-emulated) is not checked against AMD's
// CRLs: no CRL is asked of KDS and, offline, nothing is missing (exit 0,
// emulated). Before, AMD's CRLs were fetched (offline: exit 1, "no current
// CRL") to vouch for the fake ASK and VCEK. Real evidence still needs them.
func TestEmulatedRevocationAsksNotAMD(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ev.json")
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--cache-dir", t.TempDir(), "--nonce", "n", "-o", f)
	wantExit(t, code, exitOK, out, errOut)
	var asked atomic.Int32
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer kds.Close()
	for _, where := range [][]string{{"--offline"}, {"--kds-url", kds.URL}} {
		code, out, errOut = verifyCLI(t, nil, append(where, "--trust-emulated", "--check-revocation", "--json", "--nonce", "n", f)...)
		wantExit(t, code, exitOK, out, errOut)
		wantContains(t, "stdout", out, `"emulated": true`)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("KDS asked %d times for the emulated evidence", n)
	}
	code, out, errOut = verifyCLI(t, nil, "--check-revocation", "--at", verifyAt, "--nonce", "challenge", verifySNPDir+"evidence-v1.json")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "real evidence, offline", errOut, "CRL")
}

// TestEmulatedRevocationFakeCRLs (emu30b): --check-revocation with the
// emulated chain trusted (--trust-emulated, --emulate) checks the
// emulated CVM's evidence against the fake chain's own CRLs (built in,
// signed by the fake ARK): evidence with the fake VCEK verifies; evidence
// whose VCEK is the revoked fake one (the emulated IMDS serving it) is
// rejected (exit 2, revocation, naming the emulated chain's fake VCEK
// CRL) by verify, by report --emulate and by serve, and verifies without
// --check-revocation. AMD's KDS is asked nothing and no CRL lands in the
// --cache-dir (whose CRL slots a real chain reads). Before, the emulated
// chain was not checked for revocation at all.
func TestEmulatedRevocationFakeCRLs(t *testing.T) {
	cache, dir := t.TempDir(), t.TempDir()
	var asked atomic.Int32
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		http.Error(w, "AMD's KDS asked about the emulated chain", http.StatusServiceUnavailable)
	}))
	defer kds.Close()
	revoked := func(g *globals) { g.emulateRevokedVCEK = true }
	good, bad := filepath.Join(dir, "good.json"), filepath.Join(dir, "revoked.json")
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--cache-dir", cache, "--nonce", "n", "-o", good)
	wantExit(t, code, exitOK, out, errOut)
	code, out, errOut = runCLIWith(t, revoked, "--emulate", "evidence", "--cache-dir", cache, "--nonce", "n", "-o", bad)
	wantExit(t, code, exitOK, out, errOut)

	check := []string{"--trust-emulated", "--check-revocation", "--cache-dir", cache, "--kds-url", kds.URL, "--nonce", "n"}
	for _, tc := range []struct {
		name string
		args []string
		exit int
	}{
		{"verify, fake VCEK", append(append([]string{"verify"}, check...), good), exitOK},
		{"verify, fake VCEK, offline", append(append([]string{"verify", "--offline"}, check...), good), exitOK},
		{"verify, revoked fake VCEK", append(append([]string{"verify"}, check...), bad), exitRejected},
		{"verify, revoked fake VCEK, offline", append(append([]string{"verify", "--offline"}, check...), bad), exitRejected},
		{"verify, revoked fake VCEK, revocation unchecked", []string{"verify", "--trust-emulated", "--cache-dir", cache, "--nonce", "n", bad}, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			wantExit(t, code, tc.exit, out, errOut)
			if tc.exit == exitRejected {
				wantContains(t, "stderr", errOut, "REJECTED: revocation", "EMULATED chain's fake VCEK CRL")
			}
		})
	}
	t.Run("report --emulate", func(t *testing.T) {
		args := []string{"--emulate", "report", "--check-revocation", "--cache-dir", cache, "--kds-url", kds.URL}
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, exitOK, out, errOut)
		code, out, errOut = runCLIWith(t, revoked, args...)
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, "stderr", errOut, "revocation check failed", "EMULATED chain's fake VCEK CRL")
	})
	t.Run("serve", func(t *testing.T) {
		s := startServe(t, "--secret-file", writeTemp(t, "secret", []byte(cliSecret)), "--trust-emulated", "--check-revocation", "--cache-dir", cache, "--kds-url", kds.URL)
		code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url)
		wantExit(t, code, exitOK, out, errOut)
		code, out, errOut = runCLIWith(t, revoked, "--emulate", "attest", "--server", s.url)
		wantExit(t, code, exitRejected, out, errOut)
		wantContains(t, "attest", out+errOut, "revocation")
	})
	if n := asked.Load(); n != 0 {
		t.Errorf("AMD's KDS asked %d times about the emulated chain", n)
	}
	for _, slot := range []string{"crl", "vlek_crl"} {
		if _, err := os.Stat(filepath.Join(cache, slot)); !os.IsNotExist(err) {
			t.Errorf("the cache dir has %s/ (%v): a fake CRL where a real chain reads AMD's", slot, err)
		}
	}
	if entries, err := os.ReadDir(cache); err == nil {
		for _, e := range entries {
			if strings.Contains(strings.ToLower(e.Name()), "crl") {
				t.Errorf("the cache dir holds %s", e.Name())
			}
		}
	}
}
