package eventlog_test

import (
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// grubEvent is one PCR 8 event of a GRUB log: the event data (prefix and
// text, as the log carries it) and the text GRUB measured. GRUB's digest
// covers the text only, never the prefix ("grub_cmd: ",
// "kernel_cmdline: ", ...): anyone holding the log can change a prefix
// without changing what PCR 8 replays to.
type grubEvent struct {
	data, measured string
	// typ is the event's type (also unmeasured); zero means EV_IPL.
	typ tcg.EventType
}

// cmd is an honest event: prefix + text, the text measured.
func cmd(prefix, text string) grubEvent { return grubEvent{data: prefix + text, measured: text} }

// tagged is e retyped EV_EVENT_TAG, which go-eventlog skips in PCR 8.
func tagged(e grubEvent) grubEvent { e.typ = tcg.EventTag; return e }

// TestKernelCmdlineIgnoresUnmeasuredPrefix: the kernel command line claim
// rests on what PCR 8 measures (the texts, in order), never on the
// prefixes that label them: it is the loader's measurement that follows
// the one kernel-loading command (with two or more, none: the booted
// system can append its own to PCR 8). A log whose prefixes were rewritten (a command
// measured by a crafted grub.cfg relabelled as the kernel command line,
// the booted kernel's command line relabelled as a command) replays to
// the quoted PCR 8 and must not yield the command line the policy wants.
func TestKernelCmdlineIgnoresUnmeasuredPrefix(t *testing.T) {
	for _, tt := range cmdlineCases() {
		t.Run(tt.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			for _, e := range tt.events {
				typ := tcg.Ipl
				if e.typ != 0 {
					typ = e.typ
				}
				b.MeasureDigest(8, typ, []byte(e.data), []byte(e.measured))
			}
			res := replayBuilt(t, b, 8)
			got := res.State.KernelCmdline
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("kernel command line %q claimed, want none (notes %q)", *got, res.State.Notes)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("kernel command line %v, want %q (notes %q)", deref(got), *tt.want, res.State.Notes)
			}
			if tt.noCommands && res.State.GRUBCommands != nil {
				t.Errorf("GRUB commands %q claimed, want none", res.State.GRUBCommands)
			}
			if got != nil && strings.Contains(*got, "init=") {
				t.Errorf("the booted command line is evil, yet %q is claimed", *got)
			}
		})
	}
}

// cmdlineCase is a PCR 8 log and the kernel command line it must claim.
type cmdlineCase struct {
	name   string
	events []grubEvent
	want   *string // nil: no kernel command line claimed
	// noCommands: no GRUB command list is claimed either.
	noCommands bool
}

// cmdlineCases are TestKernelCmdlineIgnoresUnmeasuredPrefix's logs: the
// booted command line is good, or evil (init=/bin/sh).
func cmdlineCases() []cmdlineCase {
	const (
		good = "/vmlinuz root=/dev/sda1 ro quiet"
		evil = "/vmlinuz root=/dev/sda1 ro init=/bin/sh"
	)
	return []cmdlineCase{
		{name: "honest boot", events: []grubEvent{
			cmd("grub_cmd: ", "set timeout=0"), cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), cmd("grub_cmd: ", "initrd /initrd.img"),
		}, want: ptr(good)},
		{name: "old GRUB prefixes", events: []grubEvent{
			cmd("grub_cmd ", "linux "+good), cmd("grub_kernel_cmdline ", good),
		}, want: ptr(good)},
		{name: "NUL-terminated", events: []grubEvent{
			{data: "grub_cmd: linux " + good + "\x00", measured: "linux " + good}, {data: "kernel_cmdline: " + good + "\x00", measured: good + "\x00"},
		}, want: ptr(good)},
		// Two kernel-loading commands: GRUB ran linux twice, or the
		// system it booted extended PCR 8 after boot (any PCR 0-15 can
		// be extended from locality 0) with a command and a command line
		// of its choosing, which the log cannot tell apart: none.
		{name: "second linux command", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+evil), cmd("kernel_cmdline: ", evil), cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good),
		}},
		{name: "linux command and command line appended after boot", events: []grubEvent{
			cmd("grub_cmd: ", "set timeout=0"), cmd("grub_cmd: ", "linux "+evil), cmd("kernel_cmdline: ", evil), cmd("grub_cmd: ", "boot"),
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good),
		}},
		{name: "linux16 appended after boot", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+evil), cmd("kernel_cmdline: ", evil), cmd("grub_cmd: ", "linux16 "+good), cmd("kernel_cmdline: ", good),
		}},
		{name: "booted command line relabelled, a crafted command promoted", events: []grubEvent{
			// grub.cfg ran a line whose text is the good command line (an
			// unknown command: GRUB measures it, then fails it), then
			// booted evil; the log's prefixes were swapped afterwards.
			{data: "kernel_cmdline: " + good, measured: good}, cmd("grub_cmd: ", "linux "+evil), {data: "grub_cmd: " + evil, measured: evil},
		}},
		{name: "booted command line demoted", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), cmd("grub_cmd: ", "linux "+evil), {data: "grub_cmd: " + evil, measured: evil},
		}},
		{name: "linux command relabelled", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), {data: "kernel_cmdline: linux " + evil, measured: "linux " + evil}, {data: "grub_cmd: " + evil, measured: evil},
		}},
		{name: "booted kernel's events retyped EV_EVENT_TAG", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), tagged(cmd("grub_cmd: ", "linux "+evil)), tagged(cmd("kernel_cmdline: ", evil)),
		}, noCommands: true},
		{name: "no kernel command line measured", events: []grubEvent{
			cmd("grub_cmd: ", "set timeout=0"), cmd("grub_cmd: ", "echo hello"),
		}},
		{name: "kernel command line without a linux command", events: []grubEvent{
			cmd("grub_cmd: ", "set timeout=0"), cmd("kernel_cmdline: ", good),
		}},
		{name: "another loader after the kernel", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), cmd("grub_cmd: ", "chainloader /evil.efi"),
		}},
		{name: "linux command last", events: []grubEvent{
			cmd("grub_cmd: ", "linux "+good), cmd("kernel_cmdline: ", good), cmd("grub_cmd: ", "linux "+evil),
		}},
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
