package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-eventlog/tcg"
	"github.com/google/go-eventlog/wellknown"
)

// The firmware measures its S-CRTM version into PCR 0 as the digest of the
// event data, but the type that says which event is the version is not
// measured. go-eventlog took the last PCR 0 event typed EV_S_CRTM_VERSION
// whose digest is that of its data, so a log could type another such
// event (GCE's Non-Host Info, any string the firmware measured as itself)
// a version, and the version something else, and still replay to the
// quoted PCR 0. The version is therefore claimed only when no retyping
// can change it: of the PCR 0 events before the separator that are
// measured as the digest of their own data, the one typed a version must
// be the only one whose content is not recognisably another event's. And
// PCR 0 must have measured its separator: the booted system can extend
// PCR 0 too, after it.

// separatorDigests are the SHA-256 digests of the two separator values
// (00000000h and FFFFFFFFh, TCG PC Client PFP).
var separatorDigests = [...][sha256.Size]byte{sha256.Sum256([]byte{0, 0, 0, 0}), sha256.Sum256([]byte{0xff, 0xff, 0xff, 0xff})}

// isSeparator reports whether d (a SHA-256 event digest) is a separator's.
func isSeparator(d []byte) bool {
	return len(d) == sha256.Size && ([sha256.Size]byte(d) == separatorDigests[0] || [sha256.Size]byte(d) == separatorDigests[1])
}

// separated reports whether PCR pcr measured a separator among events:
// the firmware's end of pre-boot measurements, after which the booted
// system may extend the PCR itself.
func separated(events []tcg.Event, pcr uint32) bool {
	for _, e := range events {
		if e.MRIndex() == pcr && isSeparator(e.ReplayedDigest()) {
			return true
		}
	}
	return false
}

// notVersion reports whether data is recognisably not an S-CRTM version:
// GCE's Non-Host Info event (its signature, then the confidential
// technology).
func notVersion(data []byte) bool {
	return bytes.HasPrefix(data, wellknown.GCENonHostInfoSignature)
}

// firmware returns the S-CRTM version that the PCR 0 events among events
// measured (see above): nil when there is none, or, with an error saying
// why, when which event is the version rests on the unmeasured types.
func firmware(events []tcg.Event) (*string, error) {
	var (
		version           []byte
		typed, candidates int
		separated         bool
	)
	for _, e := range events {
		d := e.ReplayedDigest()
		if e.MRIndex() != 0 || len(d) != sha256.Size {
			continue
		}
		if separated = isSeparator(d); separated {
			break
		}
		self := sha256.Sum256(e.Data) == [sha256.Size]byte(d)
		if e.Type == tcg.SCRTMVersion {
			typed++
			if self && !notVersion(e.Data) {
				version = e.Data
			}
		}
		if self && !notVersion(e.Data) {
			candidates++
		}
	}
	switch {
	case typed == 0 && candidates == 0:
		return nil, nil
	case !separated:
		return nil, errors.New("PCR 0 has no separator: no firmware version is claimed (what the booted system extended PCR 0 with cannot be told from what the firmware measured)")
	case typed != 1 || version == nil || candidates != 1:
		return nil, fmt.Errorf("PCR 0 has %d events typed EV_S_CRTM_VERSION and %d measured as their own data that could be the version: no firmware version is claimed (event types are not measured)", typed, candidates)
	}
	if v, err := wellknown.ConvertSCRTMVersionToGCEFirmwareVersion(version); err == nil {
		s := fmt.Sprintf("GCE %d", v)
		return &s, nil
	}
	s, ok := decodeVersion(version)
	if !ok {
		return nil, nil
	}
	return &s, nil
}

// decodeVersion decodes an S-CRTM version: UTF-16LE text only when it ends
// with a NUL, as UEFI measures its version string (with the terminator),
// else the bytes as hex. A version given as a GUID (16 bytes, as EDK2-based
// laptop and workstation firmware measure it) or other binary data is not
// text, whatever it would decode to. ok is false when the version is empty
// (no bytes, or a lone terminator, as OVMF measures it): the firmware
// measured no version.
func decodeVersion(raw []byte) (s string, ok bool) {
	if len(raw) == 0 {
		return "", false
	}
	if len(raw)%2 == 0 && raw[len(raw)-2] == 0 && raw[len(raw)-1] == 0 {
		u := make([]uint16, 0, len(raw)/2)
		for i := 0; i+1 < len(raw); i += 2 {
			u = append(u, binary.LittleEndian.Uint16(raw[i:]))
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		if len(u) == 0 {
			return "", false
		}
		s := string(utf16.Decode(u))
		if utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError) && !strings.ContainsRune(s, 0) {
			return bounded(s), true
		}
	}
	return bounded("hex:" + hex.EncodeToString(raw)), true
}
