package eventlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
)

// TestLogFormatEdges pins the edges of the Spec ID checks that
// TestLogFormat's cases leave open: every byte of the SHA-1 digest (the
// last one too), the minor version on its own, and each uintnSize other
// than 1 and 2 (0 as well as a large one).
func TestLogFormatEdges(t *testing.T) {
	sep := rawEvent2(0, 4, both, "\x00\x00\x00\x00")
	spec := func(edit func(*rawSpec)) []byte { s := goodSpec(); edit(&s); return s.bytes() }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	digestByte := func(i int) []byte {
		b := cat(goodSpec().bytes(), sep)
		b[8+i] = 1 // the SHA-1 digest is bytes 8..27 of the Spec ID event
		return b
	}
	tests := []struct {
		name  string
		log   []byte
		field string
		kind  error
	}{
		{"SHA-1 digest first byte", digestByte(0), "event[0].digest", format.ErrNonZero},
		{"SHA-1 digest last byte", digestByte(19), "event[0].digest", format.ErrNonZero},
		{"version 2.1", cat(spec(func(s *rawSpec) { s.minor = 1 }), sep), "event[0].specID.specVersion", format.ErrUnsupportedVersion},
		{"version 3.0", cat(spec(func(s *rawSpec) { s.major = 3 }), sep), "event[0].specID.specVersion", format.ErrUnsupportedVersion},
		{"uintnSize 0", cat(spec(func(s *rawSpec) { s.uintn = 0 }), sep), "event[0].specID.uintnSize", format.ErrUnexpectedValue},
		{"uintnSize 3", cat(spec(func(s *rawSpec) { s.uintn = 3 }), sep), "event[0].specID.uintnSize", format.ErrUnexpectedValue},
	}
	quoted := map[int][]byte{0: make([]byte, 32)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := eventlog.Replay(tt.log, quoted)
			var fe *format.Error
			if res != nil || !errors.Is(err, eventlog.ErrFormat) || !errors.As(err, &fe) || fe.Format != "eventlog" || fe.Field != tt.field || !errors.Is(err, tt.kind) {
				t.Fatalf("result %v, error %v; want a *format.Error at %s of kind %q", res != nil, err, tt.field, tt.kind)
			}
		})
	}
	// The message says what is wrong: the digest is not zero.
	if _, err := eventlog.Replay(digestByte(5), quoted); err == nil || !strings.Contains(err.Error(), "SHA-1 digest is not zero") {
		t.Errorf("non-zero SHA-1 digest: %v, want a message saying it is not zero", err)
	}
	// uintnSize 1 (UINT32) is as good as 2.
	if _, err := eventlog.Replay(cat(spec(func(s *rawSpec) { s.uintn = 1 }), sep), quoted); err != nil {
		t.Errorf("uintnSize 1: %v", err)
	}
}

// TestLogFormatEventTypes: an event type go-eventlog does not know is
// refused in the EFI range (0x80000000 and up) as well as below it, and
// the Spec ID signature is compared whole, its closing NUL too.
func TestLogFormatEventTypes(t *testing.T) {
	sep := rawEvent2(0, 4, both, "\x00\x00\x00\x00")
	good := bytes.Join([][]byte{goodSpec().bytes(), sep}, nil)
	quoted := map[int][]byte{0: make([]byte, 32)}
	for _, typ := range []uint32{0x80001234, 0x800000FF, 0x8000FFFF, 0xFFFFFFFE} {
		log := bytes.Join([][]byte{good, rawEvent2(23, typ, both, "")}, nil)
		var fe *format.Error
		if _, err := eventlog.Replay(log, quoted); !errors.As(err, &fe) || fe.Field != "event[2].eventType" || !errors.Is(err, format.ErrUnexpectedValue) {
			t.Errorf("event type 0x%08x: %v, want ErrUnexpectedValue at event[2].eventType", typ, err)
		}
	}
	s := goodSpec()
	s.signature = "Spec ID Event03X"
	var fe *format.Error
	if _, err := eventlog.Replay(bytes.Join([][]byte{s.bytes(), sep}, nil), quoted); !errors.As(err, &fe) || fe.Field != "event[0].specID.signature" || !errors.Is(err, format.ErrBadMagic) {
		t.Errorf("signature without its NUL: %v, want ErrBadMagic", err)
	}
}

// TestReplaySizeBound: a log of exactly MaxSize bytes is parsed, one byte
// more is refused before parsing.
func TestReplaySizeBound(t *testing.T) {
	spec := goodSpec().bytes()
	head := rawEvent2(0, 4, both, "")
	sized := func(total int) []byte {
		data := strings.Repeat("\x00", total-len(spec)-len(head))
		return bytes.Join([][]byte{spec, rawEvent2(0, 4, both, data)}, nil)
	}
	quoted := map[int][]byte{0: make([]byte, 32)}
	at, over := sized(eventlog.MaxSize), sized(eventlog.MaxSize+1)
	if len(at) != eventlog.MaxSize || len(over) != eventlog.MaxSize+1 {
		t.Fatalf("built %d and %d bytes", len(at), len(over))
	}
	if _, err := eventlog.Replay(at, quoted); err != nil {
		t.Errorf("a log of MaxSize bytes: %v", err)
	}
	if _, err := eventlog.Replay(over, quoted); !errors.Is(err, eventlog.ErrFormat) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a log of MaxSize+1 bytes: %v, want the size refusal", err)
	}
}

