package respguard

// states of the scanner.
const (
	stType   = iota // at the type byte of a value
	stLine          // in a line, after its type byte
	stLF            // after a line's CR
	stBulk          // in a bulk payload
	stBulkCR        // after a bulk payload: CR
	stBulkLF        // after a bulk payload's CR: LF
)

// kinds of line, by their type byte.
const (
	kindSimple = iota + 1 // the line is the value: + - : _ , # (
	kindBulk              // a length, then the payload: $ ! =
	kindAgg               // a count of elements: * ~ >
	kindPairs             // a count of entries: % |
)

func kindOf(b byte) int {
	switch b {
	case '+', '-', ':', '_', ',', '#', '(':
		return kindSimple
	case '$', '!', '=':
		return kindBulk
	case '*', '~', '>':
		return kindAgg
	case '%', '|':
		return kindPairs
	}
	return 0
}

// frame is an open aggregate: the element slots still to come, and
// whether it is an attribute (which annotates the value after it rather
// than being one).
type frame struct {
	remaining int64
	declared  int64
	attr      bool
}

// scanner follows RESP framing byte by byte. It holds no data: only the
// state of the current line and the stack of open aggregates, at most
// MaxDepth deep.
type scanner struct {
	l     Limits
	state int
	// current line
	typ     byte
	kind    int
	lineLen int64
	num     int64
	digits  int
	neg     bool
	// current bulk payload
	remaining int64
	stack     []frame
	open      int64
}

func newScanner(l Limits) *scanner {
	return &scanner{l: l.withDefaults()}
}

// scan checks p, the next bytes of the stream. It returns len(p) and nil,
// or the number of bytes before the first violation and its *Error. After
// an error the scanner must not be used again.
func (s *scanner) scan(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		if s.state == stBulk {
			take := min(s.remaining, int64(len(p)-i))
			s.remaining -= take
			i += int(take) - 1
			if s.remaining == 0 {
				s.state = stBulkCR
			}
			continue
		}
		if err := s.step(p[i]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// step advances by one byte outside a bulk payload.
func (s *scanner) step(b byte) error {
	switch s.state {
	case stType:
		s.kind = kindOf(b)
		if s.kind == 0 {
			return framing("unknown type byte")
		}
		s.typ, s.lineLen, s.num, s.digits, s.neg = b, 1, 0, 0, false
		s.state = stLine
		return nil
	case stLine:
		return s.lineByte(b)
	case stLF:
		if b != '\n' {
			return framing("CR not followed by LF")
		}
		return s.lineEnd()
	case stBulkCR:
		if b != '\r' {
			return framing("bulk payload not followed by CRLF")
		}
		s.state = stBulkLF
		return nil
	default: // stBulkLF
		if b != '\n' {
			return framing("bulk payload not followed by CRLF")
		}
		s.state = stType
		return s.valueDone()
	}
}

// lineByte takes a byte of a line after its type byte.
func (s *scanner) lineByte(b byte) error {
	s.lineLen++
	if s.lineLen > s.l.MaxLine {
		return &Error{Check: CheckLine, Got: s.lineLen, Limit: s.l.MaxLine}
	}
	switch {
	case b == '\r':
		s.state = stLF
		return nil
	case b == '\n':
		return framing("LF without CR")
	case s.kind == kindSimple:
		return nil
	case b == '-' && s.digits == 0 && !s.neg:
		s.neg = true
		return nil
	case b < '0' || b > '9' || (s.neg && (s.digits > 0 || b != '1')):
		return framing("length is not a decimal number or -1")
	}
	s.digits++
	s.num = s.num*10 + int64(b-'0')
	if s.neg {
		return nil
	}
	if s.kind == kindBulk && s.num > s.l.MaxBulk {
		return &Error{Check: CheckBulk, Got: s.num, Limit: s.l.MaxBulk}
	}
	if s.kind != kindBulk && s.num > s.l.MaxElements {
		return &Error{Check: CheckElements, Got: s.num, Limit: s.l.MaxElements}
	}
	return nil
}

// lineEnd completes a line (its LF read).
func (s *scanner) lineEnd() error {
	s.state = stType
	if s.kind == kindSimple {
		return s.valueDone()
	}
	if s.digits == 0 {
		return framing("missing length")
	}
	if s.neg { // -1: a RESP2 null
		return s.valueDone()
	}
	switch s.kind {
	case kindBulk:
		s.remaining = s.num
		s.state = stBulk
		if s.num == 0 {
			s.state = stBulkCR
		}
		return nil
	case kindPairs:
		return s.push(2*s.num, s.typ == '|')
	default:
		return s.push(s.num, false)
	}
}

// push opens an aggregate of n element slots.
func (s *scanner) push(n int64, attr bool) error {
	if n == 0 {
		if attr { // an empty attribute: the next value is still the one
			return nil
		}
		return s.valueDone()
	}
	if len(s.stack) >= s.l.MaxDepth {
		return &Error{Check: CheckDepth, Got: int64(len(s.stack) + 1), Limit: int64(s.l.MaxDepth)}
	}
	if s.open+n > s.l.MaxOpen {
		return &Error{Check: CheckOpen, Got: s.open + n, Limit: s.l.MaxOpen}
	}
	s.open += n
	s.stack = append(s.stack, frame{remaining: n, declared: n, attr: attr})
	return nil
}

// valueDone counts a complete value in the aggregates that hold it.
func (s *scanner) valueDone() error {
	for len(s.stack) > 0 {
		top := &s.stack[len(s.stack)-1]
		top.remaining--
		if top.remaining > 0 {
			return nil
		}
		s.open -= top.declared
		attr := top.attr
		s.stack = s.stack[:len(s.stack)-1]
		if attr {
			return nil
		}
	}
	return nil
}

func framing(reason string) error {
	return &Error{Check: CheckFraming, Reason: reason}
}
