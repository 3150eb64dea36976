package eventlog_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// buildTypes are the event types the round-trip tests measure (not
// EV_NO_ACTION or H-CRTM events, which change a PCR's starting value).
var buildTypes = []tcg.EventType{
	tcg.Separator, tcg.EFIAction, tcg.Ipl, tcg.EFIBootServicesApplication,
	tcg.EFIVariableDriverConfig, tcg.CompactHash, tcg.SCRTMVersion, tcg.EFIVariableAuthority,
}

// buildFrom builds a log from b: each event takes a PCR byte, a type byte,
// a length byte and that much data (cut at the end of b), at most 64
// events.
func buildFrom(b []byte) ([]byte, []eventlog.Extend, error) {
	l := eventlog.NewBuilder(b[:min(len(b), 300)])
	for n := 0; len(b) >= 3 && n < 64; n++ {
		pcr, typ, size := int(b[0])%(eventlog.MaxPCR+1), buildTypes[int(b[1])%len(buildTypes)], int(b[2])
		b = b[3:]
		data := b[:min(size, len(b))]
		b = b[len(data):]
		l.Measure(pcr, typ, data)
	}
	return l.Log()
}

// replayBuilt replays the log b built against b's own PCR values, checks
// the round trip (see checkRoundTrip) and that each of pcrs replayed.
func replayBuilt(t *testing.T, b *eventlog.Builder, pcrs ...int) *eventlog.Result {
	t.Helper()
	log, ext, err := b.Log()
	if err != nil {
		t.Fatal(err)
	}
	res := checkRoundTrip(t, log, ext)
	for _, i := range pcrs {
		if s := res.Status(i); s != eventlog.Replayed {
			t.Fatalf("PCR %d %s, want replayed", i, s)
		}
	}
	return res
}

// checkRoundTrip: Replay parses what the builder wrote, every PCR it
// extends replays against the builder's own values, and the events are
// the builder's, in order.
func checkRoundTrip(t *testing.T, log []byte, ext []eventlog.Extend) *eventlog.Result {
	t.Helper()
	want := eventlog.PCRs(ext)
	res, err := eventlog.Replay(log, want)
	if err != nil {
		t.Fatalf("Replay of a built log: %v", err)
	}
	for i, v := range want {
		if s := res.Status(i); s != eventlog.Replayed {
			t.Fatalf("PCR %d: %s, want replayed (value %x)", i, s, v)
		}
	}
	if len(res.Events) != len(ext) {
		t.Fatalf("%d events parsed, %d built", len(res.Events), len(ext))
	}
	for i, e := range res.Events {
		if e.PCR != ext[i].PCR || e.Digest != hex.EncodeToString(ext[i].SHA256[:]) {
			t.Fatalf("event %d: PCR %d %s, built PCR %d %x", i, e.PCR, e.Digest, ext[i].PCR, ext[i].SHA256)
		}
	}
	return res
}

// TestBuilderRoundTrip: built logs, from empty to every PCR and type,
// replay to the values PCRs computes.
func TestBuilderRoundTrip(t *testing.T) {
	all := []byte{}
	for pcr := 0; pcr <= eventlog.MaxPCR; pcr++ {
		for ty := range buildTypes {
			all = append(all, byte(pcr), byte(ty), 5, 'e', 'v', 'e', 'n', byte(pcr))
		}
	}
	for name, in := range map[string][]byte{
		"vendor info only": []byte("x"),
		"one separator":    {7, 0, 4, 0, 0, 0, 0},
		"every pcr":        all,
	} {
		t.Run(name, func(t *testing.T) {
			log, ext, err := buildFrom(in)
			if err != nil {
				t.Fatal(err)
			}
			if len(ext) == 0 {
				if _, err := eventlog.Replay(log, nil); err != nil {
					t.Fatalf("a log of no events: %v", err)
				}
				return
			}
			checkRoundTrip(t, log, ext)
		})
	}
}

