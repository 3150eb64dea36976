package main

import (
	"os"
	"strings"
	"testing"
)

// TestUnknownCommandSuggestions: a mistyped command is one usage line
// that suggests the command meant. The root's read `unknown command
// "vrify" for "snp-vtpm"; ; Did you mean this?; <tab>verify;  (see ...)`,
// and a group's (maa, result, policy) suggested nothing.
func TestUnknownCommandSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vrify"}, `error: unknown command "vrify" for "snp-vtpm" (did you mean "verify"?) (see "snp-vtpm --help" for its commands)`},
		{[]string{"maa", "verfy", "t.jwt"}, `error: unknown command "verfy" for "snp-vtpm maa" (did you mean "verify"?) (see "snp-vtpm maa --help" for its commands)`},
		{[]string{"policy", "deriv"}, `error: unknown command "deriv" for "snp-vtpm policy" (did you mean "derive"?) (see "snp-vtpm policy --help" for its commands)`},
		{[]string{"maa", "frob"}, `error: unknown command "frob" for "snp-vtpm maa" (see "snp-vtpm maa --help" for its commands)`},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		wantExit(t, code, exitUsage, out, errOut)
		if strings.TrimSpace(errOut) != tc.want {
			t.Errorf("%v: stderr\n %q\nwant\n %q", tc.args, errOut, tc.want)
		}
	}
}

// TestRequiredFlagPointsAtUsage: a required flag left out is a usage error
// that points at the command's usage, as every other one does; it was
// cobra's bare `required flag(s) "server" not set`.
func TestRequiredFlagPointsAtUsage(t *testing.T) {
	code, out, errOut := runCLI(t, "attest")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, `error: required flag(s) "server" not set (usage: snp-vtpm attest --server URL`, `see "snp-vtpm attest --help"`)
}

// TestEventLogStdinKeyedPCRs: a log read from standard input against a
// --pcrs file keyed by log file name says why no entry matches; it said
// only `no entry for "-"`.
func TestEventLogStdinKeyedPCRs(t *testing.T) {
	log, err := os.ReadFile(eventLogDir + "gce-ubuntu-2404-amd-sevsnp.bin")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLIIn(t, log, "eventlog", "--pcrs", eventLogDir+"pcrs.json", "-")
	wantExit(t, code, exitUsage, out, errOut)
	wantContains(t, "stderr", errOut, "a log read from standard input has none: give the log as a file")
}

// TestOutputFileCheckedFirst: evidence -o and maa attest -o /
// --evidence-out that name a directory fail at once, naming the flag,
// before the vTPM (here: none) is asked; they failed on the device, and
// with one, once the evidence or token was had, with the os package's
// "open DIR: is a directory".
func TestOutputFileCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tpm", "/nonexistent/tpm", "evidence", "--nonce", "x", "-o", dir}, "error: -o " + dir + ": is a directory; give the path of a file"},
		{[]string{"--tpm", "/nonexistent/tpm", "maa", "attest", "--instance", "https://maa.example", "-o", dir}, "error: -o " + dir + ": is a directory; give the path of a file"},
		{[]string{"--tpm", "/nonexistent/tpm", "maa", "attest", "--instance", "https://maa.example", "--evidence-out", dir}, "error: --evidence-out " + dir + ": is a directory; give the path of a file"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		wantExit(t, code, exitUsage, out, errOut)
		wantContains(t, strings.Join(tc.args, " "), errOut, tc.want)
	}
}
