package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// walkObject calls fn for each member of the JSON object raw, which must be
// valid JSON (checked beforehand with json.Valid). Keys are compared exactly
// (case-sensitively, escapes decoded), unlike encoding/json's case-folding
// match. A null value is passed as nil. val is a sub-slice of raw.
func walkObject(raw []byte, field string, fn func(key, val []byte) error) error {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return fieldErr(field, fmt.Errorf("%w: want an object", ErrBadJSON))
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for {
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return fieldErr(field, fmt.Errorf("%w: want a key", ErrBadJSON))
		}
		kend, ok := skipString(raw, i)
		if !ok {
			return fieldErr(field, fmt.Errorf("%w: unterminated key", ErrBadJSON))
		}
		key, err := stringValue(raw[i:kend], field)
		if err != nil {
			return err
		}
		i = skipWS(raw, kend)
		if i >= len(raw) || raw[i] != ':' {
			return fieldErr(field, fmt.Errorf("%w: want ':'", ErrBadJSON))
		}
		i = skipWS(raw, i+1)
		vend, ok := skipValue(raw, i)
		if !ok {
			return fieldErr(field, fmt.Errorf("%w: bad value", ErrBadJSON))
		}
		val := raw[i:vend]
		if string(val) == "null" {
			val = nil
		}
		if err := fn(key, val); err != nil {
			return err
		}
		i = skipWS(raw, vend)
		if i >= len(raw) {
			return fieldErr(field, fmt.Errorf("%w: unterminated object", ErrBadJSON))
		}
		switch raw[i] {
		case ',':
			i++
		case '}':
			return nil
		default:
			return fieldErr(field, fmt.Errorf("%w: want ',' or '}'", ErrBadJSON))
		}
	}
}

// setOnce stores val into *dst, rejecting a second occurrence of the key.
func setOnce(dst *[]byte, seen *bool, field string, val []byte) error {
	if *seen {
		return fieldErr(field, fmt.Errorf("%w: duplicate key", ErrBadJSON))
	}
	*seen = true
	*dst = val
	return nil
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// appendByteArray appends the elements of the JSON array of integers raw
// (each 0..255) to dst. It fails if the array has more than max elements,
// before appending the extra one.
func appendByteArray(dst []byte, raw []byte, field string, max int) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '[' {
		return nil, fieldErr(field, fmt.Errorf("%w: want an array of numbers", ErrBadJSON))
	}
	start := len(dst)
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		if skipWS(raw, i+1) != len(raw) {
			return nil, fieldErr(field, fmt.Errorf("%w: data after array", ErrBadJSON))
		}
		return dst, nil
	}
	for {
		i = skipWS(raw, i)
		idx := len(dst) - start
		v, digits := 0, 0
		for i < len(raw) && raw[i] >= '0' && raw[i] <= '9' {
			v = v*10 + int(raw[i]-'0')
			digits++
			i++
			if v > 255 {
				return nil, fieldErr(field, fmt.Errorf("%w: element %d out of range 0..255", ErrBadByte, idx))
			}
		}
		if digits == 0 || (digits > 1 && raw[i-digits] == '0') {
			return nil, fieldErr(field, fmt.Errorf("%w: element %d is not an integer 0..255", ErrBadByte, idx))
		}
		if idx >= max {
			return nil, fieldErr(field, fmt.Errorf("%w: more than %d elements", ErrTooLarge, max))
		}
		dst = append(dst, byte(v))
		i = skipWS(raw, i)
		if i >= len(raw) {
			return nil, fieldErr(field, fmt.Errorf("%w: unterminated array", ErrBadJSON))
		}
		switch raw[i] {
		case ',':
			i++
		case ']':
			if skipWS(raw, i+1) != len(raw) {
				return nil, fieldErr(field, fmt.Errorf("%w: data after array", ErrBadJSON))
			}
			return dst, nil
		default:
			return nil, fieldErr(field, fmt.Errorf("%w: element %d is not an integer 0..255", ErrBadByte, idx))
		}
	}
}

// byteArray decodes a JSON array of integers 0..255 of at most max elements.
func byteArray(raw []byte, field string, max int) ([]byte, error) {
	return byteArrayIn(nil, raw, field, max)
}

// byteArrayIn is byteArray allocating from a.
func byteArrayIn(a *arena, raw []byte, field string, max int) ([]byte, error) {
	// Each element takes at least two bytes ("0," or "0]"): size the buffer
	// from the element count, bounded by max.
	n := bytes.Count(raw, []byte{','}) + 1
	if n > max+1 {
		n = max + 1
	}
	b, err := appendByteArray(a.alloc(n)[:0], raw, field, max)
	if err != nil {
		return nil, err
	}
	return b[:len(b):len(b)], nil
}

// stringValue returns the content of the JSON string raw. Without escapes it
// is a sub-slice of raw; with escapes it is unquoted into a new slice.
func stringValue(raw []byte, field string) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, fieldErr(field, fmt.Errorf("%w: want a string", ErrBadJSON))
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", ErrBadJSON, err))
	}
	return []byte(str), nil
}

// hexString decodes a JSON string of hex digits into at most max bytes.
func hexString(raw []byte, field string, max int) ([]byte, error) {
	return hexStringIn(nil, raw, field, max)
}