// TestBuilderErrors: a PCR out of 0..23 or a log over MaxSize is ErrBuild,
// and the builder keeps the first error.
func TestBuilderErrors(t *testing.T) {
	for name, measure := range map[string]func(*eventlog.Builder){
		"pcr -1": func(b *eventlog.Builder) { b.Measure(-1, tcg.Separator, nil) },
		"pcr 24": func(b *eventlog.Builder) { b.Measure(24, tcg.Separator, nil) },
		"oversize": func(b *eventlog.Builder) {
			b.Measure(0, tcg.Ipl, make([]byte, eventlog.MaxSize))
		},
	} {
		b := eventlog.NewBuilder(nil)
		measure(b)
		b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
		if log, ext, err := b.Log(); !errors.Is(err, eventlog.ErrBuild) || log != nil || ext != nil {
			t.Errorf("%s: %d bytes, %d extends, %v; want ErrBuild", name, len(log), len(ext), err)
		}
	}
	long := eventlog.NewBuilder(bytes.Repeat([]byte{'v'}, 300))
	log, _, err := long.Log()
	if err != nil {
		t.Fatal(err)
	}
	// Vendor info is cut to 255 bytes: the header still parses.
	if _, err := eventlog.Replay(log, nil); err != nil {
		t.Errorf("a header with 300 bytes of vendor info: %v", err)
	}
}

// TestPCRNotQuoted: an event on a PCR the quote does not cover is
// "unchecked": reported, never trusted; the other PCRs replay and their
// state is extracted. An event on a PCR no TPM has (index 30) is the same.
func TestPCRNotQuoted(t *testing.T) {
	b := eventlog.NewBuilder(nil)
	b.Measure(7, tcg.EFIVariableDriverConfig, eventlog.VariableData(eventlog.GlobalVariable, "SecureBoot", []byte{0}))
	b.Measure(7, tcg.Separator, []byte{0, 0, 0, 0})
	b.Measure(23, tcg.Ipl, []byte("on a PCR the quote does not cover"))
	log, ext, err := b.Log()
	if err != nil {
		t.Fatal(err)
	}
	quoted := eventlog.PCRs(ext)
	delete(quoted, 23)
	for name, l := range map[string][]byte{"pcr 23": log, "pcr 30": repointLastEvent(t, log, 30)} {
		res, err := eventlog.Replay(l, quoted)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Status(7) != eventlog.Replayed {
			t.Errorf("%s: PCR 7 %s", name, res.Status(7))
		}
		var unchecked []int
		for _, p := range res.PCRs {
			if p.Status == eventlog.Unchecked {
				unchecked = append(unchecked, p.Index)
			}
		}
		if len(unchecked) != 1 || (unchecked[0] != 23 && unchecked[0] != 30) {
			t.Errorf("%s: unchecked PCRs %v", name, unchecked)
		}
		if res.State.SecureBoot == nil || *res.State.SecureBoot {
			t.Errorf("%s: secure boot %v, want off from the replayed PCR 7 (notes %q)", name, res.State.SecureBoot, res.State.Notes)
		}
	}
}

// repointLastEvent returns log with its last event's PCR index set to idx
// (the builder refuses such an index).
func repointLastEvent(t *testing.T, log []byte, idx uint32) []byte {
	t.Helper()
	_, offs := events(t, log)
	// The SHA-256 digest follows the PCR index, type, count, the SHA-1
	// (id, digest) and the SHA-256 id: 4+4+4+2+20+2 bytes.
	off := offs[len(offs)-1] - 36
	out := bytes.Clone(log)
	binary.LittleEndian.PutUint32(out[off:], idx)
	return out
}

// FuzzBuild: for any events, the builder's log parses and replays to the
// values it says, event for event.
func FuzzBuild(f *testing.F) {
	f.Add([]byte{7, 0, 4, 0, 0, 0, 0})
	f.Add([]byte("\x00\x06\x0bUUID: 1234\x08\x02\x10linux /vmlinuz ro"))
	f.Fuzz(func(t *testing.T, in []byte) {
		log, ext, err := buildFrom(in)
		if err != nil {
			t.Fatalf("building: %v", err)
		}
		if len(ext) == 0 {
			return
		}
		checkRoundTrip(t, log, ext)
	})
}
