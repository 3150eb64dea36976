//go:build cgo

package main

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the log's SHA-1 digests
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator"
	"github.com/snp-vtpm/snp-vtpm/evidence"
)

// emulatedEvidenceFile gathers emulated evidence for nonce into a file.
func emulatedEvidenceFile(t *testing.T, nonce string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "evidence.json")
	code, out, errOut := runCLI(t, "--emulate", "evidence", "--nonce", nonce, "-o", f)
	wantExit(t, code, 0, out, errOut)
	return f
}

// TestEmulatedEventLogClaims: the emulated CVM's evidence carries its boot
// log, which verify replays to every PCR it extends and turns into claims
// (Secure Boot databases marked emulated, firmware, command line), JSON
// that the schema describes, and policies on them.
func TestEmulatedEventLogClaims(t *testing.T) {
	const nonce = "emulated event log"
	f := emulatedEvidenceFile(t, nonce)
	base := []string{"verify", "--trust-emulated", "--nonce", nonce}
	code, out, errOut := runCLI(t, append(base, f)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "verify output", out,
		`event log              replayed PCRs [0,1,2,3,4,5,6,7,8,9]; secure boot on; kernel command line "`+emulator.KernelCmdline+`"`,
		`boot firmware          "Hyper-V-like UEFI, snp-vtpm EMULATED (not AMD)"`,
		`"CN=snp-vtpm EMULATED Secure Boot db,O=snp-vtpm EMULATED (not AMD)"`,
		"secure boot dbx        2 image digests", "boot authority", "efi application")

	var claims struct {
		EventLog struct {
			State struct {
				DB struct {
					Certs []struct {
						SHA256 string `json:"sha256"`
					} `json:"certs"`
				} `json:"db"`
			} `json:"state"`
		} `json:"event_log"`
	}
	cliJSON(t, 0, &claims, append(base, "--json", f)...)
	if len(claims.EventLog.State.DB.Certs) != 1 {
		t.Fatalf("db certificates %+v, want the emulated one", claims.EventLog.State.DB)
	}
	db := claims.EventLog.State.DB.Certs[0].SHA256
	msUEFICA := "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507"
	for _, tc := range []struct {
		policy string
		exit   int
		stderr string
	}{
		{`{"secure_boot":true,"secure_boot_db_certs":["` + db + `"],"kernel_cmdline":"` + emulator.KernelCmdline + `","event_log_pcrs":[0,1,2,3,4,5,6,7,8,9],"require_vm_identity":true}`, 0, ""},
		{`{"secure_boot_db_certs":["` + msUEFICA + `"]}`, 2, "secure_boot_db_certs[0]: the replayed Secure Boot db holds no certificate with SHA-256 48e99b99"},
		{`{"event_log_pcrs":[14]}`, 2, "PCR 14 is required to replay but is not-covered"},
		{`{"kernel_cmdline":"/.* init=/bin/sh .*/"}`, 2, "does not match the policy's"},
	} {
		p := writeTemp(t, "policy.json", []byte(tc.policy))
		code, out, errOut := runCLI(t, append(base, "--policy", p, f)...)
		wantExit(t, code, tc.exit, out, errOut)
		if tc.exit != 0 {
			wantContains(t, "stderr", errOut, "event-log", tc.stderr)
		}
	}
	code, out, errOut = runCLI(t, "eventlog", "--json", writeTemp(t, "log.bin", readEvidence(t, f).EventLog))
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "eventlog --json", out, `"type": "S-CRTM Version"`, `"type": "EFI Variable Authority"`)
}

// readEvidence decodes the evidence file f.
func readEvidence(t *testing.T, f string) *evidence.Evidence {
	t.Helper()
	data, err := os.ReadFile(f)
	ev, derr := evidence.Decode(data)
	if err = errors.Join(err, derr); err != nil {
		t.Fatal(err)
	}
	return ev
}

