package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
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

// moreLogDir holds go-eventlog's other real logs and their PCR values.
const moreLogDir = "../../testdata/go-eventlog/"

// TestEventLogMoreRealLogs: the other real logs (bare metal and GCE)
// replay every PCR their pcrs.json gives; a bare-metal log whose notes
// quote its UTF-16 event data (NUL bytes) puts no control character on
// the terminal, and its GUID S-CRTM version is shown as hex; a replayed
// PCR 7 whose Secure Boot state is not claimed (the laptop's PK does not
// parse) is not said to be "not replayed"; a SHA-1-only log is rejected.
func TestEventLogMoreRealLogs(t *testing.T) {
	for _, name := range []string{"arch-linux-workstation.bin", "glinux-alex.bin", "gdc-host.bin", "ubuntu-1804-amd-sev.bin", "cos-85-amd-sev.bin", "cos-93-amd-sev.bin", "cos-101-amd-sev.bin"} {
		var res struct {
			PCRs []struct {
				Index  int    `json:"index"`
				Status string `json:"status"`
			} `json:"pcrs"`
		}
		cliJSON(t, 0, &res, "eventlog", "--json", "--pcrs", moreLogDir+"pcrs.json", moreLogDir+name)
		if len(res.PCRs) < 8 {
			t.Errorf("%s: %d PCRs", name, len(res.PCRs))
		}
		for _, p := range res.PCRs {
			if p.Status != "replayed" {
				t.Errorf("%s: PCR %d %s", name, p.Index, p.Status)
			}
		}
	}
	code, out, errOut := runCLI(t, "eventlog", "--pcrs", moreLogDir+"pcrs.json", moreLogDir+"arch-linux-workstation.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "arch output", out, `boot firmware          "hex:1efb6b540c1d5540a4ad4ef4bf17b83a"`, `note                   invalid prefix seen for PCR8 event: i\x00n\x00i\x00t\x00r\x00d`)
	for i, r := range out {
		if r != '\n' && !strconv.IsPrint(r) {
			t.Errorf("arch output: unprintable %U at byte %d:\n%q", r, i, out)
			break
		}
	}

	code, out, errOut = runCLI(t, "eventlog", "--pcrs", moreLogDir+"pcrs.json", moreLogDir+"glinux-alex.bin")
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "glinux output", out, "7    replayed", "secure boot            unknown (PCR 7 replayed, its Secure Boot state is not claimed: see the notes)", "negative serial number")
	if strings.Contains(out, "PCR 7 not replayed") {
		t.Errorf("glinux output says PCR 7 did not replay:\n%s", out)
	}

	code, out, errOut = runCLI(t, "eventlog", moreLogDir+"debian-10.bin")
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "debian-10 stderr", errOut, "event-log", "Spec ID event")
}

