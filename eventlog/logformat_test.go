package eventlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/format"
)

// specIDLog writes a crypto-agile log by hand: a Spec ID event listing
// SHA-256 and then algs-1 other algorithms (ids 0x7701, 0x7702, ..., of
// size 1), and one EV_SEPARATOR on PCR 0 carrying one digest of each.
func specIDLog(algs int) []byte {
	le := binary.LittleEndian
	var spec bytes.Buffer
	spec.WriteString("Spec ID Event03\x00")
	spec.Write(le.AppendUint32(nil, 0)) // platform class
	spec.Write([]byte{0, 2, 0, 2})      // version 2.0, errata 0, uintn size
	spec.Write(le.AppendUint32(nil, uint32(algs)))
	spec.Write(le.AppendUint16(le.AppendUint16(nil, 0x0b), 32)) // SHA-256
	for i := 1; i < algs; i++ {
		spec.Write(le.AppendUint16(le.AppendUint16(nil, uint16(0x7700+i)), 1))
	}
	spec.WriteByte(0) // no vendor info
	var log bytes.Buffer
	log.Write(le.AppendUint32(le.AppendUint32(nil, 0), 3)) // PCR 0, EV_NO_ACTION
	log.Write(make([]byte, 20))
	log.Write(le.AppendUint32(nil, uint32(spec.Len())))
	log.Write(spec.Bytes())
	log.Write(le.AppendUint32(le.AppendUint32(nil, 0), 4)) // PCR 0, EV_SEPARATOR
	log.Write(le.AppendUint32(nil, uint32(algs)))
	log.Write(le.AppendUint16(nil, 0x0b))
	log.Write(make([]byte, 32))
	for i := 1; i < algs; i++ {
		log.Write(append(le.AppendUint16(nil, uint16(0x7700+i)), 0))
	}
	log.Write(le.AppendUint32(nil, 0))
	return log.Bytes()
}

// TestSpecIDAlgorithmsBounded: go-eventlog matches each digest against
// every algorithm of the Spec ID event, so a log listing thousands of
// algorithms with events of thousands of digests costs quadratic CPU
// (a 480 KB log: over a minute). More than MaxSpecIDAlgorithms is refused
// before go-eventlog parses the log (and an event carries one digest of
// each, so at most as many).
func TestSpecIDAlgorithmsBounded(t *testing.T) {
	for _, tc := range []struct {
		algs int
		ok   bool
	}{
		{1, true},
		{eventlog.MaxSpecIDAlgorithms, true},
		{eventlog.MaxSpecIDAlgorithms + 1, false},
		{5000, false}, // about 2 s of go-eventlog's CPU without the bound
	} {
		res, err := eventlog.Replay(specIDLog(tc.algs), nil)
		if tc.ok {
			if err != nil || res == nil {
				t.Errorf("%d algorithms: %v", tc.algs, err)
			}
			continue
		}
		if res != nil || !errors.Is(err, eventlog.ErrFormat) || !strings.Contains(err.Error(), "Spec ID event lists") {
			t.Errorf("%d algorithms: result %v, error %v", tc.algs, res != nil, err)
		}
	}
	// A count larger than the event's data can hold is refused the same way.
	log := specIDLog(1)
	binary.LittleEndian.PutUint32(log[32+24:], 1<<20)
	if _, err := eventlog.Replay(log, nil); !errors.Is(err, eventlog.ErrFormat) || !strings.Contains(err.Error(), "lists 1048576 digest algorithms") {
		t.Errorf("count 2^20: %v", err)
	}
}

// rawSpec is a Spec ID event written field by field (TCG_PCR_EVENT, then
// TCG_EfiSpecIDEventStruct), so that a test can get any field wrong.
type rawSpec struct {
	pcr, typ     uint32
	sha1         byte // every byte of the SHA-1 digest
	signature    string
	minor, major byte
	uintn        byte
	algs         [][2]uint16 // (algorithmId, digestSize)
	count        int         // numberOfAlgorithms; -1: len(algs)
	vendor       string
	vendorSize   int // vendorInfoSize; -1: len(vendor)
	extra        string
}

