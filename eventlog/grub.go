package eventlog

import (
	"slices"
	"strings"
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
// its text): the string measured right after the last command that loads
// a kernel, when that command is a Linux loader and that string is
// labelled as a kernel command line. Otherwise none (false): the labels
// alone, which nothing measures, never name it.
func grubKernelCmdline(cmds []string) (string, bool) {
	last, linux := -1, false
	for i, c := range cmds {
		name, _, _ := strings.Cut(grubText(c), " ")
		switch {
		case slices.Contains(linuxLoaders, name):
			last, linux = i, true
		case slices.Contains(otherLoaders, name):
			last, linux = i, false
		}
	}
	if !linux || last+1 >= len(cmds) {
		return "", false
	}
	next := cmds[last+1]
	for _, p := range kernelPrefixes {
		if strings.HasPrefix(next, p) {
			return grubText(next), true
		}
	}
	return "", false
}
