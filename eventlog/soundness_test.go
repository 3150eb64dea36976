package eventlog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// What a PCR binds is the sequence of its own digests: not the events'
// types, not their data unless a digest is of it, not how the events of
// different PCRs interleave. Two logs that agree on every PCR's digests
// replay to the same quoted values, so every claim made from both must
// agree: a claim may be left out of one (a note says why), never differ.

// soundPCRs and soundTypes are what FuzzClaimsRestOnMeasurements draws
// from: the PCRs claims come from and types that matter to them.
var (
	soundPCRs  = []int{0, 4, 5, 7, 8, 9}
	soundTypes = []tcg.EventType{
		tcg.Ipl, tcg.EventTag, tcg.EFIAction, tcg.EFIBootServicesApplication, tcg.SCRTMVersion, tcg.NonhostInfo,
		tcg.PostCode, tcg.Separator, tcg.EFIVariableDriverConfig, tcg.EFIPlatformFirmwareBlob, tcg.NoAction,
	}
	// soundData are data whose meaning the claims know.
	soundData = []string{
		"\x00\x00\x00\x00", tcg.CallingEFIApplication, tcg.ExitBootServicesInvocation, "grub_cmd: linux /vmlinuz ro",
		"kernel_cmdline: /vmlinuz ro", "grub_cmd: linux16 /evil init=/bin/sh", "kernel_cmdline: /evil init=/bin/sh",
		string(eventlog.UTF16("Hyper-V UEFI Release v4.1")), string(eventlog.UTF16("GCE Virtual Firmware v2")),
		"GCE NonHostInfo\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "/vmlinuz\x00",
	}
)

// soundEvent is one event of both logs: the same PCR and digest, a type
// (and for the second log another one), and a key that orders the second
// log's events across PCRs.
type soundEvent struct {
	pcr            int
	typA, typB     tcg.EventType
	data, measured []byte
	key            byte
}

// soundEvents reads events from b, 5 bytes each: PCR, type A, type B,
// data (from soundData; odd: the digest is of "image" + data, not of the
// data), order key.
func soundEvents(b []byte) []soundEvent {
	var out []soundEvent
	for ; len(b) >= 5 && len(out) < 40; b = b[5:] {
		e := soundEvent{pcr: soundPCRs[int(b[0])%len(soundPCRs)], typA: soundTypes[int(b[1])%len(soundTypes)], typB: soundTypes[int(b[2])%len(soundTypes)], key: b[4]}
		e.data = []byte(soundData[int(b[3]>>1)%len(soundData)])
		e.measured = e.data
		if b[3]&1 == 1 {
			e.measured = append([]byte("image "), e.data...)
		}
		if e.typA == tcg.NoAction || e.typB == tcg.NoAction {
			// Not extended: the two logs must still measure alike.
			e.typA, e.typB = tcg.NoAction, tcg.NoAction
		}
		out = append(out, e)
	}
	return out
}

// reordered returns events interleaved across PCRs by their keys, each
// PCR's events in their order.
func reordered(events []soundEvent) []soundEvent {
	queues := map[int][]soundEvent{}
	for _, e := range events {
		queues[e.pcr] = append(queues[e.pcr], e)
	}
	out := make([]soundEvent, 0, len(events))
	for len(out) < len(events) {
		best := -1
		for _, p := range soundPCRs {
			if q := queues[p]; len(q) > 0 && (best < 0 || q[0].key < queues[best][0].key) {
				best = p
			}
		}
		out = append(out, queues[best][0])
		queues[best] = queues[best][1:]
	}
	return out
}

