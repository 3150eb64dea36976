package evidence

import "encoding/binary"

// maxScanDepth bounds the nesting the fast scanner follows. Deeper documents
// take the slow path, where encoding/json's own limit applies.
const maxScanDepth = 64

// scanWire is Decode's fast path: one pass over b that checks that b is
// exactly one valid JSON value, as json.Valid does (the RFC 8259 grammar;
// strings without control characters and with valid escapes; other bytes,
// invalid UTF-8 included, accepted; white space around), and splits the
// top-level object into its known fields exactly as parseWire does.
//
// ok is false whenever the fast path cannot decide as the slow path would:
// invalid JSON, a top-level value that is not an object, an escaped key, a
// duplicate known key, a quote that is neither an object nor null, nesting
// deeper than maxScanDepth. Decode then takes the slow path (json.Valid,
// then parseWire), which gives the canonical result or error. So the fast
// path only ever accepts documents json.Valid accepts, and returns the same
// wire as parseWire for them.
//
// With a memo m, a "hcl_report" or "vcek" string equal byte for byte to one
// that m remembers from an earlier successful decode is neither validated
// nor decoded again: w gets m's decoded bytes (hclDecoded, vcekDecoded).
func scanWire(b []byte, m *memo) (w wire, ok bool) {
	var seen [7]bool
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return w, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return w, skipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return w, false
		}
		kend, esc := scanString(b, i)
		if kend < 0 || esc {
			return w, false
		}
		key := b[i+1 : kend-1]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return w, false
		}
		i = skipWS(b, i+1)
		var slot, decoded *[]byte
		var quoteSlot **wireQuote
		idx := -1
		switch string(key) {
		case "version":
			slot, idx = &w.Version, 0
		case "quote":
			quoteSlot, idx = &w.Quote, 1
		case "tpm_quote":
			quoteSlot, idx = &w.TPMQuote, 2
		case "report":
			slot, idx = &w.Report, 3
		case "hcl_report":
			slot, decoded, idx = &w.HCLReport, &w.hclDecoded, 4
		case "vcek":
			slot, decoded, idx = &w.VCEK, &w.vcekDecoded, 5
		case "td_quote":
			slot, idx = &w.TDQuote, 6
		}
		if idx >= 0 {
			if seen[idx] {
				return w, false
			}
			seen[idx] = true
		}
		if tok, dec := m.lookup(idx, b, i); dec != nil {
			// Equal to a string that was valid and decoded before.
			*slot, *decoded = tok, dec
			i += len(tok)
		} else if quoteSlot != nil && i < len(b) && b[i] == '{' {
			q, end, ok := scanQuote(b, i)
			if !ok {
				return w, false
			}
			*quoteSlot, i = q, end
		} else {
			end, ok := skipValid(b, i, 1)
			if !ok {
				return w, false
			}
			val := b[i:end]
			if string(val) == "null" {
				val = nil
			}
			switch {
			case quoteSlot != nil && val != nil:
				return w, false // not an object: the slow path names the error
			case slot != nil:
				*slot = val
			}
			i = end
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return w, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return w, skipWS(b, i+1) == len(b)
		default:
			return w, false
		}
	}
}

// scanQuote is scanWire for the quote object starting at b[i] == '{'.
func scanQuote(b []byte, i int) (*wireQuote, int, bool) {
	q := new(wireQuote)
	var seen [3]bool
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return q, i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, i, false
		}
		kend, esc := scanString(b, i)
		if kend < 0 || esc {
			return nil, i, false
		}
		key := b[i+1 : kend-1]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return nil, i, false
		}
		i = skipWS(b, i+1)
		end, ok := skipValid(b, i, 2)
		if !ok {
			return nil, i, false
		}
		val := b[i:end]
		if string(val) == "null" {
			val = nil
		}
		var slot *[]byte
		idx := -1
		switch string(key) {
		case "signature":
			slot, idx = &q.Signature, 0
		case "message":
			slot, idx = &q.Message, 1
		case "pcrs":
			slot, idx = &q.PCRs, 2
		}
		if idx >= 0 {
			if seen[idx] {
				return nil, i, false
			}
			seen[idx] = true
			*slot = val
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return nil, i, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return q, i + 1, true
		default:
			return nil, i, false
		}
	}
}

// skipValid returns the index just past the valid JSON value starting at
// b[i]; ok is false if there is none (or it nests deeper than maxScanDepth).
func skipValid(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end, end >= 0
	case c == '{':
		if depth >= maxScanDepth {
			return i, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			end, _ := scanString(b, i)
			if end < 0 {
				return i, false
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			var ok bool
			if i, ok = skipValid(b, skipWS(b, i+1), depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		if depth >= maxScanDepth {
			return i, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = skipValid(b, i, depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipWS(b, i+1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	}
	return i, false
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// scanNumber returns the index just past the JSON number starting at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// special is non-zero if one of the 8 bytes of w is '"', '\\' or below
// 0x20 (it may also flag bytes after such a byte, never miss one).
func special(w uint64) uint64 {
	q := w ^ (lsb * '"')
	s := w ^ (lsb * '\\')
	return ((q - lsb) &^ q & msb) | ((s - lsb) &^ s & msb) | ((w - lsb*0x20) &^ w & msb)
}

// scanString validates the JSON string starting at b[i] == '"' and returns
// the index just past its closing quote, or -1; esc says whether it holds
// escapes. Eight bytes are checked at a time while none is special.
func scanString(b []byte, i int) (end int, esc bool) {
	i++
	for {
		for i+8 <= len(b) && special(binary.LittleEndian.Uint64(b[i:])) == 0 {
			i += 8
		}
		if i >= len(b) {
			return -1, esc
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return -1, esc
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHexDigit(b[i+2]) || !isHexDigit(b[i+3]) || !isHexDigit(b[i+4]) || !isHexDigit(b[i+5]) {
					return -1, esc
				}
				i += 6
			default:
				return -1, esc
			}
		case c < 0x20:
			return -1, esc
		default:
			i++
		}
	}
}
