//go:build cgo

package emulator

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the SHA-1 PCR bank
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// TestBootLogReplays: the emulated CVM's event log replays to its quoted
// SHA-256 PCRs 0-9, its SHA-1 digests extend the SHA-1 bank, and the state
// go-eventlog extracts is the emulated boot: Secure Boot on with the fake
// certificates, the kernel command line, the marked firmware version.
func TestBootLogReplays(t *testing.T) {
	c := start(t, nil)
	res := replayNow(t, c)
	for _, p := range res.PCRs {
		want := eventlog.NotCovered
		if p.Index <= 9 {
			want = eventlog.Replayed
		}
		if p.Status != want {
			t.Errorf("PCR %d: %s, want %s", p.Index, p.Status, want)
		}
	}
	st := res.State
	if st.SecureBoot == nil || !*st.SecureBoot {
		t.Errorf("secure boot %v, want on", st.SecureBoot)
	}
	if st.KernelCmdline == nil || *st.KernelCmdline != KernelCmdline {
		t.Errorf("kernel command line %v, want %q", st.KernelCmdline, KernelCmdline)
	}
	if st.Firmware == nil || *st.Firmware != FirmwareVersion || !strings.Contains(*st.Firmware, fakeamd.Marker) {
		t.Errorf("firmware %v, want %q", st.Firmware, FirmwareVersion)
	}
	if len(st.EFIApps) != 3 {
		t.Errorf("%d EFI applications, want shim, GRUB and the kernel", len(st.EFIApps))
	}
	for name, db := range map[string]*eventlog.SignatureDB{"PK": st.PK, "KEK": st.KEK, "db": st.DB} {
		if db == nil || len(db.Certs) != 1 || !strings.Contains(db.Certs[0].Subject, fakeamd.Marker) {
			t.Errorf("%s: %+v, want one certificate marked emulated", name, db)
		}
	}
	if st.DBX == nil || len(st.DBX.Hashes) != 2 {
		t.Errorf("dbx %+v, want two digests", st.DBX)
	}
	if len(st.Authorities) != 1 || st.Authorities[0] != st.DB.Certs[0] {
		t.Errorf("authorities %+v, want the db certificate", st.Authorities)
	}
	wantCmds := []string{"grub_cmd: set root=hd0,gpt1", "grub_cmd: linux " + KernelCmdline, "kernel_cmdline: " + KernelCmdline, "grub_cmd: boot"}
	if strings.Join(st.GRUBCommands, "\n") != strings.Join(wantCmds, "\n") {
		t.Errorf("GRUB commands %q, want %q", st.GRUBCommands, wantCmds)
	}
	if len(st.GRUBFiles) != 2 || st.GRUBFiles[0].UntrustedName != "/boot/grub/grub.cfg" || st.GRUBFiles[1].UntrustedName != kernelPath {
		t.Errorf("GRUB files %+v", st.GRUBFiles)
	}
	if len(st.Notes) != 0 {
		t.Errorf("notes %q", st.Notes)
	}
	checkSHA1Bank(t, c)
}

// checkSHA1Bank: the SHA-1 bank holds the SHA-1 replay of the log.
func checkSHA1Bank(t *testing.T, c *CVM) {
	t.Helper()
	_, extends, err := BootLog(c.VMUniqueID())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]byte{}
	for _, e := range extends {
		v := want[e.PCR]
		if v == nil {
			v = make([]byte, sha1.Size)
		}
		s := sha1.Sum(append(v, e.SHA1[:]...)) //nolint:gosec // the SHA-1 bank
		want[e.PCR] = s[:]
	}
	for pcr := 0; pcr <= 9; pcr++ {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash: tpm2.TPMAlgSHA1, PCRSelect: tpm2.PCClientCompatible.PCRs(uint(pcr)),
		}}}}.Execute(c.TPM())
		if err != nil {
			t.Fatal(err)
		}
		if d := rsp.PCRValues.Digests; len(d) != 1 || !bytes.Equal(d[0].Buffer, want[pcr]) {
			t.Errorf("SHA-1 PCR %d: %x, want %x", pcr, d, want[pcr])
		}
	}
}

// TestBootLogDeterministic: the log depends only on the VM id (the same
// bytes in every run; the VM id only in PCR 6).
func TestBootLogDeterministic(t *testing.T) {
	a, ea, err := BootLog(DefaultVMUniqueID)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := BootLog(DefaultVMUniqueID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two logs for one VM differ")
	}
	other, eo, err := BootLog("00000000-0000-0000-0000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, other) {
		t.Error("the log does not depend on the VM id")
	}
	pa, po := eventlog.PCRs(ea), eventlog.PCRs(eo)
	for pcr := range pa {
		if differ := !bytes.Equal(pa[pcr], po[pcr]); differ != (pcr == 6) {
			t.Errorf("PCR %d: differs between VM ids: %v", pcr, differ)
		}
	}
}

// TestBootLogAfterExtend: a PCR extended after boot (a measurement the log
// does not carry) no longer replays; the others still do, and the state of
// the extended PCR (the kernel command line in PCR 8) is no longer claimed.
func TestBootLogAfterExtend(t *testing.T) {
	c := start(t, nil)
	unlogged := sha256.Sum256([]byte("grub_cmd: an unlogged command"))
	testutil.ExtendPCR(t, c.TPM(), 8, unlogged[:])
	res := replayNow(t, c)
	for pcr := 0; pcr <= 9; pcr++ {
		want := eventlog.Replayed
		if pcr == 8 {
			want = eventlog.Mismatch
		}
		if s := res.Status(pcr); s != want {
			t.Errorf("PCR %d: %s, want %s", pcr, s, want)
		}
	}
	if res.State.KernelCmdline != nil {
		t.Errorf("kernel command line %q claimed from a PCR 8 that did not replay", *res.State.KernelCmdline)
	}
	if res.State.SecureBoot == nil || !*res.State.SecureBoot {
		t.Errorf("secure boot %v, want on from the still replayed PCR 7", res.State.SecureBoot)
	}
}

// replayNow replays c's event log against its vTPM's SHA-256 PCRs now.
func replayNow(t *testing.T, c *CVM) *eventlog.Result {
	t.Helper()
	pcrs, err := vtpm.ReadPCRs(context.Background(), c.TPM())
	if err != nil {
		t.Fatal(err)
	}
	quoted := map[int][]byte{}
	for i, v := range pcrs {
		quoted[i] = v
	}
	res, err := eventlog.Replay(c.EventLog(), quoted)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
