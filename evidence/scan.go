package evidence

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// The fast path of readWire: one pass over the bytes, no token objects, no
// allocation but the byte arrays. It accepts only what the strict decoder
// accepts, and yields the same wire; whatever it is not sure of (any
// error, an escaped member name, a surrogate escape, an array element that
// is not a byte, a case-folded member name, deep nesting) makes it give
// up, and the strict decoder reads the document instead and names the
// problem. FuzzScanWire holds the two to that.

// scanner reads a document from data[pos:].
type scanner struct {
	data []byte
	pos  int
	m    *memo
	ok   bool // false once the scanner has given up
}

// scanWire fills w from data and reports whether it could; on false, w is
// to be thrown away.
func scanWire(data []byte, m *memo, w *wire) bool {
	if len(data) > MaxEvidenceSize {
		return false
	}
	s := scanner{data: data, m: m, ok: true}
	s.space()
	s.object(topNames, func(name []byte) {
		switch string(name) {
		case "version":
			s.scalar(&w.version, 1)
		case "quote":
			s.quote(&w.quote)
		case "tpm_quote":
			s.quote(&w.tpmQuote)
		case "report":
			s.bytes(&w.report, MaxHCLReportSize, memoHCLArray, 1)
		case "hcl_report":
			s.bytes(&w.hclReport, MaxHCLReportSize, memoHCLArray, 1)
		case "vcek":
			s.bytes(&w.vcek, MaxVCEKSize, -1, 1)
		case "td_quote":
			s.bytes(&w.tdQuote, MaxTDQuoteSize, -1, 1)
		case "event_log":
			s.bytes(&w.eventLog, MaxEventLogSize, -1, 1)
		default:
			s.skip(1)
		}
	})
	s.space()
	return s.ok && s.pos == len(data)
}

// fail gives up.
func (s *scanner) fail() { s.ok = false }

// peek returns the next byte, or 0 at the end or once given up.
func (s *scanner) peek() byte {
	if !s.ok || s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// expect consumes c, or gives up.
func (s *scanner) expect(c byte) {
	if s.peek() != c {
		s.fail()
		return
	}
	s.pos++
}

// space skips JSON white space.
func (s *scanner) space() { s.pos = skipSpace(s.data, s.pos) }

// maxNames bounds the member names of one object the scanner checks for
// duplicates itself; an object with more is left to the strict decoder.
const maxNames = 16

// object reads an object, calling fn with each member's name (a
// sub-slice of data, without escapes) positioned before its value; fn must
// consume the value. Duplicate names, and names equal to one of known but
// for letter case, make the scanner give up.
func (s *scanner) object(known []string, fn func(name []byte)) {
	var names [maxNames][]byte
	n := 0
	s.list('{', '}', func() {
		name := s.name()
		if !s.ok || n == maxNames || s.seen(names[:n], name) || caseClash(name, known) {
			s.fail()
			return
		}
		names[n] = name
		n++
		s.space()
		s.expect(':')
		s.space()
		fn(name)
	})
}

// seen reports whether name is among names.
func (s *scanner) seen(names [][]byte, name []byte) bool {
	for _, n := range names {
		if string(n) == string(name) {
			return true
		}
	}
	return false
}

// caseClash reports whether name equals one of known only if letter case
// is ignored.
func caseClash(name []byte, known []string) bool {
	return checkCase("", name, known) != nil
}

// name reads a member name without escapes and returns its content.
func (s *scanner) name() []byte {
	start := s.pos
	if !s.str() {
		return nil
	}
	tok := s.data[start:s.pos]
	for _, c := range tok {
		if c == '\\' {
			s.fail()
			return nil
		}
	}
	return tok[1 : len(tok)-1]
}

// str reads a string, as strictjson.StringEnd checks it, and reports
// whether it read one.
func (s *scanner) str() bool {
	end, _ := strictjson.StringEnd(s.data, s.pos)
	if !s.ok || end < 0 {
		s.fail()
		return false
	}
	s.pos = end
	return true
}

// number reads a JSON number (strictjson.NumberEnd).
func (s *scanner) number() {
	end := strictjson.NumberEnd(s.data, s.pos)
	if end < 0 {
		s.fail()
		return
	}
	s.pos = end
}

// literal reads true, false or null.
func (s *scanner) literal(lit string) {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		s.fail()
		return
	}
	s.pos += len(lit)
}

