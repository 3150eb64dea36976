package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/result"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// flagFileCases are command lines with one flag naming a file, file being
// where that file goes; every command reads it before anything else could
// fail (in-process, stdin nil like serve's tests).
func flagFileCases(t *testing.T) map[string]func(file string) []string {
	ev := verifySNPDir + "evidence-v1.json"
	secret := writeTemp(t, "secret", []byte(cliSecret))
	policy := writeTemp(t, "policy.json", []byte(`{"maa_paravisor_instance": "https://maa.example"}`))
	token := writeTemp(t, "any", []byte("a.b.c"))
	return map[string]func(string) []string{
		"--policy":    func(f string) []string { return []string{"verify", "--offline", "--nonce", "x", "--policy", f, ev} },
		"--roots":     func(f string) []string { return []string{"verify", "--offline", "--nonce", "x", "--roots", f, ev} },
		"--init-data": func(f string) []string { return []string{"verify", "--offline", "--nonce", "x", "--init-data", f, ev} },
		"--maa-token": func(f string) []string {
			return []string{"verify", "--offline", "--nonce", "x", "--policy", policy, "--maa-token", f, ev}
		},
		"--pcrs":     func(f string) []string { return []string{"eventlog", "--pcrs", f, eventLogDir + "gce-rhel8-uefi.bin"} },
		"--vcek":     func(f string) []string { return []string{"report", "--offline", "--vcek", f, "-f", realHCL} },
		"--td-quote": func(f string) []string { return []string{"report", "--offline", "--td-quote", f} },
		"--jwks":     func(f string) []string { return []string{"result", "verify", "--jwks", f, token} },
		"--secret-file": func(f string) []string {
			return []string{"serve", "--listen", "127.0.0.1:0", "--offline", "--secret-file", f}
		},
		"--signing-key": func(f string) []string {
			return []string{"serve", "--listen", "127.0.0.1:0", "--offline", "--secret-file", secret, "--signing-key", f}
		},
		"--ca-cert": func(f string) []string { return []string{"attest", "--server", "https://127.0.0.1:1", "--ca-cert", f} },
	}
}

// runNilStdin runs the CLI in-process with stdin nil.
func runNilStdin(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, nil, &stdout, &stderr)
	return code, stderr.String()
}

// TestFlagFilesBounded: a flag's file that never ends (/dev/zero) is read
// up to maxInput and refused (exit 1, naming the flag), with memory
// bounded by that.
func TestFlagFilesBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Fatalf("/dev/zero: %v", err)
	}
	for flag, args := range flagFileCases(t) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		code, errOut := runNilStdin(t, args("/dev/zero")...)
		runtime.ReadMemStats(&after)
		if code != exitUsage || !strings.Contains(errOut, flag) || !strings.Contains(errOut, "larger than 4194304 bytes") {
			t.Errorf("%s /dev/zero: exit %d, %s", flag, code, errOut)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
			t.Errorf("%s /dev/zero: %d bytes allocated", flag, grown)
		}
	}
}

// TestFlagFilesNotStdin: "-" for a flag's file is refused with exit 1,
// whether stdin is nil or not (it used to panic on nil stdin).
func TestFlagFilesNotStdin(t *testing.T) {
	for flag, args := range flagFileCases(t) {
		code, errOut := runNilStdin(t, args("-")...)
		if code != exitUsage || !strings.Contains(errOut, flag+`: "-" (standard input) is not accepted`) {
			t.Errorf("%s - (nil stdin): exit %d, %s", flag, code, errOut)
		}
		code, _, errOut = runCLIIn(t, []byte(`{}`), args("-")...)
		if code != exitUsage || !strings.Contains(errOut, `is not accepted`) {
			t.Errorf("%s - (stdin): exit %d, %s", flag, code, errOut)
		}
	}
}