// gceEvidenceFile writes synthetic evidence (private test chain) whose
// quote signs the rhel8 log's PCRs and that carries that log.
func gceEvidenceFile(t *testing.T, nonce []byte) string {
	t.Helper()
	var all map[string]struct {
		PCRs map[string]map[string]string `json:"pcrs"`
	}
	raw, err := os.ReadFile(eventLogDir + "pcrs.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	pcrs := testev.DefaultPCRs()
	for k, v := range all["gce-rhel8-uefi.bin"].PCRs["sha256"] {
		i, _ := strconv.Atoi(k)
		if pcrs[i], err = hex.DecodeString(v); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := (&testev.Builder{Nonce: nonce, PCRs: pcrs}).Build()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Evidence.EventLog, err = os.ReadFile(eventLogDir + "gce-rhel8-uefi.bin"); err != nil {
		t.Fatal(err)
	}
	data, err := ev.Evidence.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, "evidence.json", data)
}

// TestVerifyEventLog: verify replays the evidence's log, prints and
// returns (schema-valid JSON) the replay, and applies the policy.
func TestVerifyEventLog(t *testing.T) {
	nonce := "event-log nonce"
	file := gceEvidenceFile(t, []byte(nonce))
	roots := writeTemp(t, "roots.pem", testev.ChainPEM())
	base := []string{"--roots", roots, "--nonce", nonce}
	code, out, errOut := verifyCLI(t, nil, append(base, file)...)
	wantExit(t, code, 0, out, errOut)
	wantContains(t, "verify output", out, "event log              replayed PCRs [0,1,2,3,4,5,6,7,8,9,14]; secure boot on; kernel command line \"(hd0,gpt2)/boot/vmlinuz-4.18.0")

	code, out, errOut = verifyCLI(t, nil, append(base, "--json", file)...)
	wantExit(t, code, 0, out, errOut)
	raw, err := os.ReadFile("../../docs/verify-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	v := decodeNumbers(t, out)
	if err := checkSchema(decodeNumbers(t, string(raw)).(map[string]any), v, "$"); err != nil {
		t.Errorf("schema: %v", err)
	}
	if _, ok := v.(map[string]any)["event_log"]; !ok {
		t.Error("no event_log in the JSON claims")
	}

	ok := writeTemp(t, "ok.json", []byte(`{"secure_boot":true,"kernel_cmdline":"/.* crashkernel=auto .*/","event_log_pcrs":[4,7,8]}`))
	code, out, errOut = verifyCLI(t, nil, append(base, "--policy", ok, file)...)
	wantExit(t, code, 0, out, errOut)
	bad := writeTemp(t, "bad.json", []byte(`{"kernel_cmdline":"/.* init=/bin/sh.*/"}`))
	code, out, errOut = verifyCLI(t, nil, append(base, "--policy", bad, file)...)
	wantExit(t, code, 2, out, errOut)
	wantContains(t, "stderr", errOut, "event-log")
}

// TestVerifyEventLogBeyondQuote: a log event on a PCR the quote does not
// cover (index 30: the quote selects 0-23) is claimed "unchecked" in
// schema-valid JSON, the PCRs the quote covers still replay, and no policy
// can name it.
func TestVerifyEventLogBeyondQuote(t *testing.T) {
	b := eventlog.NewBuilder(nil)
	b.Measure(7, tcg.Separator, []byte{0, 0, 0, 0})
	log, ext, err := b.Log()
	if err != nil {
		t.Fatal(err)
	}
	// An EV_IPL event on PCR 30, both digests zero, no data.
	raw := binary.LittleEndian.AppendUint32(nil, 30)
	raw = binary.LittleEndian.AppendUint32(raw, uint32(tcg.Ipl))
	raw = binary.LittleEndian.AppendUint32(raw, 2)
	raw = append(binary.LittleEndian.AppendUint16(raw, 0x0004), make([]byte, 20)...)
	raw = append(binary.LittleEndian.AppendUint16(raw, 0x000B), make([]byte, 32)...)
	log = append(log, binary.LittleEndian.AppendUint32(raw, 0)...)
	pcrs := testev.DefaultPCRs()
	pcrs[7] = eventlog.PCRs(ext)[7]
	const nonce = "beyond the quote"
	ev, err := (&testev.Builder{Nonce: []byte(nonce), PCRs: pcrs}).Build()
	if err != nil {
		t.Fatal(err)
	}
	ev.Evidence.EventLog = log
	data, err := ev.Evidence.Encode()
	if err != nil {
		t.Fatal(err)
	}
	file := writeTemp(t, "evidence.json", data)
	base := []string{"--roots", writeTemp(t, "roots.pem", testev.ChainPEM()), "--nonce", nonce}
	var claims struct {
		EventLog struct {
			PCRs map[string]string `json:"pcrs"`
		} `json:"event_log"`
	}
	out := cliJSON(t, 0, &claims, append([]string{"verify", "--json"}, append(base, file)...)...)
	if claims.EventLog.PCRs["30"] != "unchecked" || claims.EventLog.PCRs["7"] != "replayed" {
		t.Errorf("event_log pcrs %v, want 30 unchecked and 7 replayed", claims.EventLog.PCRs)
	}
	schema, err := os.ReadFile("../../docs/verify-output.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSchema(decodeNumbers(t, string(schema)).(map[string]any), decodeNumbers(t, out), "$"); err != nil {
		t.Errorf("schema: %v", err)
	}
	code, out, errOut := verifyCLI(t, nil, append(base, "--policy", writeTemp(t, "p.json", []byte(`{"event_log_pcrs":[30]}`)), file)...)
	wantExit(t, code, 1, out, errOut)
	wantContains(t, "stderr", errOut, "event_log_pcrs[0]: 30")
}
