package evidence

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// The fast path of readWire: one pass over the bytes with a
// strictjson.Scanner (which holds JSON's grammar, duplicate names, escapes
// and the depth bound), no token objects, no allocation but the quote
// objects and the byte arrays. It accepts only what the strict decoder
// accepts, and yields the same wire; whatever it is not sure of (any
// error, an escaped member name, a surrogate escape, an array element that
// is not a byte, a case-folded member name, deep nesting) makes it give
// up, and the strict decoder reads the document instead and names the
// problem. FuzzScanWire holds the two to that.
//
// Depths are the strict decoder's: the top-level object is 1, its members'
// values 2, a quote's members' values 3, a PCR 4.

// scanner reads a document; its own part is the memo.
type scanner struct {
	strictjson.Scanner
	m *memo
}

// scanWire fills w from data and reports whether it could; on false, w is
// to be thrown away.
func scanWire(data []byte, m *memo, w *wire) bool {
	s := scanner{Scanner: strictjson.NewScanner(data, jsonOptions()), m: m}
	s.Object(1, func(name []byte) {
		switch string(name) {
		case "version":
			s.scalar(&w.version, 2)
		case "quote":
			s.quote(&w.quote)
		case "tpm_quote":
			s.quote(&w.tpmQuote)
		case "report":
			s.bytes(&w.report, MaxHCLReportSize, memoHCLArray, 2)
		case "hcl_report":
			s.bytes(&w.hclReport, MaxHCLReportSize, memoHCLArray, 2)
		case "vcek":
			s.bytes(&w.vcek, MaxVCEKSize, -1, 2)
		case "td_quote":
			s.bytes(&w.tdQuote, MaxTDQuoteSize, -1, 2)
		case "event_log":
			s.bytes(&w.eventLog, MaxEventLogSize, -1, 2)
		default:
			s.unknown(name, topNames, 2)
		}
	})
	return s.End()
}

// unknown reads the value of a member whose name is none of known; a name
// equal to one of known but for letter case makes the scanner give up
// (the strict decoder rejects it).
func (s *scanner) unknown(name []byte, known []string, depth int) {
	if checkCase("", name, known) != nil {
		s.Fail()
		return
	}
	s.Skip(depth)
}

// scalar reads any value depth deep into f as raw text; null leaves f
// absent.
func (s *scanner) scalar(f *rawField, depth int) {
	c := s.Peek()
	raw := s.Skip(depth)
	if c != 'n' && raw != nil {
		*f = rawField{kind: jsontext.Kind(kindOf(c)), raw: raw}
	}
}

// kindOf is the jsontext kind of a value starting with c.
func kindOf(c byte) byte {
	if c == '-' || (c >= '1' && c <= '9') {
		return '0'
	}
	return c
}

// bytes reads a byte field depth deep: a string, null, or an array of at
// most max bytes, which is looked up in the memo under arrayField (when
// >= 0) before it is parsed.
func (s *scanner) bytes(f *rawField, max, arrayField, depth int) {
	if s.Peek() != '[' {
		s.scalar(f, depth)
		return
	}
	*f = rawField{kind: '['}
	if dec, raw := s.rememberedArray(arrayField); dec != nil {
		f.arr, f.arrFromMemo, f.raw = dec, true, raw
		return
	}
	f.arr, f.raw = s.byteArray(max)
}

// rememberedArray looks the byte array next up in the memo. A byte array
// holds no ']' but its last byte, so the first ']' ends the text to look
// up; only texts of arrays that decoded are remembered, so a hit is
// exactly such an array. On a hit it moves past the array and returns the
// decoded bytes and the array's text; otherwise nil.
func (s *scanner) rememberedArray(field int) (dec, raw []byte) {
	if s.m == nil || field < 0 {
		return nil, nil
	}
	d, i := s.Cursor()
	end := bytes.IndexByte(d[i:], ']')
	if end < 0 {
		return nil, nil
	}
	end += i + 1
	if dec = s.m.lookup(field, d[i:end]); dec == nil {
		return nil, nil
	}
	s.Seek(end)
	return dec, d[i:end:end]
}

// byteArray reads an array of at most max integers 0..255 (the next value
// is an array) and returns its elements (nil when empty) and its text;
// anything else makes the scanner give up (the strict decoder then
// records why).
func (s *scanner) byteArray(max int) (arr, raw []byte) {
	d, i := s.Cursor()
	arr, end := byteArrayAt(d, i, max)
	if end < 0 {
		s.Fail()
		return nil, nil
	}
	s.Seek(end)
	return arr, d[i:end:end]
}