// TestStdinArgumentUnavailable: FILE "-" with stdin nil or closed is an
// error (exit 1), not a panic.
func TestStdinArgumentUnavailable(t *testing.T) {
	closed, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	closed.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := result.MarshalJWKS(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", "--offline", "--nonce", "x", "-"},
		{"report", "--offline", "-f", "-"},
		{"eventlog", "-"},
		{"maa", "verify", "--jwks", writeTemp(t, "jwks.json", []byte(`{"keys":[]}`)), "-"},
		{"result", "verify", "--issuer", "https://v.example", "--jwks", writeTemp(t, "jwks2.json", jwks), "-"},
	} {
		code, errOut := runNilStdin(t, args...)
		if code != exitUsage || !strings.Contains(errOut, `standard input ("-") is not available`) {
			t.Errorf("%v (nil stdin): exit %d, %s", args, code, errOut)
		}
		var stdout, stderr bytes.Buffer
		code = run(context.Background(), args, closed, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "cannot read -") {
			t.Errorf("%v (closed stdin): exit %d, %s", args, code, stderr.String())
		}
	}
}

// TestRootsNotEmulated: the emulated CVM's fake AMD chain given as --roots
// is refused (exit 1, naming --trust-emulated): trusted that way, its
// evidence would verify with claims that do not say emulated. So is a
// chain re-issued with its public keys under other names, serials and
// validity (not byte-equal to fakeamd's), with evidence an attacker signed
// under it claiming Azure's paravisor: before the key comparison it
// verified (exit 0) as NON-DEFAULT ROOTS, not emulated.
func TestRootsNotEmulated(t *testing.T) {
	reissued := func(ark, ask *rsa.PrivateKey) *testev.Chain {
		c, err := testev.NewChain(snp.Milan, ark, ask, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fakeARK, fakeASK, other := fakekeys.ARKKey(), fakekeys.ASKKey(), testev.OtherRSAKey()
	for _, tc := range []struct {
		name  string
		roots []byte
		chain *testev.Chain // signs the evidence; nil: the real fixture
	}{
		{"fakeamd's chain", fakeamd.ChainPEM(), nil},
		{"re-issued with the fake keys", nil, reissued(fakeARK, fakeASK)},
		{"fake ARK key only", nil, reissued(fakeARK, other)},
		{"fake ASK key only", nil, reissued(other, fakeASK)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, nonce := verifySNPDir+"evidence-v1.json", []string{"--nonce", "challenge"}
			roots := tc.roots
			if tc.chain != nil {
				forged := (&testev.Builder{Chain: tc.chain}).MustBuild()
				ev, nonce = writeTemp(t, "evidence.json", forged.JSON), []string{"--nonce-hex", hex.EncodeToString(forged.Nonce)}
				roots = tc.chain.ChainPEM()
			}
			args := append([]string{"--roots", writeTemp(t, "roots.pem", roots)}, nonce...)
			code, out, errOut := verifyCLI(t, nil, append(args, ev)...)
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.Contains(errOut, "--trust-emulated") {
				t.Errorf("stderr does not name --trust-emulated:\n%s", errOut)
			}
		})
	}
}

// TestOutputFlagsNotStdout: "-" for attest --token-out and maa attest
// --evidence-out is a usage error (exit 1, naming the flag) before
// anything is asked of the TPM or the network. Both wrote a file named
// "-" in the current directory, while -o - meant standard output.
func TestOutputFlagsNotStdout(t *testing.T) {
	t.Chdir(t.TempDir())
	for flag, args := range map[string][]string{
		"--token-out":    {"attest", "--server", "http://127.0.0.1:1", "--token-out", "-"},
		"--evidence-out": {"maa", "attest", "--instance", "https://maa.example", "--evidence-out", "-"},
	} {
		code, out, errOut := runCLI(t, args...)
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, "stderr", errOut, "error: "+flag+`: "-" (standard output) is not accepted`)
		if _, err := os.Stat("-"); err == nil {
			t.Errorf("%s -: a file named - was written", flag)
		}
	}
}

// TestCollateralDirMissing: --collateral naming a missing path or a file
// is exit 1 naming the flag and the path; the error said "open .: no such
// file or directory" (pcs.LoadDir reads an fs.FS rooted at the path).
func TestCollateralDirMissing(t *testing.T) {
	missing := t.TempDir() + "/nope"
	file := writeTemp(t, "tcbinfo.json", []byte("{}"))
	for arg, want := range map[string]string{
		missing: "error: --collateral: cannot open " + missing + ": no such file or directory",
		file:    "error: --collateral: " + file + " is a file, not a directory",
	} {
		code, out, errOut := verifyCLI(t, nil, "--nonce", "challenge", "--collateral", arg, verifyTDXDir+"evidence-v1.json")
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, "stderr", errOut, want)
		if strings.Contains(errOut, "open .") {
			t.Errorf("stderr names . instead of the path:\n%s", errOut)
		}
	}
}

