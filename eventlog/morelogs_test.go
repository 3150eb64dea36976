package eventlog_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// moreLogsDir holds go-eventlog's other real logs (bare metal and GCE) and
// the PCR values its replay tests give for them.
const moreLogsDir = "go-eventlog/"

// replayQuoted replays the real log dir+name against the SHA-256 PCRs
// that pcrs.json gives for it, failing t unless every one of them
// replays.
func replayQuoted(t *testing.T, dir, name string) *eventlog.Result {
	t.Helper()
	pcrs := pcrsOf(t, dir, name)
	res, err := eventlog.Replay(testutil.ReadFile(t, dir+name), pcrs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pcrs {
		if s := res.Status(i); s != eventlog.Replayed {
			t.Errorf("PCR %d: %s", i, s)
		}
	}
	return res
}

// pcrsOf reads the SHA-256 bank that the pcrs.json of dir gives for name.
func pcrsOf(t testing.TB, dir, name string) map[int][]byte {
	t.Helper()
	var all map[string]struct {
		PCRs map[string]map[string]string `json:"pcrs"`
	}
	if err := json.Unmarshal(testutil.ReadFile(t, dir+"pcrs.json"), &all); err != nil {
		t.Fatal(err)
	}
	out := map[int][]byte{}
	for k, v := range all[name].PCRs["sha256"] {
		i, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		if out[i], err = hex.DecodeString(v); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no SHA-256 PCRs for %s", name)
	}
	return out
}

// moreLog is what one real log of moreLogsDir must give: nil pointers
// and a zero apps count are "not claimed".
type moreLog struct {
	name       string
	secureBoot *bool
	firmware   *string
	cmdline    string // prefix; "" when none is claimed
	pk         string // subject of the PK; "" when none is claimed
	apps       int
	note       string // a note the state must carry
}

func boolPtr(b bool) *bool { return &b }

// show is *p, or nil.
func show[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func moreLogs() []moreLog {
	cos := "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro noresume "
	cosPK := "CN=UEFI Platform Key v10,OU=Container Optimized OS,O=Google LLC.,L=Mountain View,ST=California,C=US"
	return []moreLog{
		// Bare metal, systemd-boot: the S-CRTM version is a GUID (16
		// bytes, no NUL), not UTF-16 text.
		{name: "arch-linux-workstation.bin", secureBoot: boolPtr(false), firmware: ptr("hex:1efb6b540c1d5540a4ad4ef4bf17b83a"), pk: "CN=Joe Richey (PK)", note: "invalid prefix seen for PCR8 event"},
		// A laptop whose PK has a negative serial number: Go's x509
		// refuses it, so no Secure Boot state is claimed.
		{name: "glinux-alex.bin", note: "negative serial number"},
		// A Dell host: its S-CRTM version is not measured as its data.
		{name: "gdc-host.bin", secureBoot: boolPtr(false), cmdline: "/vmlinuz-6.9.0-rc7+ root=/dev/mapper/ubuntu--vg-ubuntu--lv ro nohibernate kvm_intel.tdx=on intel_iommu=on", pk: "CN=Dell Technologies Inc. Platform Key Gen16 3K,OU=Dell Infrastructure Solutions Group,O=Dell Technologies Inc.,L=Round Rock,ST=Texas,C=US", note: "no firmware version is claimed"},
		{name: "ubuntu-1804-amd-sev.bin", secureBoot: boolPtr(false), firmware: ptr("GCE 1"), cmdline: "/boot/vmlinuz-5.4.0-1046-gcp root=LABEL=cloudimg-rootfs ro console=ttyS0", pk: "CN=newpk", apps: 2},
		{name: "cos-85-amd-sev.bin", secureBoot: boolPtr(true), firmware: ptr("GCE 1"), cmdline: cos, pk: cosPK, apps: 3},
		{name: "cos-93-amd-sev.bin", secureBoot: boolPtr(true), firmware: ptr("GCE 1"), cmdline: cos, pk: cosPK, apps: 3},
		{name: "cos-101-amd-sev.bin", secureBoot: boolPtr(true), firmware: ptr("GCE 1"), cmdline: cos, pk: cosPK, apps: 4},
	}
}

// TestMoreRealLogs: go-eventlog's other real logs replay every PCR its
// tests give (our extend agreeing), and the state claimed is what the
// logs say, no more: a GUID S-CRTM version is hex, not UTF-16 decoded.
func TestMoreRealLogs(t *testing.T) {
	for _, l := range moreLogs() {
		t.Run(l.name, func(t *testing.T) {
			res := replayQuoted(t, moreLogsDir, l.name)
			for _, p := range res.PCRs {
				if p.Replayed != p.Quoted {
					t.Errorf("PCR %d replayed to %s by our extend, quoted %s", p.Index, p.Replayed, p.Quoted)
				}
			}
			checkMoreState(t, l, res.State)
		})
	}
}

// checkMoreState compares st with what l wants.
func checkMoreState(t *testing.T, l moreLog, st eventlog.State) {
	t.Helper()
	if !samePtr(st.SecureBoot, l.secureBoot) {
		t.Errorf("secure boot %v, want %v (notes %q)", show(st.SecureBoot), show(l.secureBoot), st.Notes)
	}
	if !samePtr(st.Firmware, l.firmware) {
		t.Errorf("firmware %v, want %v (notes %q)", show(st.Firmware), show(l.firmware), st.Notes)
	}
	switch {
	case l.cmdline == "" && st.KernelCmdline != nil:
		t.Errorf("kernel command line %q claimed", *st.KernelCmdline)
	case l.cmdline != "" && (st.KernelCmdline == nil || !strings.HasPrefix(*st.KernelCmdline, l.cmdline)):
		t.Errorf("kernel command line %v, want prefix %q (notes %q)", show(st.KernelCmdline), l.cmdline, st.Notes)
	}
	pk := ""
	if st.PK != nil && len(st.PK.Certs) == 1 {
		pk = st.PK.Certs[0].Subject
	}
	if pk != l.pk {
		t.Errorf("PK %q, want %q", pk, l.pk)
	}
	if len(st.EFIApps) != l.apps {
		t.Errorf("%d EFI applications, want %d (notes %q)", len(st.EFIApps), l.apps, st.Notes)
	}
	if l.note != "" && !strings.Contains(strings.Join(st.Notes, "\n"), l.note) {
		t.Errorf("notes %q lack %q", st.Notes, l.note)
	}
}

// samePtr reports whether a and b are both nil or point to equal values.
func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// TestRealLegacyLogsRefused: real logs in the SHA-1-only TPM 1.2 format (a
// GCE Debian 10 VM; a Dell server's, which starts with a StartupLocality
// event) carry no SHA-256 digest: refused, not misread, and the error
// says why. The Dell log's first event is an EV_NO_ACTION like a Spec ID
// event, and was refused as "event[0].specID: truncated (24 bytes at
// offset 0, 17 left)", as if a crypto-agile log had been cut short.
func TestRealLegacyLogsRefused(t *testing.T) {
	for _, c := range []struct{ file, field, text string }{
		{moreLogsDir + "debian-10.bin", "event[0].eventType", "does not start with a Spec ID event"},
		{"ita-eventlogs/dell-binary_bios_measurements12.bin", "event[0].specID.signature",
			`an event "StartupLocality", not a Spec ID event ("Spec ID Event03\x00"): the log is in the SHA-1-only TPM 1.2 format`},
	} {
		res, err := eventlog.Replay(testutil.ReadFile(t, c.file), nil)
		fe, ok := errors.AsType[*format.Error](err)
		if !errors.Is(err, eventlog.ErrFormat) || res != nil || !ok || fe.Field != c.field || !strings.Contains(err.Error(), c.text) || errors.Is(err, format.ErrTruncated) {
			t.Errorf("%s: %v, %v; want ErrFormat at %s saying %q", c.file, res, err, c.field, c.text)
		}
	}
}

// TestRealHPELog: an HPE server's log (no quote published with it, so it
// is replayed against its own values: this checks what is read, not the
// replay) gives its NUL-terminated UTF-16 firmware version, its Secure
// Boot state and GRUB's kernel command line.
func TestRealHPELog(t *testing.T) {
	log := testutil.ReadFile(t, "ita-eventlogs/hpe-binary_bios_measurements20.bin")
	own, err := eventlog.Replay(log, nil)
	if err != nil {
		t.Fatal(err)
	}
	pcrs := map[int][]byte{}
	for _, p := range own.PCRs {
		if pcrs[p.Index], err = hex.DecodeString(p.Replayed); err != nil {
			t.Fatal(err)
		}
	}
	res, err := eventlog.Replay(log, pcrs)
	if err != nil {
		t.Fatal(err)
	}
	checkMoreState(t, moreLog{
		secureBoot: boolPtr(false), firmware: ptr("U46 v1.56 (11/29/2021)"),
		cmdline: "/vmlinuz-5.15.0-119-generic root=/dev/mapper/ubuntu--vg-ubuntu--lv ro ima=on ima_appraise=off ima_policy=tcb",
		pk:      "CN=HPE UEFI Secure Boot 2016 PK Key,OU=CODE-SIGN,O=Hewlett Packard Enterprise Company,C=US", apps: 2,
	}, res.State)
}

// cocosAttestation is a real go-tpm-tools attestation of an OVMF guest
// with custom Secure Boot keys (Cocos): AK, SHA-256 and SHA-384 quotes of
// PCRs 0-23 and the boot event log.
const cocosAttestation = "cocos-vtpm/attestation.pb"

// TestRealCocosAttestation: the log replays against the PCRs of the signed
// SHA-256 quote, end to end; OVMF's empty S-CRTM version (a lone NUL) is
// no firmware version, and Secure Boot with Cocos's PK is claimed.
func TestRealCocosAttestation(t *testing.T) {
	a, pcrs := readAttestation(t, cocosAttestation)
	nonce, err := hex.DecodeString("6b4a6e492a6299df233805b240fd664f2c94220a911b7a973d735998865584ac")
	if err != nil {
		t.Fatal(err)
	}
	quoted, err := quotedSHA256(t, a, pcrs, nonce)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eventlog.Replay(a.GetEventLog(), quoted)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		want := eventlog.NotCovered
		if i <= 7 || i == 9 {
			want = eventlog.Replayed
		}
		if s := res.Status(i); s != want {
			t.Errorf("PCR %d: %s, want %s", i, s, want)
		}
	}
	checkMoreState(t, moreLog{secureBoot: boolPtr(true), pk: "CN=COCOS PK", note: "no GRUB measurements found"}, res.State)
	if len(res.State.Authorities) != 1 || len(res.State.GRUBFiles) != 2 {
		t.Errorf("%d authorities, %d PCR 9 files; want 1 and 2", len(res.State.Authorities), len(res.State.GRUBFiles))
	}
}
