package eventlog

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-eventlog/tcg"
)

// GRUB measures each string it measures into PCR 8 without the prefix
// that labels it in the event data ("grub_cmd: ", "kernel_cmdline: ",
// ...): the prefix is not covered by the digest, so whoever holds the log
// can relabel any measured string. The kernel command line is therefore
// found by what PCR 8 measures, in order: the string GRUB's Linux loader
// measures right after the last kernel-loading command.

// grubPrefixes are the prefixes GRUB writes before a measured string
// (go-eventlog accepts the same); kernelPrefixes those of the Linux
// loader's command line.
var (
	grubPrefixes   = []string{"grub_cmd: ", "kernel_cmdline: ", "module_cmdline: ", "grub_kernel_cmdline ", "grub_cmd "}
	kernelPrefixes = []string{"kernel_cmdline: ", "grub_kernel_cmdline "}
)

// linuxLoaders are GRUB's commands that load a Linux kernel and then
// measure its command line; otherLoaders load something else to boot
// instead (after them the kernel command line is unknown).
var (
	linuxLoaders = []string{"linux", "linux16", "linuxefi"}
	otherLoaders = []string{"chainloader", "multiboot", "multiboot2", "xen_hypervisor", "kfreebsd", "knetbsd", "kopenbsd", "xnu_kernel", "xnu_kernel64", "appleloader"}
)

// grubText returns the measured string of a GRUB PCR 8 event's data:
// without its prefix and NUL terminator.
func grubText(data string) string {
	for _, p := range grubPrefixes {
		if s, ok := strings.CutPrefix(data, p); ok {
			return strings.TrimSuffix(s, "\x00")
		}
	}
	return strings.TrimSuffix(data, "\x00")
}

// grubKernelCmdline returns the kernel command line of the GRUB commands
// cmds (PCR 8's event data, in order, each one's digest checked against
// its text): the string measured right after the one command that loads
// a kernel, when that command is a Linux loader and that string is
// labelled as a kernel command line. Otherwise none (false): the labels
// alone, which nothing measures, never name it. With more than one
// kernel-loading command it is none too, with an error saying why: the
// system GRUB booted can extend PCR 8 itself (from locality 0, like any
// PCR 0-15) with a loader command and a command line of its choosing, and
// its measurements follow GRUB's, so the last one proves nothing; the log
// cannot tell that from GRUB running linux twice.
func grubKernelCmdline(cmds []string) (string, bool, error) {
	at, loaders, linux := -1, 0, false
	for i, c := range cmds {
		name, _, _ := strings.Cut(grubText(c), " ")
		switch {
		case slices.Contains(linuxLoaders, name):
			at, linux = i, true
		case slices.Contains(otherLoaders, name):
			at, linux = i, false
		default:
			continue
		}
		loaders++
	}
	if loaders > 1 {
		return "", false, fmt.Errorf("PCR 8 measured %d kernel-loading commands: no kernel command line is claimed (what the booted system extended PCR 8 with cannot be told from what GRUB measured)", loaders)
	}
	if !linux || at+1 >= len(cmds) {
		return "", false, nil
	}
	next := cmds[at+1]
	for _, p := range kernelPrefixes {
		if strings.HasPrefix(next, p) {
			return grubText(next), true, nil
		}
	}
	return "", false, nil
}

// grubCommands sets st's GRUB commands and kernel command line from cmds,
// go-eventlog's GRUB commands of the verified events. go-eventlog skips
// the PCR 8 events typed EV_EVENT_TAG, and the type is not measured
// either: a PCR 8 event of another type than EV_IPL could be a command
// retyped to hide it (the booted kernel's), so then neither is claimed.
func grubCommands(st *State, cmds []string, events []tcg.Event) {
	for i, e := range events {
		if e.MRIndex() == 8 && e.UntrustedType() != tcg.Ipl {
			st.Notes = append(st.Notes, fmt.Sprintf("PCR 8 event %d is %s, not a GRUB measurement (EV_IPL): no GRUB commands or kernel command line are claimed", i, e.UntrustedType()))
			return
		}
	}
	for _, c := range cmds {
		st.GRUBCommands = append(st.GRUBCommands, strings.ToValidUTF8(strings.TrimSuffix(c, "\x00"), "\uFFFD"))
	}
	// Not go-eventlog's LinuxKernel: it trusts the event data's prefixes,
	// which the digests do not cover (grubKernelCmdline).
	cl, ok, err := grubKernelCmdline(cmds)
	if ok {
		st.KernelCmdline = &cl
	}
	st.note(err)
}

// grubFiles returns every measurement of PCR 9 among events, in order:
// the files GRUB read (EV_IPL, named by the event data), and whatever else
// extended PCR 9, such as the Linux EFI stub's tagged initrd and load
// options. The type is not measured: go-eventlog lists only the EV_IPL
// events (skipping EV_EVENT_TAG ones, and giving up on any other type), so
// a retyped event could hide a file; here every digest PCR 9 measured is
// listed, and the name, which nothing measures, is only a hint.
func grubFiles(events []tcg.Event) []GRUBFile {
	var files []GRUBFile
	for _, e := range events {
		if e.MRIndex() != 9 {
			continue
		}
		name := e.Data
		if e.Type == tcg.EventTag {
			name = taggedEventData(e.Data)
		}
		files = append(files, GRUBFile{
			SHA256:        hex.EncodeToString(e.ReplayedDigest()),
			UntrustedName: bounded(strings.ToValidUTF8(strings.TrimSuffix(string(name), "\x00"), "\uFFFD")),
		})
	}
	return files
}

// taggedEventData returns the data of a TCG_PCClientTaggedEvent (event
// id, data size, data), or nil when the size does not match what follows.
func taggedEventData(b []byte) []byte {
	if len(b) < 8 || uint64(binary.LittleEndian.Uint32(b[4:])) != uint64(len(b)-8) {
		return nil
	}
	return b[8:]
}
