package eventlog_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