// TestCacheDirNotADirectory: --cache-dir naming a file, a device or a path
// below a file is exit 1 naming the flag and the path, before the command
// does anything, for every command that takes it (the table must name
// each one). It was accepted silently and nothing was cached (every write
// of the disk cache failed, logged at debug level). A missing directory is
// still fine: the cache creates it when it first writes.
func TestCacheDirNotADirectory(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	ev := verifySNPDir + "evidence-v1.json"
	commands := map[string][]string{
		"verify":        {"verify", "--offline", "--at", verifyAt, "--nonce", "challenge", ev},
		"report":        {"report", "--offline", "--at", realAt, "-f", realHCL},
		"evidence":      {"evidence", "--tpm", missing, "--nonce", "n"},
		"serve":         {"serve", "--listen", "127.0.0.1:0", "--secret-file", missing},
		"attest":        {"attest", "--tpm", missing, "--server", "http://127.0.0.1:1"},
		"policy derive": {"policy", "derive", "--offline", "--at", verifyAt, "--nonce", "challenge", ev},
		"maa attest":    {"maa", "attest", "--tpm", missing, "--instance", "https://maa.example"},
		"maa verify":    {"maa", "verify", "--jwks", missing, "--issuer", "https://maa.example", "a.b.c"},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("cache-dir") != nil {
			if _, ok := commands[strings.TrimPrefix(c.CommandPath(), "snp-vtpm ")]; !ok {
				t.Errorf("%q takes --cache-dir: add it to the table", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(&globals{}))

	file := writeTemp(t, "cache", []byte("not a directory"))
	for name, args := range commands {
		for dir, want := range map[string]string{
			file:                         "error: --cache-dir: " + file + " is a file, not a directory",
			"/dev/null":                  "error: --cache-dir: /dev/null is not a directory (",
			filepath.Join(file, "cache"): "error: --cache-dir: cannot use " + filepath.Join(file, "cache") + ": not a directory",
		} {
			code, out, errOut := runCLI(t, append(args, "--cache-dir", dir)...)
			wantExit(t, code, exitUsage, out, errOut)
			if !strings.HasPrefix(errOut, want) {
				t.Errorf("%s --cache-dir %s: stderr %q, want %q", name, dir, errOut, want)
			}
		}
	}
	// A missing directory is not an error: the evidence verifies.
	code, out, errOut := runCLI(t, append(commands["verify"], "--cache-dir", missing)...)
	wantExit(t, code, exitOK, out, errOut)
}

// TestCheckDir pins the messages of checkDir, the one check of
// --collateral (a missing path refused) and --cache-dir (a missing path
// accepted: the cache creates it), for each kind of path: every refusal
// names the flag and the path.
func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	missing, file := filepath.Join(dir, "missing"), writeTemp(t, "file", []byte("x"))
	below := filepath.Join(file, "sub")
	for _, tc := range []struct {
		flag, name    string
		createMissing bool
		want          string // "" for nil
	}{
		{"--collateral", dir, false, ""},
		{"--collateral", missing, false, "--collateral: cannot open " + missing + ": no such file or directory"},
		{"--collateral", file, false, "--collateral: " + file + " is a file, not a directory"},
		{"--collateral", "/dev/null", false, "--collateral: /dev/null is a file, not a directory"},
		{"--collateral", below, false, "--collateral: cannot open " + below + ": not a directory"},
		{"--cache-dir", dir, true, ""},
		{"--cache-dir", missing, true, ""},
		{"--cache-dir", file, true, "--cache-dir: " + file + " is a file, not a directory (give a directory; a missing one is created)"},
		{"--cache-dir", "/dev/null", true, "--cache-dir: /dev/null is not a directory (Dc---------; give a directory, a missing one is created)"},
		{"--cache-dir", below, true, "--cache-dir: cannot use " + below + ": not a directory"},
	} {
		err := checkDir(tc.flag, tc.name, tc.createMissing)
		if got := fmt.Sprint(err); (err == nil) != (tc.want == "") || err != nil && got != tc.want {
			t.Errorf("checkDir(%s, %s, %v) = %v, want %q", tc.flag, tc.name, tc.createMissing, err, tc.want)
		}
	}
}