// goodSpec is the Spec ID event of the builder's logs: SHA-1 and SHA-256.
func goodSpec() rawSpec {
	return rawSpec{typ: 3, signature: "Spec ID Event03\x00", major: 2, uintn: 2, algs: [][2]uint16{{0x0004, 20}, {0x000B, 32}}, count: -1, vendorSize: -1}
}

func (s rawSpec) bytes() []byte {
	le := binary.LittleEndian
	var d bytes.Buffer
	d.WriteString(s.signature)
	d.Write(le.AppendUint32(nil, 0))
	d.Write([]byte{s.minor, s.major, 0, s.uintn})
	n := s.count
	if n < 0 {
		n = len(s.algs)
	}
	d.Write(le.AppendUint32(nil, uint32(n)))
	for _, a := range s.algs {
		d.Write(le.AppendUint16(le.AppendUint16(nil, a[0]), a[1]))
	}
	vs := s.vendorSize
	if vs < 0 {
		vs = len(s.vendor)
	}
	d.WriteByte(byte(vs))
	d.WriteString(s.vendor + s.extra)
	out := le.AppendUint32(le.AppendUint32(nil, s.pcr), s.typ)
	out = append(out, bytes.Repeat([]byte{s.sha1}, 20)...)
	out = le.AppendUint32(out, uint32(d.Len()))
	return append(out, d.Bytes()...)
}

// rawEvent2 writes a TCG_PCR_EVENT2 of pcr and typ carrying digests
// (algorithm id, digest) and data.
func rawEvent2(pcr, typ uint32, digests []rawDigest, data string) []byte {
	le := binary.LittleEndian
	out := le.AppendUint32(le.AppendUint32(nil, pcr), typ)
	out = le.AppendUint32(out, uint32(len(digests)))
	for _, d := range digests {
		out = append(le.AppendUint16(out, d.alg), d.digest...)
	}
	out = le.AppendUint32(out, uint32(len(data)))
	return append(out, data...)
}

type rawDigest struct {
	alg    uint16
	digest []byte
}

// both are an event's SHA-1 and SHA-256 digests (of nothing in particular).
var both = []rawDigest{{0x0004, make([]byte, 20)}, {0x000B, make([]byte, 32)}}