// withLog writes f's evidence with its event log changed by edit.
func withLog(t *testing.T, f string, edit func(log []byte)) string {
	t.Helper()
	ev := readEvidence(t, f)
	edit(ev.EventLog)
	data, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "mutated.json", data)
}

// TestEmulatedEventLogMutations: the quote signs PCRs, not the log. A log
// whose kernel command line event is rewritten with matching digests no
// longer replays PCR 8 (a claim; an event-log rejection naming PCR 8 for
// policies on it); one whose event data alone is changed still replays, but
// no command line is claimed from data its digest does not measure.
func TestEmulatedEventLogMutations(t *testing.T) {
	const nonce = "mutated event log"
	f := emulatedEvidenceFile(t, nonce)
	event := []byte("kernel_cmdline: " + emulator.KernelCmdline)
	find := func(log []byte) int {
		i := bytes.Index(log, event)
		if i < 0 {
			t.Fatal("the emulated log has no kernel_cmdline event")
		}
		return i
	}
	forged := withLog(t, f, func(log []byte) {
		i := find(log)
		text := log[i+len("kernel_cmdline: ") : i+len(event)]
		copy(text[bytes.Index(text, []byte("sda1")):], "sdb1")
		s1, s256 := sha1.Sum(text), sha256.Sum256(text) //nolint:gosec // the log's SHA-1 digests
		copy(log[i-4-32:], s256[:])
		copy(log[i-4-32-2-20:], s1[:])
	})
	dataOnly := withLog(t, f, func(log []byte) {
		i := find(log)
		copy(log[i+bytes.Index(event, []byte("sda1")):], "sdb1")
	})
	base := []string{"verify", "--trust-emulated", "--nonce", nonce}
	code, out, errOut := runCLI(t, append(base, forged)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "forged log, no policy", out, "event log              replayed PCRs [0,1,2,3,4,5,6,7,9]; MISMATCH [8]; secure boot on")
	if strings.Contains(out, "sdb1") {
		t.Errorf("the forged command line is claimed:\n%s", out)
	}
	for _, tc := range []struct {
		file, policy, stderr string
	}{
		{forged, `{"event_log_pcrs":[8]}`, "PCR 8 is required to replay but is mismatch"},
		{forged, `{"kernel_cmdline":"/.*sdb1.*/"}`, "PCR 8 is mismatch and carries none that verified"},
		{dataOnly, `{"kernel_cmdline":"/.*/"}`, "PCR 8 is replayed and carries none that verified"},
	} {
		p := writeTemp(t, "policy.json", []byte(tc.policy))
		code, out, errOut := runCLI(t, append(base, "--policy", p, tc.file)...)
		wantExit(t, code, 2, out, errOut)
		wantContains(t, "stderr", errOut, "event-log", tc.stderr)
	}
}

// TestServeEventLogPolicy: serve applies the event-log policy to the
// emulated CVM's log: Secure Boot holds, a db certificate it lacks is
// refused (exit 2 naming event-log), and no secret is released.
func TestServeEventLogPolicy(t *testing.T) {
	secretFile := writeTemp(t, "secret", []byte(cliSecret))
	for _, tc := range []struct {
		policy string
		exit   int
		stderr string
	}{
		{`{"secure_boot":true,"kernel_cmdline":"/.* console=ttyS0/","event_log_pcrs":[4,7,8]}`, exitOK, "secure boot on"},
		{`{"secure_boot_db_certs":["48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507"]}`, exitRejected, "event-log"},
	} {
		s := startServe(t, "--secret-file", secretFile, "--trust-emulated", "--offline", "--policy", writeTemp(t, "policy.json", []byte(tc.policy)))
		code, out, errOut := runCLI(t, "--emulate", "attest", "--server", s.url)
		wantExit(t, code, tc.exit, out, errOut)
		wantContains(t, "attest stderr", errOut, tc.stderr)
		if (out == cliSecret) != (tc.exit == exitOK) {
			t.Errorf("%s: stdout %q", tc.policy, out)
		}
	}
}