// TestStartupLocalityExactSize: only a 17-byte StartupLocality event sets
// PCR 0's starting locality; a longer one is another EV_NO_ACTION. The
// replayed value the result shows agrees with go-eventlog's verdict.
func TestStartupLocalityExactSize(t *testing.T) {
	b := eventlog.NewBuilder(nil)
	b.Measure(0, tcg.NoAction, []byte("StartupLocality\x00\x03x"))
	b.Measure(0, tcg.SCRTMVersion, []byte("v"))
	log, _, err := b.Log()
	if err != nil {
		t.Fatal(err)
	}
	from := func(start byte) []byte {
		v := make([]byte, 32)
		v[31] = start
		d := sha256.Sum256([]byte("v"))
		h := sha256.Sum256(append(v, d[:]...))
		return h[:]
	}
	res, err := eventlog.Replay(log, map[int][]byte{0: from(0)})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Status(0); s != eventlog.Replayed {
		t.Fatalf("PCR 0 %s, want a replay from zero", s)
	}
	for _, p := range res.PCRs {
		if p.Index == 0 && p.Replayed != hex.EncodeToString(from(0)) {
			t.Errorf("PCR 0 replayed to %s, want the replay from zero", p.Replayed)
		}
	}
}

// TestReplayedValueVerifies: the value a result shows as a PCR's replay is
// one go-eventlog's replay verifies, for logs where the starting value is
// special (an H-CRTM event first, StartupLocality events of 17 bytes
// and of 18). (go-eventlog never verifies a PCR whose H-CRTM event is not
// its first event, so no shown value can verify there.)
func TestReplayedValueVerifies(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func(b *eventlog.Builder)
	}{
		{"H-CRTM first", func(b *eventlog.Builder) {
			b.Measure(0, tcg.EFIHCRTMEvent, []byte("HCRTM"))
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
		}},
		{"StartupLocality of 18 bytes", func(b *eventlog.Builder) {
			b.Measure(0, tcg.NoAction, []byte("StartupLocality\x00\x03x"))
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
		}},
		{"StartupLocality of 17 bytes", func(b *eventlog.Builder) {
			b.Measure(0, tcg.NoAction, []byte("StartupLocality\x00\x03"))
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			c.build(b)
			log, _, err := b.Log()
			if err != nil {
				t.Fatal(err)
			}
			res, err := eventlog.Replay(log, nil)
			if err != nil {
				t.Fatal(err)
			}
			var shown []byte
			for _, p := range res.PCRs {
				if p.Index == 0 {
					shown, _ = hex.DecodeString(p.Replayed)
				}
			}
			if len(shown) != 32 {
				t.Fatalf("PCR 0 replayed to %x", shown)
			}
			res, err = eventlog.Replay(log, map[int][]byte{0: shown})
			if err != nil {
				t.Fatal(err)
			}
			if s := res.Status(0); s != eventlog.Replayed {
				t.Errorf("PCR 0 quoted as its shown replay %x: %s, want replayed", shown, s)
			}
		})
	}
}

// TestFirmwareTwoTypedVersions: two events typed EV_S_CRTM_VERSION claim
// no firmware version even when only one of them is measured as its own
// data (event types are not measured: which one is the version is not
// known).
func TestFirmwareTwoTypedVersions(t *testing.T) {
	version := eventlog.UTF16("Hyper-V UEFI Release v4.1")
	for _, second := range []bool{false, true} {
		b := eventlog.NewBuilder(nil)
		if second {
			b.Measure(0, tcg.SCRTMVersion, version)
		}
		b.MeasureDigest(0, tcg.SCRTMVersion, eventlog.UTF16("v9.9"), []byte("firmware volume"))
		if !second {
			b.Measure(0, tcg.SCRTMVersion, version)
		}
		b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
		res := replayBuilt(t, b, 0)
		if got := res.State.Firmware; got != nil {
			t.Errorf("firmware %q claimed from two typed versions, want none", *got)
		}
	}
}

// TestFirmwareVersionMeasured: the version claimed is data measured as
// its own digest; an event typed EV_S_CRTM_VERSION whose digest is not of
// its data gives none, even beside one self-measured event of another
// type. A UTF-16 version holding a NUL inside is shown as hex.
func TestFirmwareVersionMeasured(t *testing.T) {
	b := eventlog.NewBuilder(nil)
	b.MeasureDigest(0, tcg.SCRTMVersion, eventlog.UTF16("Hyper-V UEFI Release v9.9"), []byte("firmware volume"))
	b.Measure(0, tcg.PostCode, eventlog.UTF16("Hyper-V UEFI Release v4.1"))
	b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
	if got := replayBuilt(t, b, 0).State.Firmware; got != nil {
		t.Errorf("firmware %q claimed from an event not measured as its data, want none", *got)
	}
	raw := []byte{'A', 0, 0, 0, 'B', 0, 0, 0} // "A", NUL, "B", terminator
	b = eventlog.NewBuilder(nil)
	b.Measure(0, tcg.SCRTMVersion, raw)
	b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
	got := replayBuilt(t, b, 0).State.Firmware
	if want := "hex:" + hex.EncodeToString(raw); got == nil || *got != want {
		t.Errorf("firmware %v, want %q", got, want)
	}
}