// skip reads any value at nesting depth depth (the top-level object is 1),
// checking it as the strict decoder would.
func (s *scanner) skip(depth int) {
	switch c := s.peek(); {
	case c == '"':
		s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	case depth >= strictjson.DefaultMaxDepth:
		s.fail()
	case c == '{':
		s.object(nil, func([]byte) { s.skip(depth + 1) })
	case c == '[':
		s.array(func() { s.skip(depth + 1) })
	default:
		s.fail()
	}
}

// array reads an array, calling fn positioned before each element.
func (s *scanner) array(fn func()) { s.list('[', ']', fn) }

// list reads the elements of an object or array between open and close,
// separated by commas, calling fn positioned before each element.
func (s *scanner) list(open, close byte, fn func()) {
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

// scalar reads any value into f as raw text; null leaves f absent. depth
// is skip's: that of the object or array holding the value.
func (s *scanner) scalar(f *rawField, depth int) {
	start := s.pos
	c := s.peek()
	s.skip(depth)
	if c != 'n' && s.ok {
		*f = rawField{kind: jsontext.Kind(kindOf(c)), raw: s.data[start:s.pos:s.pos]}
	}
}

// kindOf is the jsontext kind of a value starting with c.
func kindOf(c byte) byte {
	if c == '-' || (c >= '1' && c <= '9') {
		return '0'
	}
	return c
}

// bytes reads a byte field: a string, null, or an array of at most max
// bytes, which is looked up in the memo under arrayField (when >= 0)
// before it is parsed.
func (s *scanner) bytes(f *rawField, max, arrayField, depth int) {
	if s.peek() != '[' {
		s.scalar(f, depth)
		return
	}
	start := s.pos
	*f = rawField{kind: '['}
	if dec, end := s.rememberedArray(arrayField); dec != nil {
		f.arr, f.arrFromMemo, f.raw = dec, true, s.data[start:end:end]
		s.pos = end
		return
	}
	f.arr = s.byteArray(max)
	f.raw = s.data[start:s.pos:s.pos]
}

// rememberedArray looks the byte array at s.pos up in the memo. A byte
// array holds no ']' but its last byte, so the first ']' ends the text to
// look up; only texts of arrays that decoded are remembered, so a hit is
// exactly such an array. It returns the decoded bytes and the index after
// the array, or nil.
func (s *scanner) rememberedArray(field int) ([]byte, int) {
	if s.m == nil || field < 0 {
		return nil, 0
	}
	end := bytes.IndexByte(s.data[s.pos:], ']')
	if end < 0 {
		return nil, 0
	}
	end += s.pos + 1
	return s.m.lookup(field, s.data[s.pos:end]), end
}

// byteArray reads an array of at most max integers 0..255 (the next
// byte is '['); anything else makes the scanner give up (the strict
// decoder then records why). Empty is nil.
func (s *scanner) byteArray(max int) []byte {
	d := s.data
	// An array of bytes holds no ']' but its own: its length bounds the
	// element count (a wrong guess costs only capacity).
	end := bytes.IndexByte(d[s.pos:], ']')
	var out []byte
	i := skipSpace(d, s.pos+1)
	if i < len(d) && d[i] == ']' {
		s.pos = i + 1
		return nil
	}
	for {
		n, j, ok := byteAt(d, i)
		if !ok || len(out) == max {
			break
		}
		if out == nil {
			out = make([]byte, 0, min(max, end/2+1))
		}
		out = append(out, byte(n))
		if i = skipSpace(d, j); i >= len(d) {
			break
		}
		if d[i] == ']' {
			s.pos = i + 1
			return out[:len(out):len(out)]
		}
		if d[i] != ',' {
			break
		}
		i = skipSpace(d, i+1)
	}
	s.fail()
	return nil
}

// byteAt reads the integer 0..255 at d[i:] (one to three digits, no
// leading zero, not followed by a further digit) and returns it with the
// index after it.
func byteAt(d []byte, i int) (n, j int, ok bool) {
	if i >= len(d) || d[i]-'0' > 9 {
		return 0, i, false
	}
	n, j = int(d[i]-'0'), i+1
	for ; j < len(d) && d[j]-'0' <= 9; j++ {
		if n == 0 || j-i == 3 {
			return 0, j, false
		}
		n = n*10 + int(d[j]-'0')
	}
	return n, j, n <= 255
}

// quote reads a quote object into *q; null leaves *q nil.
func (s *scanner) quote(q **wireQuote) {
	if s.peek() == 'n' {
		s.literal("null")
		return
	}
	if s.peek() != '{' {
		s.fail()
		return
	}
	w := new(wireQuote)
	s.object(quoteNames, func(name []byte) {
		switch string(name) {
		case "signature":
			s.bytes(&w.signature, MaxSignatureSize, -1, 2)
		case "message":
			s.bytes(&w.message, MaxMessageSize, -1, 2)
		case "pcrs":
			s.pcrs(w)
		default:
			s.skip(2)
		}
	})
	*q = w
}

// pcrs reads "pcrs" into q as reader.pcrs does.
func (s *scanner) pcrs(q *wireQuote) {
	f := &q.pcrs
	switch s.peek() {
	case 'n':
		*f = rawField{kind: 'n'}
		s.literal("null")
		return
	case '[':
	default:
		s.scalar(f, 2)
		return
	}
	*f = rawField{kind: '['}
	start := s.pos
	if s.rememberedPCRs(q) {
		return
	}
	defer func() { f.raw = s.data[start:s.pos:s.pos] }()
	s.array(func() {
		if q.nPCRs >= MaxPCRs {
			s.fail()
			return
		}
		var e rawField
		if s.peek() == '[' {
			q.pcrElems[q.nPCRs] = pcrElem{kind: '[', raw: s.byteArray(PCRSize)}
		} else {
			s.scalar(&e, 3)
			if e.kind == 0 {
				e = rawField{kind: 'n', raw: []byte("null")}
			}
			q.pcrElems[q.nPCRs] = pcrElem{kind: e.kind, raw: e.raw}
		}
		q.nPCRs++
	})
}

// rememberedPCRs looks "pcrs" at s.pos, an array of byte arrays, up in the
// memo; on a hit it fills q and moves past the array. The array's text is
// found by walking its elements (each a byte array, which holds no ']'
// but its last byte); only texts of arrays that decoded are remembered, so
// a hit is exactly such an array.
func (s *scanner) rememberedPCRs(q *wireQuote) bool {
	if s.m == nil {
		return false
	}
	end := byteArraysEnd(s.data, s.pos)
	if end < 0 {
		return false
	}
	dec := s.m.lookup(memoPCRArrays, s.data[s.pos:end])
	if dec == nil || len(dec)%PCRSize != 0 || len(dec)/PCRSize > MaxPCRs {
		return false
	}
	for i := 0; i < len(dec); i += PCRSize {
		q.pcrElems[q.nPCRs] = pcrElem{kind: '[', raw: dec[i : i+PCRSize : i+PCRSize]}
		q.nPCRs++
	}
	q.pcrs.raw, q.pcrsFromMemo = s.data[s.pos:end:end], true
	s.pos = end
	return true
}

// byteArraysEnd returns the index after the array of arrays at d[i] ('['),
// found by its brackets alone, or -1.
func byteArraysEnd(d []byte, i int) int {
	i = skipSpace(d, i+1)
	for i < len(d) {
		switch d[i] {
		case ']':
			return i + 1
		case '[':
		default:
			return -1
		}
		j := bytes.IndexByte(d[i:], ']')
		if j < 0 {
			return -1
		}
		if i = skipSpace(d, i+j+1); i < len(d) && d[i] == ',' {
			i = skipSpace(d, i+1)
		}
	}
	return -1
}
