package eventlog

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestCheckSignatureListShortEntries: a SignatureSize under the 16-byte
// owner GUID is refused even when it divides the entries evenly (the
// cases of TestCheckSignatureList that are under 16 do not divide them).
func TestCheckSignatureListShortEntries(t *testing.T) {
	digests := SignatureList(CertSHA256, EFIGUID{Data1: 1}, make([]byte, 32), make([]byte, 32)) // 96 bytes of entries
	for _, size := range []uint32{1, 2, 3, 4, 6, 8, 12} {
		b := append([]byte(nil), digests...)
		binary.LittleEndian.PutUint32(b[24:], size)
		if err := checkSignatureList(b); err == nil || !strings.Contains(err.Error(), "SignatureSize") {
			t.Errorf("SignatureSize %d: %v, want a SignatureSize error", size, err)
		}
	}
}

// TestTaggedEventDataSize: a tagged event's data size must match what
// follows exactly; a smaller one does not name a prefix of it.
func TestTaggedEventDataSize(t *testing.T) {
	tagged := func(size uint32, data string) []byte {
		b := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x8F3B22EC), size)
		return append(b, data...)
	}
	if got := taggedEventData(tagged(3, "abc")); string(got) != "abc" {
		t.Errorf("matching size: %q", got)
	}
	for _, size := range []uint32{0, 2, 4, 1<<32 - 1} {
		if got := taggedEventData(tagged(size, "abc")); got != nil {
			t.Errorf("size %d for 3 bytes: %q, want nil", size, got)
		}
	}
}

// TestKernelCmdlinePrefixOnly: the command after a Linux loader is a
// kernel command line only when it starts with a kernel command-line
// label, not when the label appears inside another command, and only
// after a Linux loader.
func TestKernelCmdlinePrefixOnly(t *testing.T) {
	for _, next := range []string{
		"grub_cmd: echo kernel_cmdline: root=/dev/evil",
		"grub_cmd: echo grub_kernel_cmdline root=/dev/evil",
		" kernel_cmdline: root=/dev/evil",
	} {
		if cl, ok, err := grubKernelCmdline([]string{"grub_cmd: linux /vmlinuz root=/dev/sda1", next}); ok || err != nil {
			t.Errorf("%q: claimed %q, %v", next, cl, err)
		}
	}
	// After a loader of another kernel, a labelled line is not Linux's.
	for _, loader := range []string{"grub_cmd: chainloader /efi/x.efi", "grub_cmd: multiboot2 /xen.gz"} {
		if cl, ok, err := grubKernelCmdline([]string{loader, "kernel_cmdline: root=/dev/evil"}); ok || err != nil {
			t.Errorf("after %q: claimed %q, %v", loader, cl, err)
		}
	}
	if cl, ok, _ := grubKernelCmdline([]string{"grub_cmd: linux /vmlinuz root=/dev/sda1", "kernel_cmdline: /vmlinuz root=/dev/sda1"}); !ok || cl != "/vmlinuz root=/dev/sda1" {
		t.Errorf("labelled command line: %q, %v", cl, ok)
	}
}

// TestBoundedEdges: a name of maxName bytes is kept whole, one byte more
// is cut (and marked), and a cut never splits a rune.
func TestBoundedEdges(t *testing.T) {
	at := strings.Repeat("a", maxName)
	if got := bounded(at); got != at {
		t.Errorf("%d bytes: cut to %d", maxName, len(got))
	}
	if got := bounded(at + "b"); got != at+"…" {
		t.Errorf("%d bytes: %q", maxName+1, got)
	}
	split := strings.Repeat("a", maxName-1) + "é" // é straddles the bound
	if got := bounded(split); got != strings.Repeat("a", maxName-1)+"…" {
		t.Errorf("a rune across the bound: %q", got)
	}
}
