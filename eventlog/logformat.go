package eventlog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// checkLog reads the framing of a crypto-agile log before go-eventlog
// parses it, so that a malformed log is refused with an error naming the
// event and field (event[0] is the Spec ID event), and so that what
// go-eventlog reads is what a TPM's firmware writes:
//
//   - the first event is a Spec ID event (TCG_PCR_EVENT on PCR 0, type
//     EV_NO_ACTION, a zero SHA-1 digest; signature "Spec ID Event03",
//     version 2.0, a UINT32 or UINT64 size, 1 to MaxSpecIDAlgorithms
//     digest algorithms including SHA-256, each known algorithm with its
//     digest size and any other with 1 to 64 bytes, no algorithm listed
//     twice, and vendor information that fills the rest);
//   - every other event (TCG_PCR_EVENT2) is complete: a type go-eventlog
//     knows (it panics on any other when it extracts state), one digest of
//     each listed algorithm (in any order) and no other, event data inside
//     the log, and no padding or other bytes after the last event.
//
// go-eventlog matches every digest of every event against every algorithm
// the Spec ID event lists, allocating for each match: a log listing tens
// of thousands of algorithms and events carrying as many digests costs
// minutes of CPU for half a megabyte (quadratic), hence the bound on the
// algorithms.
func checkLog(log []byte) error {
	r := &logReader{b: log}
	sizes, err := r.specID()
	if err != nil {
		return err
	}
	for r.event = 1; r.off < len(r.b); r.event++ {
		if err := r.event2(sizes); err != nil {
			return err
		}
	}
	return nil
}

// MaxSpecIDAlgorithms bounds the algorithms of a log's Spec ID event (the
// TPM 2.0 hash algorithms: SHA-1, SHA-256, SHA-384, SHA-512, SM3-256 and
// the SHA3 family; real logs list one to four).
const MaxSpecIDAlgorithms = 16

// maxDigestSize bounds the digest size of an algorithm the Spec ID event
// lists (a TPM digest is at most SHA-512's).
const maxDigestSize = 64

// digestSizes are the digest sizes of the TCG registry's hash algorithms.
var digestSizes = map[uint16]uint16{0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64, 0x0012: 32, 0x0027: 32, 0x0028: 48, 0x0029: 64}

// specIDSignature starts a Spec ID event's data (TCG_EfiSpecIDEventStruct).
var specIDSignature = []byte("Spec ID Event03\x00")

// paddingIndex is the PCR index of the 0xFF padding some firmware leaves
// after the last event.
const paddingIndex = 0xFFFFFFFF

// logError is a malformed log: a *format.Error (Format "eventlog")
// naming the event and field and wrapping the kind, that also matches
// ErrFormat.
type logError struct{ err error }

func (e *logError) Error() string   { return e.err.Error() }
func (e *logError) Unwrap() []error { return []error{ErrFormat, e.err} }

// logReader reads a log's events; event is the index of the one being read.
type logReader struct {
	b     []byte
	off   int
	event int
}

// fail returns a *logError for field of the current event.
func (r *logReader) fail(field string, kind error, detail string, args ...any) error {
	return &logError{err: format.Fieldf("eventlog", fmt.Sprintf("event[%d].%s", r.event, field), kind, detail, args...)}
}

// rename names field of the current event in err, a *logError of r.
func (r *logReader) rename(err error, field string) error {
	if le, ok := err.(*logError); ok {
		format.Rename(le.err, fmt.Sprintf("event[%d].%s", r.event, field))
	}
	return err
}

