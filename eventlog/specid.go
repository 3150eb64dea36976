package eventlog

import (
	"encoding/binary"
	"fmt"
)

// go-eventlog matches every digest of every event against every algorithm
// the Spec ID event lists, allocating for each match: a log listing tens
// of thousands of algorithms (duplicates allowed) and events carrying as
// many digests costs minutes of CPU for half a megabyte (quadratic). A
// TPM has a handful of hash algorithms, so the list is bounded here,
// before go-eventlog parses the log.

// MaxSpecIDAlgorithms bounds the algorithms of a log's Spec ID event (the
// TPM 2.0 hash algorithms: SHA-1, SHA-256, SHA-384, SHA-512, SM3-256 and
// the SHA3 family; real logs list one to four).
const MaxSpecIDAlgorithms = 16

// Offsets of the first event, a TCG_PCR_EVENT: PCR index, event type,
// SHA-1 digest, event size, then the data; in a Spec ID event's data
// (TCG_EfiSpecIDEventStruct) the algorithm count follows the 16-byte
// signature, platform class and four one-byte version fields.
const (
	firstEventHeaderSize = 4 + 4 + 20 + 4
	specIDNumAlgsOffset  = 16 + 4 + 4
	eventTypeNoAction    = 3
)

// checkSpecID checks the algorithm count of log's Spec ID event (the first
// event, when it is an EV_NO_ACTION event long enough to be one, as
// go-eventlog reads it). Anything else it leaves to go-eventlog.
func checkSpecID(log []byte) error {
	if len(log) < firstEventHeaderSize {
		return nil
	}
	le := binary.LittleEndian
	size := uint64(le.Uint32(log[firstEventHeaderSize-4:]))
	if le.Uint32(log[4:]) != eventTypeNoAction || size < specIDNumAlgsOffset+4 || size > uint64(len(log)-firstEventHeaderSize) {
		return nil
	}
	data := log[firstEventHeaderSize:]
	if n := le.Uint32(data[specIDNumAlgsOffset:]); n > MaxSpecIDAlgorithms {
		return fmt.Errorf("%w: the Spec ID event lists %d digest algorithms, at most %d accepted", ErrFormat, n, MaxSpecIDAlgorithms)
	}
	return nil
}