// byteArrayAt reads the array of at most max integers 0..255 at d[i]
// ('[') and returns its elements (nil when empty) and the index after it,
// or -1 when d[i:] does not start with such an array.
func byteArrayAt(d []byte, i, max int) ([]byte, int) {
	if i >= len(d) || d[i] != '[' {
		return nil, -1
	}
	// An array of bytes holds no ']' but its own: its length bounds the
	// element count (a wrong guess costs only capacity).
	end := bytes.IndexByte(d[i:], ']')
	var out []byte
	if i = skipSpace(d, i+1); i < len(d) && d[i] == ']' {
		return nil, i + 1
	}
	for {
		n, j, ok := byteAt(d, i)
		if !ok || len(out) == max {
			return nil, -1
		}
		if out == nil {
			out = make([]byte, 0, min(max, end/2+1))
		}
		out = append(out, byte(n))
		if i = skipSpace(d, j); i >= len(d) {
			return nil, -1
		}
		if d[i] == ']' {
			return out[:len(out):len(out)], i + 1
		}
		if d[i] != ',' {
			return nil, -1
		}
		i = skipSpace(d, i+1)
	}
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

// quote reads a quote object (a member's value, depth 2) into *q; null
// leaves *q nil.
func (s *scanner) quote(q **wireQuote) {
	if s.Null() {
		return
	}
	w := new(wireQuote)
	s.Object(2, func(name []byte) {
		switch string(name) {
		case "signature":
			s.bytes(&w.signature, MaxSignatureSize, -1, 3)
		case "message":
			s.bytes(&w.message, MaxMessageSize, -1, 3)
		case "pcrs":
			s.pcrs(w)
		default:
			s.unknown(name, quoteNames, 3)
		}
	})
	*q = w
}

// pcrs reads "pcrs" (depth 3) into q as reader.pcrs does.
func (s *scanner) pcrs(q *wireQuote) {
	f := &q.pcrs
	switch s.Peek() {
	case 'n':
		*f = rawField{kind: 'n'}
		s.Null()
		return
	case '[':
	default:
		s.scalar(f, 3)
		return
	}
	*f = rawField{kind: '['}
	if s.rememberedPCRs(q) {
		return
	}
	f.raw = s.Array(3, func() {
		if q.nPCRs >= MaxPCRs {
			s.Fail()
			return
		}
		if s.Peek() == '[' {
			arr, _ := s.byteArray(PCRSize)
			q.pcrElems[q.nPCRs] = pcrElem{kind: '[', raw: arr}
		} else {
			var e rawField
			s.scalar(&e, 4)
			if e.kind == 0 {
				e = rawField{kind: 'n', raw: []byte("null")}
			}
			q.pcrElems[q.nPCRs] = pcrElem{kind: e.kind, raw: e.raw}
		}
		q.nPCRs++
	})
}

// rememberedPCRs looks "pcrs", next and an array of byte arrays, up in
// the memo; on a hit it fills q and moves past the array. The array's text
// is found by walking its elements (each a byte array, which holds no ']'
// but its last byte); only texts of arrays that decoded are remembered, so
// a hit is exactly such an array.
func (s *scanner) rememberedPCRs(q *wireQuote) bool {
	if s.m == nil {
		return false
	}
	d, i := s.Cursor()
	end := byteArraysEnd(d, i)
	if end < 0 {
		return false
	}
	dec := s.m.lookup(memoPCRArrays, d[i:end])
	if dec == nil || len(dec)%PCRSize != 0 || len(dec)/PCRSize > MaxPCRs {
		return false
	}
	for j := 0; j < len(dec); j += PCRSize {
		q.pcrElems[q.nPCRs] = pcrElem{kind: '[', raw: dec[j : j+PCRSize : j+PCRSize]}
		q.nPCRs++
	}
	q.pcrs.raw, q.pcrsFromMemo = d[i:end:end], true
	s.Seek(end)
	return true
}

// byteArraysEnd returns the index after the array of arrays at d[i] ('['),
// found by its brackets alone, or -1.
func byteArraysEnd(d []byte, i int) int {
	if i >= len(d) || d[i] != '[' {
		return -1
	}
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