// take returns the next n bytes of field; kind is the failure when fewer
// are left (ErrTruncated for a fixed-size field, ErrExceedsBlob for a
// size the log gives).
func (r *logReader) take(field string, n uint64, kind error) ([]byte, error) {
	if left := uint64(len(r.b) - r.off); n > left {
		return nil, r.fail(field, kind, "%d bytes at offset %d, %d left", n, r.off, left)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

func (r *logReader) u32(field string) (uint32, error) {
	b, err := r.take(field, 4, format.ErrTruncated)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *logReader) u16(field string) (uint16, error) {
	b, err := r.take(field, 2, format.ErrTruncated)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// specID reads the first event, the Spec ID event, and returns the digest
// size of each algorithm it lists.
func (r *logReader) specID() (map[uint16]uint16, error) {
	hdr, err := r.take("header", 4+4+20+4, format.ErrTruncated)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch {
	case le.Uint32(hdr[4:]) != uint32(tcg.NoAction):
		return nil, r.fail("eventType", format.ErrUnexpectedValue, "%s, want EV_NO_ACTION: the log does not start with a Spec ID event (a log without one carries no SHA-256 digests)", tcg.EventType(le.Uint32(hdr[4:])))
	case le.Uint32(hdr) != 0:
		return nil, r.fail("pcrIndex", format.ErrUnexpectedValue, "%d, want 0", le.Uint32(hdr))
	case !format.AllZero(hdr[8:28]):
		return nil, r.fail("digest", format.ErrNonZero, "a Spec ID event's SHA-1 digest is not zero")
	}
	data, err := r.take("eventSize", uint64(le.Uint32(hdr[28:])), format.ErrExceedsBlob)
	if err != nil {
		return nil, err
	}
	spec := &logReader{b: data, event: 0}
	if !bytes.HasPrefix(data, specIDSignature) {
		return nil, spec.fail("specID.signature", format.ErrBadMagic, "%s, not a Spec ID event (%q): the log is in the SHA-1-only TPM 1.2 format, which carries no SHA-256 digests",
			legacyFirstEvent(data), specIDSignature)
	}
	return spec.specIDStruct()
}

// legacyFirstEvent names the EV_NO_ACTION event a log starts with when it
// is not a crypto-agile log's Spec ID event: the StartupLocality event or
// the older Spec ID events (TPM 1.2, EFI 1.21) of SHA-1-only logs, whose
// data is shorter than a crypto-agile Spec ID event's.
func legacyFirstEvent(data []byte) string {
	for _, name := range []string{"StartupLocality", "Spec ID Event00", "Spec ID Event02"} {
		if bytes.HasPrefix(data, append([]byte(name), 0)) {
			return fmt.Sprintf("an event %q", name)
		}
	}
	return fmt.Sprintf("an event whose data starts %q", data[:min(len(data), 16)])
}

// specIDStruct reads TCG_EfiSpecIDEventStruct (r holds the event's data).
func (r *logReader) specIDStruct() (map[uint16]uint16, error) {
	fixed, err := r.take("specID", 16+4+4, format.ErrTruncated)
	if err != nil {
		return nil, err
	}
	switch minor, major, uintn := fixed[20], fixed[21], fixed[23]; {
	case !bytes.Equal(fixed[:16], specIDSignature):
		return nil, r.fail("specID.signature", format.ErrBadMagic, "%q, want %q", fixed[:16], specIDSignature)
	case major != 2 || minor != 0:
		return nil, r.fail("specID.specVersion", format.ErrUnsupportedVersion, "%d.%d, want 2.0", major, minor)
	case uintn != 1 && uintn != 2:
		return nil, r.fail("specID.uintnSize", format.ErrUnexpectedValue, "%d, want 1 (UINT32) or 2 (UINT64)", uintn)
	}
	n, err := r.u32("specID.numberOfAlgorithms")
	if err != nil {
		return nil, err
	}
	if n > MaxSpecIDAlgorithms {
		return nil, r.fail("specID.numberOfAlgorithms", format.ErrTooLarge, "the Spec ID event lists %d digest algorithms, at most %d accepted", n, MaxSpecIDAlgorithms)
	}
	if n == 0 {
		return nil, r.fail("specID.numberOfAlgorithms", format.ErrEmpty, "the Spec ID event lists no digest algorithm")
	}
	sizes := make(map[uint16]uint16, n)
	for i := range int(n) {
		if err := r.digestSize(sizes, fmt.Sprintf("specID.digestSizes[%d]", i)); err != nil {
			return nil, err
		}
	}
	if _, ok := sizes[0x000B]; !ok {
		return nil, r.fail("specID.digestSizes", format.ErrMissingField, "the log carries no SHA-256 digests")
	}
	vendor, err := r.take("specID.vendorInfoSize", 1, format.ErrTruncated)
	if err != nil {
		return nil, err
	}
	if left := len(r.b) - r.off; int(vendor[0]) != left {
		return nil, r.fail("specID.vendorInfoSize", format.ErrSizeMismatch, "%d, but %d bytes of the event follow", vendor[0], left)
	}
	return sizes, nil
}

// digestSize reads one (algorithmId, digestSize) of the Spec ID event into sizes.
func (r *logReader) digestSize(sizes map[uint16]uint16, field string) error {
	alg, err := r.u16(field + ".algorithmId")
	if err != nil {
		return err
	}
	size, err := r.u16(field + ".digestSize")
	if err != nil {
		return err
	}
	want, known := digestSizes[alg]
	switch prev, listed := sizes[alg]; {
	case known && size != want:
		return r.fail(field+".digestSize", format.ErrBadLength, "algorithm 0x%04x has %d-byte digests, not %d", alg, want, size)
	case size == 0 || size > maxDigestSize:
		return r.fail(field+".digestSize", format.ErrBadLength, "%d bytes for algorithm 0x%04x, want 1..%d", size, alg, maxDigestSize)
	case listed && prev != size:
		return r.fail(field+".digestSize", format.ErrSizeMismatch, "algorithm 0x%04x listed with %d and %d bytes", alg, prev, size)
	case listed:
		return r.fail(field+".algorithmId", format.ErrUnexpectedValue, "algorithm 0x%04x listed twice", alg)
	}
	sizes[alg] = size
	return nil
}

// event2 reads one TCG_PCR_EVENT2 whose digests have the sizes of the Spec ID event.
func (r *logReader) event2(sizes map[uint16]uint16) error {
	pcr, err := r.u32("pcrIndex")
	if err != nil {
		return err
	}
	if pcr == paddingIndex {
		return r.fail("pcrIndex", format.ErrTrailingData, "0x%08x: padding, %d bytes after the last event", pcr, len(r.b)-r.off+4)
	}
	typ, err := r.u32("eventType")
	if err != nil {
		return err
	}
	if _, ok := tcg.EventType(typ).KnownName(); !ok {
		return r.fail("eventType", format.ErrUnexpectedValue, "0x%08x is no event type the parser knows", typ)
	}
	if err := r.digests(sizes); err != nil {
		return err
	}
	size, err := r.u32("eventSize")
	if err != nil {
		return err
	}
	_, err = r.take("eventSize", uint64(size), format.ErrExceedsBlob)
	return err
}

// digests reads an event's TPML_DIGEST_VALUES: one digest of each
// algorithm the Spec ID event lists (sizes), in any order (Azure's TDX
// firmware writes SHA-384 first), none twice and none missing. go-eventlog
// replays with an algorithm's first digest and reads an event without one
// as extending nothing, so a second digest or a missing one would make
// the log mean one thing here and another to a reader that keeps the last
// digest or refuses the event.
func (r *logReader) digests(sizes map[uint16]uint16) error {
	count, err := r.u32("digests.count")
	if err != nil {
		return err
	}
	// The Spec ID event lists at most MaxSpecIDAlgorithms, none twice.
	var buf [MaxSpecIDAlgorithms]uint16
	seen := buf[:0]
	// Each digest takes at least 3 bytes, so the log's size bounds the
	// loop; a field is named only when it fails.
	for i := range uint64(count) {
		alg, err := r.u16("digests.hashAlg")
		if err != nil {
			return r.rename(err, fmt.Sprintf("digests[%d].hashAlg", i))
		}
		size, ok := sizes[alg]
		switch {
		case !ok:
			return r.fail(fmt.Sprintf("digests[%d].hashAlg", i), format.ErrUnexpectedValue, "algorithm 0x%04x is not in the Spec ID event", alg)
		case slices.Contains(seen, alg):
			return r.fail(fmt.Sprintf("digests[%d].hashAlg", i), format.ErrUnexpectedValue, "algorithm 0x%04x has a second digest", alg)
		}
		seen = append(seen, alg)
		if _, err := r.take("digests.digest", uint64(size), format.ErrTruncated); err != nil {
			return r.rename(err, fmt.Sprintf("digests[%d].digest", i))
		}
	}
	// Every digest is of a listed algorithm and none is repeated, so one
	// is missing exactly when fewer were seen than are listed.
	if len(seen) == len(sizes) {
		return nil
	}
	for _, alg := range slices.Sorted(maps.Keys(sizes)) {
		if !slices.Contains(seen, alg) {
			return r.fail("digests.count", format.ErrMissingField, "%d digests, none of algorithm 0x%04x, which the Spec ID event lists", count, alg)
		}
	}
	return nil
}
