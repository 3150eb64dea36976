package format

import (
	"encoding/base64"
	"fmt"
)

// Base64 decodes s with enc in its one canonical form: enc.Strict() (no
// non-zero bits after the last byte, padding exactly as enc says) and no
// line breaks, which Go's decoders skip even in Strict mode (a JSON
// string's "\n"), so that one value would have many encodings. Errors
// wrap [ErrBadEncoding].
func Base64(enc *base64.Encoding, s string) ([]byte, error) {
	if err := NoLineBreak(s); err != nil {
		return nil, err
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", ErrBadEncoding, err)
	}
	return b, nil
}

// NoLineBreak returns an error wrapping [ErrBadEncoding] that names the
// position of the first CR or LF in the base64 text s, or nil: callers
// that decode with a Strict encoding into a buffer of their own check s
// with it first, as Base64 does.
func NoLineBreak[T ~string | ~[]byte](s T) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return fmt.Errorf("%w: base64: a line break at character %d", ErrBadEncoding, i)
		}
	}
	return nil
}
