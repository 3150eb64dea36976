package strictjson

// Scanner reads one JSON document in a single pass over its bytes, with no
// reflection, no token objects and no allocation, for hot paths that know
// the shape they read. It accepts only what [Unmarshal] and [Decode] accept
// under the same [Options]: the size bound, the depth bound, duplicate
// member names at any depth, UTF-8, RFC 8259 grammar, nothing after the
// value. It does not name problems: whatever it is not sure of (any error,
// an escaped member name, a \u escape of a UTF-16 surrogate, an object
// with more than [MaxScanNames] members) makes it give up, [Scanner.OK]
// turns false, and the caller decodes the input with Unmarshal or Decode
// instead, which either accepts it (the rare shapes the scanner leaves
// alone) or returns the [*Error] naming the problem. FuzzScanner holds the
// scanner to the decoder.
//
// Methods that read a value skip the white space before it. Once the
// scanner has given up, every method does nothing and returns zero values.
// A caller with a value shape of its own reads it raw between [Scanner.Cursor]
// and [Scanner.Seek].
type Scanner struct {
	data     []byte
	pos      int
	maxDepth int
	ok       bool
}

// MaxScanNames bounds the member names of one object that a Scanner checks
// for duplicates itself; it gives up on an object with more.
const MaxScanNames = 32

// NewScanner returns a scanner positioned before the value of data, bound
// by o (unknown members are the caller's business). It has already given
// up when data is larger than o allows.
func NewScanner(data []byte, o Options) Scanner {
	return Scanner{data: data, maxDepth: o.maxDepth(), ok: len(data) <= o.maxBytes()}
}

// OK reports whether the scanner has not given up.
func (s *Scanner) OK() bool { return s.ok }

// Fail makes the scanner give up, for a caller that meets what it does not
// take (an unknown member, a value of the wrong kind).
func (s *Scanner) Fail() { s.ok = false }

// End reports whether the document was read whole: the scanner has not
// given up and only white space follows the value.
func (s *Scanner) End() bool {
	s.space()
	return s.ok && s.pos == len(s.data)
}

// Peek returns the first byte of the next value (after white space), or
// 0 at the end or once given up.
func (s *Scanner) Peek() byte {
	s.space()
	return s.peek()
}

func (s *Scanner) peek() byte {
	if !s.ok || s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

func (s *Scanner) space() {
	d, i := s.data, s.pos
	for i < len(d) && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t') {
		i++
	}
	s.pos = i
}

// expect consumes c, or gives up.
func (s *Scanner) expect(c byte) {
	if s.peek() != c {
		s.ok = false
		return
	}
	s.pos++
}

// Null reads null and reports true if the next value is null; otherwise
// it reads nothing and reports false.
func (s *Scanner) Null() bool {
	if s.Peek() != 'n' {
		return false
	}
	s.literal("null")
	return s.ok
}

// Object reads an object nested depth deep (the top-level value is depth
// 1), calling fn with each member's name (a sub-slice of the input, which
// has no escapes) positioned before its value; fn must read the value
// (Skip at depth+1, or one of the other methods) or give up. A value that
// is not an object, a duplicate or escaped name, or more than
// MaxScanNames members make the scanner give up.
func (s *Scanner) Object(depth int, fn func(name []byte)) {
	if depth > s.maxDepth {
		s.ok = false
		return
	}
	var names [MaxScanNames][]byte
	n := 0
	s.list('{', '}', func() {
		name, escaped := s.String()
		if !s.ok || escaped || n == MaxScanNames || seen(names[:n], name) {
			s.ok = false
			return
		}
		names[n] = name
		n++
		s.space()
		s.expect(':')
		fn(name)
	})
}

// Array reads an array nested depth deep (the top-level value is depth
// 1), calling fn positioned before each element; fn must read the element
// (Skip at depth+1, or one of the other methods) or give up. It returns
// the array's text (a sub-slice of the input, without the white space
// around it), or nil once given up. A value that is not an array makes
// the scanner give up.
func (s *Scanner) Array(depth int, fn func()) []byte {
	if depth > s.maxDepth {
		s.ok = false
		return nil
	}
	s.space()
	start := s.pos
	s.list('[', ']', fn)
	if !s.ok {
		return nil
	}
	return s.data[start:s.pos:s.pos]
}

// Cursor returns the input and the index of the next value's first byte
// (after white space), for a caller that reads a value of a narrow shape
// of its own in a tighter loop than these methods allow (the evidence
// package's arrays of byte numbers). The caller must check that value at
// least as strictly as Skip would (a value the decoder rejects must not
// pass), then move past it with Seek, or give up with Fail. Once the
// scanner has given up, Cursor returns nil and 0.
func (s *Scanner) Cursor() (data []byte, pos int) {
	s.space()
	if !s.ok {
		return nil, 0
	}
	return s.data, s.pos
}

// Seek moves the scanner to end, the index after a value that the caller
// read itself from Cursor's data. An end that is not after the current
// position, or is beyond the input, makes the scanner give up.
func (s *Scanner) Seek(end int) {
	if !s.ok || end <= s.pos || end > len(s.data) {
		s.ok = false
		return
	}
	s.pos = end
}

// seen reports whether name is among names.
func seen(names [][]byte, name []byte) bool {
	for _, n := range names {
		if string(n) == string(name) {
			return true
		}
	}
	return false
}

// list reads the elements of an object or array between open and close,
// separated by commas, calling fn before each element.
func (s *Scanner) list(open, close byte, fn func()) {
	s.space()
	s.expect(open)
	s.space()
	if s.peek() == close {
		s.pos++
		return
	}
	for s.ok {
		fn()
		s.space()
		if s.peek() != ',' {
			break
		}
		s.pos++
		s.space()
	}
	s.expect(close)
}

// Skip reads any value nested depth deep (the top-level value is depth 1)
// and returns its text (a sub-slice of the input, without the white space
// around it), or nil once given up.
func (s *Scanner) Skip(depth int) []byte {
	s.space()
	start := s.pos
	switch c := s.peek(); {
	case c == '"':
		s.String()
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case c == '{':
		s.Object(depth, func([]byte) { s.Skip(depth + 1) })
	case c == '[':
		s.Array(depth, func() { s.Skip(depth + 1) })
	default:
		s.ok = false
	}
	if !s.ok {
		return nil
	}
	return s.data[start:s.pos:s.pos]
}

// String reads a string: valid UTF-8, no control character, only the
// escapes of RFC 8259 (a \u escape of a surrogate makes the scanner give
// up). It returns the text between the quotes, still escaped, and whether
// it holds any escape. The text between escapes is found with IndexByte
// and checked eight bytes at a time.
func (s *Scanner) String() (text []byte, escaped bool) {
	s.space()
	if s.peek() != '"' {
		s.ok = false
		return nil, false
	}
	end, escaped := stringEnd(s.data, s.pos)
	if end < 0 {
		s.ok = false
		return nil, false
	}
	text = s.data[s.pos+1 : end-1 : end-1]
	s.pos = end
	return text, escaped
}

// number reads a JSON number (RFC 8259 grammar).
func (s *Scanner) number() {
	end := numberEnd(s.data, s.pos)
	if end < 0 {
		s.ok = false
		return
	}
	s.pos = end
}

// literal reads true, false or null.
func (s *Scanner) literal(lit string) {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		s.ok = false
		return
	}
	s.pos += len(lit)
}