// TestLogFormat: a log that is not what firmware writes is refused before
// go-eventlog reads it, with a *format.Error (Format "eventlog") naming the
// event (event[0]: the Spec ID event) and field, that matches ErrFormat:
// the Spec ID event's header, signature, version, sizes and digest
// algorithms, and every later event's framing. Before, go-eventlog read
// some of these (a Spec ID event on PCR 3 or with a SHA-1 digest, a UINTN
// size of 7, SHA-256 digests of 20 bytes, an algorithm listed with two
// sizes, an event type it does not know on a PCR the quote does not
// select), and refused the others with untyped messages or, for an
// unknown event type on a quoted PCR, a recovered panic. An event
// carries one digest of each listed algorithm: before, a second SHA-256
// digest was passed over (the first replayed) and an event without one
// extended nothing, and a Spec ID event could list an algorithm twice.
func TestLogFormat(t *testing.T) {
	sep := rawEvent2(0, 4, both, "\x00\x00\x00\x00")
	spec := func(edit func(*rawSpec)) []byte { s := goodSpec(); edit(&s); return s.bytes() }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	good := cat(goodSpec().bytes(), sep)
	tests := []struct {
		name  string
		log   []byte
		field string
		kind  error
	}{
		{"spec header cut", good[:20], "event[0].header", format.ErrTruncated},
		{"no Spec ID event (SHA-1 log)", cat(spec(func(s *rawSpec) { s.typ = 4 }), sep), "event[0].eventType", format.ErrUnexpectedValue},
		{"Spec ID event on PCR 3", cat(spec(func(s *rawSpec) { s.pcr = 3 }), sep), "event[0].pcrIndex", format.ErrUnexpectedValue},
		{"Spec ID event with a SHA-1 digest", cat(spec(func(s *rawSpec) { s.sha1 = 1 }), sep), "event[0].digest", format.ErrNonZero},
		{"Spec ID eventSize past the log", good[:40], "event[0].eventSize", format.ErrExceedsBlob},
		{"Spec ID data too short", cat(spec(func(s *rawSpec) { s.signature = "Spec ID" }))[:32+20], "event[0].eventSize", format.ErrExceedsBlob},
		{"signature", cat(spec(func(s *rawSpec) { s.signature = "Spec ID Event02\x00" }), sep), "event[0].specID.signature", format.ErrBadMagic},
		{"version 1.2", cat(spec(func(s *rawSpec) { s.major, s.minor = 1, 2 }), sep), "event[0].specID.specVersion", format.ErrUnsupportedVersion},
		{"uintnSize 7", cat(spec(func(s *rawSpec) { s.uintn = 7 }), sep), "event[0].specID.uintnSize", format.ErrUnexpectedValue},
		{"no algorithm", cat(spec(func(s *rawSpec) { s.algs = nil }), sep), "event[0].specID.numberOfAlgorithms", format.ErrEmpty},
		{"17 algorithms", cat(spec(func(s *rawSpec) { s.count = 17 }), sep), "event[0].specID.numberOfAlgorithms", format.ErrTooLarge},
		{"more algorithms than listed", cat(spec(func(s *rawSpec) { s.count = 3 }), sep), "event[0].specID.digestSizes[2].algorithmId", format.ErrTruncated},
		{"SHA-256 of 20 bytes", cat(spec(func(s *rawSpec) { s.algs[1][1] = 20 }), sep), "event[0].specID.digestSizes[1].digestSize", format.ErrBadLength},
		{"SHA-1 of 32 bytes", cat(spec(func(s *rawSpec) { s.algs[0][1] = 32 }), sep), "event[0].specID.digestSizes[0].digestSize", format.ErrBadLength},
		{"unknown algorithm of 0 bytes", cat(spec(func(s *rawSpec) { s.algs = append(s.algs, [2]uint16{0x7777, 0}) }), sep), "event[0].specID.digestSizes[2].digestSize", format.ErrBadLength},
		{"unknown algorithm of 65 bytes", cat(spec(func(s *rawSpec) { s.algs = append(s.algs, [2]uint16{0x7777, 65}) }), sep), "event[0].specID.digestSizes[2].digestSize", format.ErrBadLength},
		{"algorithm listed with two sizes", cat(spec(func(s *rawSpec) { s.algs = append(s.algs, [2]uint16{0x7777, 1}, [2]uint16{0x7777, 2}) }), sep), "event[0].specID.digestSizes[3].digestSize", format.ErrSizeMismatch},
		{"no SHA-256", cat(spec(func(s *rawSpec) { s.algs = s.algs[:1] }), rawEvent2(0, 4, both[:1], "\x00\x00\x00\x00")), "event[0].specID.digestSizes", format.ErrMissingField},
		{"vendorInfoSize too small", cat(spec(func(s *rawSpec) { s.vendor, s.vendorSize = "abc", 2 }), sep), "event[0].specID.vendorInfoSize", format.ErrSizeMismatch},
		{"bytes after the vendor info", cat(spec(func(s *rawSpec) { s.extra = "x" }), sep), "event[0].specID.vendorInfoSize", format.ErrSizeMismatch},
		{"event header cut", good[:len(good)-len(sep)+6], "event[1].eventType", format.ErrTruncated},
		{"digest cut", good[:len(good)-len(sep)+20], "event[1].digests[0].digest", format.ErrTruncated},
		{"event data cut", good[:len(good)-2], "event[1].eventSize", format.ErrExceedsBlob},
		{"eventSize 4 GiB", cat(goodSpec().bytes(), rawEvent2(0, 4, both, "")[:len(rawEvent2(0, 4, both, ""))-4], []byte{0xff, 0xff, 0xff, 0xff}), "event[1].eventSize", format.ErrExceedsBlob},
		{"digest of an unlisted algorithm", cat(goodSpec().bytes(), rawEvent2(0, 4, append(both, rawDigest{0x000C, make([]byte, 48)}), "\x00\x00\x00\x00")), "event[1].digests[2].hashAlg", format.ErrUnexpectedValue},
		{"0xFF padding after the last event", cat(good, bytes.Repeat([]byte{0xff}, 16)), "event[2].pcrIndex", format.ErrTrailingData},
		{"zero bytes after the last event", cat(good, make([]byte, 3)), "event[2].pcrIndex", format.ErrTruncated},
		{"algorithm listed twice with one size", cat(spec(func(s *rawSpec) { s.algs = append(s.algs, [2]uint16{0x000B, 32}) }), sep), "event[0].specID.digestSizes[2].algorithmId", format.ErrUnexpectedValue},
		{"second SHA-256 digest", cat(goodSpec().bytes(), rawEvent2(0, 4, append(both, rawDigest{0x000B, make([]byte, 32)}), "\x00\x00\x00\x00")), "event[1].digests[2].hashAlg", format.ErrUnexpectedValue},
		{"second SHA-1 digest, SHA-256 missing", cat(goodSpec().bytes(), rawEvent2(0, 4, []rawDigest{both[0], both[0]}, "\x00\x00\x00\x00")), "event[1].digests[1].hashAlg", format.ErrUnexpectedValue},
		{"no SHA-256 digest", cat(goodSpec().bytes(), rawEvent2(0, 4, both[:1], "\x00\x00\x00\x00")), "event[1].digests.count", format.ErrMissingField},
		{"no SHA-1 digest", cat(goodSpec().bytes(), rawEvent2(0, 4, both[1:], "\x00\x00\x00\x00")), "event[1].digests.count", format.ErrMissingField},
		{"no digest", cat(goodSpec().bytes(), rawEvent2(0, 4, nil, "\x00\x00\x00\x00")), "event[1].digests.count", format.ErrMissingField},
		{"EV_NO_ACTION without its digests", cat(good, rawEvent2(0, 3, nil, "StartupLocality\x00\x03")), "event[2].digests.count", format.ErrMissingField},
		{"unknown event type, unquoted PCR", cat(good, rawEvent2(23, 0x1234, both, "")), "event[2].eventType", format.ErrUnexpectedValue},
		{"unknown event type, quoted PCR", cat(goodSpec().bytes(), rawEvent2(0, 0x1234, both, "")), "event[1].eventType", format.ErrUnexpectedValue},
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
	// The good log parses (its separator does not replay to zero).
	if res, err := eventlog.Replay(good, quoted); err != nil || res.Status(0) != eventlog.Mismatch {
		t.Fatalf("the good log: %v", err)
	}
	// The digests may come in any order (Azure's TDX logs write SHA-384
	// first): a SHA-256 digest before the SHA-1 one replays.
	sum := sha256.Sum256([]byte("\x00\x00\x00\x00"))
	pcr0 := sha256.Sum256(append(make([]byte, 32), sum[:]...))
	swapped := cat(goodSpec().bytes(), rawEvent2(0, 4, []rawDigest{{0x000B, sum[:]}, both[0]}, "\x00\x00\x00\x00"))
	if res, err := eventlog.Replay(swapped, map[int][]byte{0: pcr0[:]}); err != nil || res.Status(0) != eventlog.Replayed {
		t.Fatalf("SHA-256 digest before SHA-1: %v", err)
	}
}

// TestNoActionNeverMeasured (no behaviour change): EV_NO_ACTION events are
// not extended, on any PCR, so they never count as measurements nor give
// state; the one that changes a replay, StartupLocality, sets PCR 0's
// starting value only, and only before PCR 0's first measurement (as
// go-eventlog and the TCG PC Client PFP read it).
func TestNoActionNeverMeasured(t *testing.T) {
	for _, tt := range noActionCases() {
		t.Run(tt.name, func(t *testing.T) {
			b := eventlog.NewBuilder(nil)
			tt.build(b)
			log, _, err := b.Log()
			if err != nil {
				t.Fatal(err)
			}
			quoted := map[int][]byte{tt.pcr: tt.quoted}
			if tt.quoted == nil {
				quoted[tt.pcr] = make([]byte, 32)
			}
			res, err := eventlog.Replay(log, quoted)
			if err != nil {
				t.Fatal(err)
			}
			if s := res.Status(tt.pcr); s != tt.status {
				t.Fatalf("PCR %d %s, want %s", tt.pcr, s, tt.status)
			}
			for _, p := range res.PCRs {
				if p.Status == eventlog.Replayed && p.Replayed != p.Quoted {
					t.Errorf("PCR %d replayed to %s by our extend, quoted %s", p.Index, p.Replayed, p.Quoted)
				}
			}
			for _, e := range res.Events {
				if e.Type == tcg.NoAction.String() {
					t.Errorf("EV_NO_ACTION listed as a measured event: %+v", e)
				}
			}
			if tt.check != nil {
				tt.check(t, res.State)
			}
		})
	}
}

// noActionCase is a log of EV_NO_ACTION events, a PCR, its quoted value (nil:
// zero) and what the replay must say.
type noActionCase struct {
	name   string
	build  func(b *eventlog.Builder)
	pcr    int
	quoted []byte
	status eventlog.Status
	check  func(t *testing.T, st eventlog.State)
}

// noActionCases are TestNoActionNeverMeasured's logs.
func noActionCases() []noActionCase {
	locality3 := []byte("StartupLocality\x00\x03")
	extend := func(start byte, measured ...string) []byte {
		v := make([]byte, 32)
		v[31] = start
		for _, m := range measured {
			d := sha256.Sum256([]byte(m))
			h := sha256.Sum256(append(v, d[:]...))
			v = h[:]
		}
		return v
	}
	return []noActionCase{
		{name: "StartupLocality before PCR 0's first measurement", build: func(b *eventlog.Builder) {
			b.Measure(0, tcg.NoAction, locality3)
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
		}, pcr: 0, quoted: extend(3, "v"), status: eventlog.Replayed},
		{name: "StartupLocality ignored by a replay from zero", build: func(b *eventlog.Builder) {
			b.Measure(0, tcg.NoAction, locality3)
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
		}, pcr: 0, quoted: extend(0, "v"), status: eventlog.Mismatch},
		{name: "StartupLocality after PCR 0's first measurement", build: func(b *eventlog.Builder) {
			b.Measure(0, tcg.SCRTMVersion, []byte("v"))
			b.Measure(0, tcg.NoAction, locality3)
			b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
		}, pcr: 0, quoted: extend(0, "v", "\x00\x00\x00\x00"), status: eventlog.Replayed},
		{name: "StartupLocality on PCR 7", build: func(b *eventlog.Builder) {
			b.Measure(7, tcg.NoAction, locality3)
			b.Measure(7, tcg.Separator, []byte{0, 0, 0, 0})
		}, pcr: 7, quoted: extend(0, "\x00\x00\x00\x00"), status: eventlog.Replayed},
		{name: "EV_NO_ACTION alone on PCR 9", build: func(b *eventlog.Builder) {
			b.Measure(9, tcg.NoAction, []byte("/vmlinuz\x00"))
		}, pcr: 9, status: eventlog.NotCovered},
		{name: "EV_NO_ACTION among PCR 9's files", build: func(b *eventlog.Builder) {
			b.MeasureDigest(9, tcg.Ipl, []byte("/boot/grub/grub.cfg\x00"), []byte("cfg"))
			b.Measure(9, tcg.NoAction, []byte("/vmlinuz\x00"))
		}, pcr: 9, quoted: extend(0, "cfg"), status: eventlog.Replayed, check: func(t *testing.T, st eventlog.State) {
			if len(st.GRUBFiles) != 1 || st.GRUBFiles[0].UntrustedName != "/boot/grub/grub.cfg" {
				t.Errorf("GRUB files %+v, want grub.cfg only", st.GRUBFiles)
			}
		}},
		{name: "EV_NO_ACTION typed like a PCR 0 version", build: func(b *eventlog.Builder) {
			b.Measure(0, tcg.NoAction, eventlog.UTF16("evil"))
			b.Measure(0, tcg.SCRTMVersion, eventlog.UTF16("good"))
			b.Measure(0, tcg.Separator, []byte{0, 0, 0, 0})
		}, pcr: 0, quoted: extend(0, string(eventlog.UTF16("good")), "\x00\x00\x00\x00"), status: eventlog.Replayed, check: func(t *testing.T, st eventlog.State) {
			if st.Firmware == nil || *st.Firmware != "good" {
				t.Errorf("firmware %v, want good", deref(st.Firmware))
			}
		}},
	}
}