// soundReplay builds a log of events (type B when b) and replays it
// against quoted (nil: its own values, returned).
func soundReplay(t *testing.T, events []soundEvent, b bool, quoted map[int][]byte) (*eventlog.Result, map[int][]byte) {
	l := eventlog.NewBuilder(nil)
	for _, e := range events {
		typ := e.typA
		if b {
			typ = e.typB
		}
		l.MeasureDigest(e.pcr, typ, e.data, e.measured)
	}
	log, ext, err := l.Log()
	if err != nil {
		t.Fatal(err)
	}
	if quoted == nil {
		quoted = eventlog.PCRs(ext)
	}
	res, err := eventlog.Replay(log, quoted)
	if err != nil {
		return nil, quoted
	}
	return res, quoted
}

// FuzzClaimsRestOnMeasurements: two logs with the same digests per PCR,
// one with other types and another interleaving of the PCRs, never claim
// different things.
func FuzzClaimsRestOnMeasurements(f *testing.F) {
	// Bytes per event: PCR (index of soundPCRs), type A and type B
	// (indices of soundTypes), data (index of soundData << 1, | 1 for an
	// image), order key.
	// PCR 5's ExitBootServices moved ahead of PCR 4's second application.
	f.Add([]byte{1, 2, 2, 2, 0, 1, 7, 7, 0, 1, 1, 3, 3, 21, 2, 1, 3, 3, 7, 5, 2, 2, 2, 4, 3})
	// The S-CRTM version's type swapped with another self-measured string's.
	f.Add([]byte{0, 4, 6, 14, 0, 0, 6, 4, 16, 1, 0, 7, 7, 0, 2})
	// GCE's version and Non-Host Info swapped.
	f.Add([]byte{0, 4, 5, 16, 0, 0, 5, 4, 18, 1, 0, 7, 7, 0, 2})
	// A PCR 9 file retyped EV_EVENT_TAG.
	f.Add([]byte{5, 0, 1, 21, 0, 5, 0, 0, 7, 1})
	// A PCR 8 command retyped.
	f.Add([]byte{4, 0, 0, 6, 0, 4, 0, 0, 8, 1, 4, 0, 1, 10, 2, 4, 0, 1, 12, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		events := soundEvents(in)
		a, quoted := soundReplay(t, events, false, nil)
		b, _ := soundReplay(t, reordered(events), true, quoted)
		if a == nil || b == nil {
			return
		}
		for _, i := range soundPCRs {
			if a.Status(i) != b.Status(i) {
				t.Fatalf("PCR %d: %s and %s", i, a.Status(i), b.Status(i))
			}
		}
		sa, sb := a.State, b.State
		bothSame(t, "firmware", sa.Firmware, sb.Firmware)
		bothSame(t, "kernel command line", sa.KernelCmdline, sb.KernelCmdline)
		bothSame(t, "secure boot", sa.SecureBoot, sb.SecureBoot)
		if sa.EFIApps != nil && sb.EFIApps != nil && !slices.Equal(apps(sa.EFIApps), apps(sb.EFIApps)) {
			t.Fatalf("EFI applications %q and %q", sa.EFIApps, sb.EFIApps)
		}
		if !slices.Equal(fileDigests(sa.GRUBFiles), fileDigests(sb.GRUBFiles)) {
			t.Fatalf("GRUB files %+v and %+v", sa.GRUBFiles, sb.GRUBFiles)
		}
	})
}

// bothSame fails t when a and b are both claimed and differ.
func bothSame[T comparable](t *testing.T, what string, a, b *T) {
	t.Helper()
	if a != nil && b != nil && *a != *b {
		t.Fatalf("%s %v and %v", what, *a, *b)
	}
}

// apps drops from digests those of known PCR 4 actions and separators,
// which a type may or may not call an application.
func apps(digests []string) []string {
	var out []string
	for _, d := range digests {
		known := false
		for _, s := range []string{tcg.CallingEFIApplication, "\x00\x00\x00\x00"} {
			k := sha256.Sum256([]byte(s))
			known = known || d == hex.EncodeToString(k[:])
		}
		if !known {
			out = append(out, d)
		}
	}
	return out
}

func fileDigests(files []eventlog.GRUBFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.SHA256)
	}
	return out
}