// hexStringIn is hexString allocating from a.
func hexStringIn(a *arena, raw []byte, field string, max int) ([]byte, error) {
	s, err := stringValue(raw, field)
	if err != nil {
		return nil, err
	}
	if len(s) > 2*max {
		return nil, fieldErr(field, fmt.Errorf("%w: %d hex digits, at most %d bytes allowed", ErrTooLarge, len(s), max))
	}
	out := a.alloc(len(s) / 2)
	if _, err := hex.Decode(out, s); err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", ErrBadEncoding, err))
	}
	return out, nil
}

// b64String decodes a JSON string of base64url, with or without padding,
// into at most max bytes. Non-canonical encodings are rejected.
func b64String(raw []byte, field string, max int) ([]byte, error) {
	return b64StringIn(nil, raw, field, max)
}

// b64StringIn is b64String allocating from a.
func b64StringIn(a *arena, raw []byte, field string, max int) ([]byte, error) {
	s, err := stringValue(raw, field)
	if err != nil {
		return nil, err
	}
	if len(s) > base64.URLEncoding.EncodedLen(max) {
		return nil, fieldErr(field, fmt.Errorf("%w: %d base64 characters, at most %d bytes allowed", ErrTooLarge, len(s), max))
	}
	enc := base64.RawURLEncoding.Strict()
	if len(s)%4 == 0 && len(s) > 0 && s[len(s)-1] == '=' {
		enc = base64.URLEncoding.Strict()
	}
	out := a.alloc(enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: base64url: %v", ErrBadEncoding, err))
	}
	if n > max {
		return nil, fieldErr(field, fmt.Errorf("%w: %d bytes, at most %d allowed", ErrTooLarge, n, max))
	}
	return out[:n:n], nil
}

// pemCertificate returns the DER of the first CERTIFICATE block of the PEM
// text in the JSON string raw (a VCEK, possibly followed by ASK and ARK).
func pemCertificate(raw []byte, field string, max int) ([]byte, error) {
	s, err := stringValue(raw, field)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	if len(s) > MaxPEMSize {
		return nil, fieldErr(field, fmt.Errorf("%w: %d PEM bytes, at most %d allowed", ErrTooLarge, len(s), MaxPEMSize))
	}
	for rest := s; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fieldErr(field, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrBadEncoding))
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if len(block.Bytes) == 0 {
			return nil, fieldErr(field, fmt.Errorf("%w: empty CERTIFICATE block", ErrBadEncoding))
		}
		if len(block.Bytes) > max {
			return nil, fieldErr(field, fmt.Errorf("%w: %d-byte certificate, at most %d allowed", ErrTooLarge, len(block.Bytes), max))
		}
		return block.Bytes, nil
	}
}

// skipValue returns the index just past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '[', '{':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				var ok bool
				if i, ok = skipString(b, i); !ok {
					return i, false
				}
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		start := i
		for i < len(b) && b[i] != ',' && b[i] != ']' && b[i] != '}' && !isWS(b[i]) {
			i++
		}
		return i, i > start
	}
}

// skipString returns the index just past the string starting at b[i] (a
// backslash escapes the byte after it). A quote ends the string unless an
// odd run of backslashes precedes it, which is what a byte-by-byte scan
// decides; finding the quotes with bytes.IndexByte is much faster.
func skipString(b []byte, i int) (int, bool) {
	start := i + 1
	if start >= len(b) {
		return start, false
	}
	for j := start; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			break
		}
		q += j
		k := q
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
	// Unterminated: where the byte-by-byte scan stops (len(b), or one
	// past it after a trailing backslash).
	n := len(b)
	k := n
	for k > start && b[k-1] == '\\' {
		k--
	}
	if (n-k)%2 == 1 {
		return n + 1, false
	}
	return n, false
}

// splitArray returns the raw elements of the JSON array raw, failing if it
// has more than max elements.
func splitArray(raw []byte, field string, max int) ([][]byte, error) {
	if len(raw) < 2 || raw[0] != '[' {
		return nil, fieldErr(field, fmt.Errorf("%w: want an array", ErrBadJSON))
	}
	out := make([][]byte, 0, max)
	i := skipWS(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		if skipWS(raw, i+1) != len(raw) {
			return nil, fieldErr(field, fmt.Errorf("%w: data after array", ErrBadJSON))
		}
		return out, nil
	}
	for {
		i = skipWS(raw, i)
		start := i
		end, ok := skipValue(raw, i)
		if !ok {
			return nil, fieldErr(field, fmt.Errorf("%w: element %d", ErrBadJSON, len(out)))
		}
		if len(out) >= max {
			return nil, fieldErr(field, fmt.Errorf("%w: more than %d elements", ErrTooLarge, max))
		}
		out = append(out, raw[start:end])
		i = skipWS(raw, end)
		if i >= len(raw) {
			return nil, fieldErr(field, fmt.Errorf("%w: unterminated array", ErrBadJSON))
		}
		switch raw[i] {
		case ',':
			i++
		case ']':
			if skipWS(raw, i+1) != len(raw) {
				return nil, fieldErr(field, fmt.Errorf("%w: data after array", ErrBadJSON))
			}
			return out, nil
		default:
			return nil, fieldErr(field, fmt.Errorf("%w: after element %d", ErrBadJSON, len(out)-1))
		}
	}
}
