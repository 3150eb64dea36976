package eventlog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
)

// specIDLog writes a crypto-agile log by hand: a Spec ID event listing
// SHA-256 and then algs-1 algorithms of id 0x7777 and size 1, and one
// EV_SEPARATOR on PCR 0 carrying digests digests of the 0x7777 algorithm.
func specIDLog(algs, digests int) []byte {
	le := binary.LittleEndian
	var spec bytes.Buffer
	spec.WriteString("Spec ID Event03\x00")
	spec.Write(le.AppendUint32(nil, 0)) // platform class
	spec.Write([]byte{0, 2, 0, 2})      // version 2.0, errata 0, uintn size
	spec.Write(le.AppendUint32(nil, uint32(algs)))
	spec.Write(le.AppendUint16(le.AppendUint16(nil, 0x0b), 32)) // SHA-256
	for i := 1; i < algs; i++ {
		spec.Write(le.AppendUint16(le.AppendUint16(nil, 0x7777), 1))
	}
	spec.WriteByte(0) // no vendor info
	var log bytes.Buffer
	log.Write(le.AppendUint32(le.AppendUint32(nil, 0), 3)) // PCR 0, EV_NO_ACTION
	log.Write(make([]byte, 20))
	log.Write(le.AppendUint32(nil, uint32(spec.Len())))
	log.Write(spec.Bytes())
	log.Write(le.AppendUint32(le.AppendUint32(nil, 0), 4)) // PCR 0, EV_SEPARATOR
	log.Write(le.AppendUint32(nil, uint32(digests)))
	for i := 0; i < digests; i++ {
		log.Write([]byte{0x77, 0x77, 0})
	}
	log.Write(le.AppendUint32(nil, 0))
	return log.Bytes()
}

// TestSpecIDAlgorithmsBounded: go-eventlog matches each digest against
// every algorithm of the Spec ID event, so a log listing thousands of
// algorithms with events of thousands of digests costs quadratic CPU
// (a 480 KB log: over a minute). More than MaxSpecIDAlgorithms is refused
// before go-eventlog parses the log.
func TestSpecIDAlgorithmsBounded(t *testing.T) {
	for _, tc := range []struct {
		algs, digests int
		ok            bool
	}{
		{1, 0, true},
		{eventlog.MaxSpecIDAlgorithms, 1000, true},
		{eventlog.MaxSpecIDAlgorithms + 1, 1, false},
		{5000, 5000, false}, // about 2 s of go-eventlog's CPU without the bound
	} {
		res, err := eventlog.Replay(specIDLog(tc.algs, tc.digests), nil)
		if tc.ok {
			if err != nil || res == nil {
				t.Errorf("%d algorithms, %d digests: %v", tc.algs, tc.digests, err)
			}
			continue
		}
		if res != nil || !errors.Is(err, eventlog.ErrFormat) || !strings.Contains(err.Error(), "Spec ID event lists") {
			t.Errorf("%d algorithms, %d digests: result %v, error %v", tc.algs, tc.digests, res != nil, err)
		}
	}
	// A count larger than the event's data can hold is refused the same way.
	log := specIDLog(1, 0)
	binary.LittleEndian.PutUint32(log[32+24:], 1<<20)
	if _, err := eventlog.Replay(log, nil); !errors.Is(err, eventlog.ErrFormat) || !strings.Contains(err.Error(), "lists 1048576 digest algorithms") {
		t.Errorf("count 2^20: %v", err)
	}
}
