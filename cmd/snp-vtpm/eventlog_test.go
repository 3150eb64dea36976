package main

import (
	"os"
	"strings"
	"testing"
)

const eventLogDir = "../../testdata/eventlogs/"

// TestEventLogCommand: every real GCE log replays every PCR of pcrs.json
// (human and JSON output); a wrong PCR value is a mismatch shown in a
// normal result; a log that does not parse is rejected (exit 2) and a bad
// --pcrs file is a usage error (exit 1).
func TestEventLogCommand(t *testing.T) {
	for _, name := range []string{"gce-cos-121-amd-sev.bin", "gce-rhel8-uefi.bin", "gce-ubuntu-2104-no-dbx.bin", "gce-ubuntu-2104-no-secure-boot.bin", "gce-ubuntu-2404-amd-sevsnp.bin"} {
		var res struct {
			PCRs []struct {
				Index  int    `json:"index"`
				Status string `json:"status"`
			} `json:"pcrs"`
			State struct {
				SecureBoot    *bool   `json:"secure_boot"`
				KernelCmdline *string `json:"kernel_cmdline"`
			} `json:"state"`
		}
		cliJSON(t, 0, &res, "eventlog", "--json", "--pcrs", eventLogDir+"pcrs.json", eventLogDir+name)
		if len(res.PCRs) != 11 {
			t.Errorf("%s: %d PCRs, want 11 (0-9, 14)", name, len(res.PCRs))
		}
		for _, p := range res.PCRs {
			if p.Status != "replayed" {
				t.Errorf("%s: PCR %d %s", name, p.Index, p.Status)
			}
		}
		if res.State.SecureBoot == nil || res.State.KernelCmdline == nil {
			t.Errorf("%s: state %+v", name, res.State)
		}
	}
	code, out, errOut := runCLI(t, "eventlog", "--pcrs", eventLogDir+"pcrs.json", eventLogDir+"gce-rhel8-uefi.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "eventlog output", out, "7    replayed     8", "secure boot            on", `kernel command line    "(hd0,gpt2)/boot/vmlinuz-4.18.0`)

	wrong := writeTemp(t, "pcrs.json", []byte(`{"pcrs":{"sha256":{"7":"`+strings.Repeat("00", 32)+`","16":"`+strings.Repeat("00", 32)+`"}}}`))
	code, out, errOut = runCLI(t, "eventlog", "--pcrs", wrong, eventLogDir+"gce-rhel8-uefi.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "partial replay", out, "7    mismatch", "16   not-covered", "0    unchecked", "secure boot            unknown (PCR 7 not replayed)")

	code, out, errOut = runCLI(t, "eventlog", eventLogDir+"gce-rhel8-uefi.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "without --pcrs", out, "NOT VERIFIED")

	garbage := writeTemp(t, "log.bin", []byte("not an event log"))
	code, out, errOut = runCLI(t, "eventlog", garbage)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "event-log")

	for _, bad := range []string{`{"pcrs":{"sha256":{"24":"00"}}}`, `{"pcrs":{"sha1":{}}}`, `[]`, `{"other.bin":{"pcrs":{"sha256":{}}}}`} {
		f := writeTemp(t, "bad.json", []byte(bad))
		code, out, errOut = runCLI(t, "eventlog", "--pcrs", f, eventLogDir+"gce-rhel8-uefi.bin")
		wantExit(t, code, 1, out, errOut)
	}
	if _, err := os.Stat(eventLogDir + "SOURCES.md"); err != nil {
		t.Error(err)
	}
}
