package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
)

// jsonOptions are the strict decoder's options for evidence: the input
// bound is MaxEvidenceSize, unknown members are tolerated (other tooling
// adds its own), and strictjson's depth bound applies.
func jsonOptions() strictjson.Options { return strictjson.Options{MaxBytes: MaxEvidenceSize} }

// rawField is a known member's value as the strict decoder read it. Whether
// a string or a byte array is right depends on the format version, which
// may come later in the document, so both are kept until decodeWire.
type rawField struct {
	// kind is the value's JSON kind ('"', '[', '0', 't', 'f', '{'); 0 when
	// the member is absent or null.
	kind jsontext.Kind
	// raw is the value's text (a string's quotes included), a sub-slice of
	// the input.
	raw []byte
	// arr holds the elements of an array of integers 0..255; arrErr says
	// why the array is not one (a *FormatError whose Field decodeWire sets).
	arr    []byte
	arrErr error
	// decoded is the field's bytes remembered by a Decoder for its string
	// text, nil otherwise; arrFromMemo says that arr came from a Decoder's
	// memory.
	decoded     []byte
	arrFromMemo bool
}

func (f *rawField) present() bool { return f.kind != 0 }

// wire is every known member of every format, as read.
type wire struct {
	version   rawField
	quote     *wireQuote // v0
	tpmQuote  *wireQuote // v0 TDX, v1, v2
	report    rawField   // v0
	hclReport rawField
	vcek      rawField
	tdQuote   rawField
	eventLog  rawField // v1, v2

	// m is the memo of the Decoder reading w, nil when there is none.
	m *memo
}

type wireQuote struct {
	signature, message rawField
	// pcrs is "pcrs" itself: kind '[' for an array, whose first MaxPCRs
	// elements (strings, or byte arrays) are pcrElems[:nPCRs]; arrErr
	// records a longer one.
	pcrs     rawField
	pcrElems [MaxPCRs]pcrElem
	nPCRs    int
	// pcrsFromMemo says that the PCRs came from a Decoder's memory.
	pcrsFromMemo bool
}

// pcrElem is an element of "pcrs": kind '"' with raw the string's text, or
// kind '[' with raw the byte array's elements (arrErr: why it is not one),
// or another kind with raw its text.
type pcrElem struct {
	kind   jsontext.Kind
	raw    []byte
	arrErr error
}

// Member names of the top-level object and of a quote object.
var (
	topNames   = []string{"version", "quote", "tpm_quote", "report", "hcl_report", "vcek", "td_quote", "event_log"}
	quoteNames = []string{"signature", "message", "pcrs"}
)

// reader reads evidence with the strict decoder into a wire.
type reader struct {
	dec  *jsontext.Decoder
	data []byte
	m    *memo // nil: remember nothing
}

// readWire decodes data (one JSON object) into w. Duplicate member names
// at any depth, invalid UTF-8, data after the object and nesting beyond
// strictjson's bound are rejected by the decoder; member names are matched
// exactly, and a name that differs from a known one only in letter case is
// rejected. Unknown members are skipped (and checked).
func readWire(data []byte, m *memo, w *wire) error {
	if scanWire(data, m, w) {
		return nil
	}
	*w = wire{}
	return readWireStrict(data, m, w)
}

// readWireStrict is readWire with the strict decoder alone: the reference
// the fast path (scanWire) is held to, and what names the problem when the
// fast path gives up.
func readWireStrict(data []byte, m *memo, w *wire) error {
	err := strictjson.Decode(data, jsonOptions(), func(dec *jsontext.Decoder) error {
		r := reader{dec: dec, data: data, m: m}
		return r.object("document", topNames, func(name []byte) error {
			switch string(name) {
			case "version":
				return r.scalar(&w.version)
			case "quote":
				return r.quoteObject(&w.quote, "quote")
			case "tpm_quote":
				return r.quoteObject(&w.tpmQuote, "tpm_quote")
			case "report":
				return r.bytesField(&w.report, MaxHCLReportSize)
			case "hcl_report":
				return r.bytesField(&w.hclReport, MaxHCLReportSize)
			case "vcek":
				return r.bytesField(&w.vcek, MaxVCEKSize)
			case "td_quote":
				return r.bytesField(&w.tdQuote, MaxTDQuoteSize)
			case "event_log":
				return r.bytesField(&w.eventLog, MaxEventLogSize)
			}
			return r.dec.SkipValue()
		})
	})
	return jsonErr(err)
}

// jsonErr turns a strict decoder error into a *FormatError naming the
// member it was found in ("document" when the decoder names none). Other
// errors (already *FormatError) are returned unchanged.
func jsonErr(err error) error {
	se, ok := errors.AsType[*strictjson.Error](err)
	if !ok {
		return err
	}
	field := se.Field()
	if field == "" {
		field = "document"
	}
	return fieldErr(field, format.BadJSON(se))
}

// object reads an object member by member, calling fn with each name
// (escapes decoded; valid only during the call) positioned before its
// value; fn must consume the value. A name that equals one of known only if
// letter case is ignored is rejected.
func (r *reader) object(field string, known []string, fn func(name []byte) error) error {
	if r.dec.PeekKind() != '{' {
		if _, err := r.dec.ReadValue(); err != nil {
			return err
		}
		return fieldErr(field, fmt.Errorf("%w: want an object", format.ErrBadJSON))
	}
	if _, err := r.dec.ReadToken(); err != nil {
		return err
	}
	for r.dec.PeekKind() != '}' {
		tok, err := r.dec.ReadValue()
		if err != nil {
			return err
		}
		name, err := unquote(tok)
		if err != nil {
			return err
		}
		if err := checkCase(field, name, known); err != nil {
			return err
		}
		if err := fn(name); err != nil {
			return err
		}
	}
	_, err := r.dec.ReadToken()
	return err
}

// checkCase rejects a member name that equals a known one but for case.
func checkCase(field string, name []byte, known []string) error {
	for _, k := range known {
		if len(k) == len(name) && string(name) != k && strings.EqualFold(string(name), k) {
			path := k
			if field != "document" {
				path = field + "." + k
			}
			return fieldErr(path, fmt.Errorf("%w: %w: %q", format.ErrBadJSON, strictjson.ErrCaseMismatch, name))
		}
	}
	return nil
}

// scalar reads any value into f as raw text; null leaves f absent.
func (r *reader) scalar(f *rawField) error {
	if r.dec.PeekKind() == 'n' {
		_, err := r.dec.ReadToken()
		return err
	}
	v, err := r.dec.ReadValue()
	if err != nil {
		return err
	}
	*f = rawField{kind: v.Kind(), raw: r.input(v)}
	return nil
}

// input returns the bytes of v, the value just read, in r.data (located by
// the decoder's input offset), so that they stay valid after the decoder
// moves on.
func (r *reader) input(v jsontext.Value) []byte {
	end := int(r.dec.InputOffset())
	return r.data[end-len(v) : end : end]
}

// quoteObject reads a quote object into *q; null leaves *q nil.
func (r *reader) quoteObject(q **wireQuote, field string) error {
	if r.dec.PeekKind() == 'n' {
		_, err := r.dec.ReadToken()
		return err
	}
	w := new(wireQuote)
	err := r.object(field, quoteNames, func(name []byte) error {
		switch string(name) {
		case "signature":
			return r.bytesField(&w.signature, MaxSignatureSize)
		case "message":
			return r.bytesField(&w.message, MaxMessageSize)
		case "pcrs":
			return r.pcrs(w)
		}
		return r.dec.SkipValue()
	})
	if err != nil {
		return err
	}
	*q = w
	return nil
}

// bytesField reads a byte field: a string (hex, base64url or PEM,
// decoded later), or an array of integers 0..255 of at most max elements
// (v0).
func (r *reader) bytesField(f *rawField, max int) error {
	switch r.dec.PeekKind() {
	case 'n':
		_, err := r.dec.ReadToken()
		return err
	case '[':
		*f = rawField{kind: '['}
		return r.byteArray(f, max)
	}
	return r.scalar(f)
}

// byteArray reads an array into f.arr, recording in f.arrErr the first
// reason it is not an array of at most max integers 0..255. The decoder
// reads (and checks) the whole array as one value either way; the elements
// are then scanned from its text without a token per element.
func (r *reader) byteArray(f *rawField, max int) error {
	v, err := r.dec.ReadValue()
	if err != nil {
		return err
	}
	f.raw = r.input(v)
	f.arr, f.arrErr = scanByteArray(v, max)
	return nil
}

// scanByteArray returns the elements of v, the text of a JSON array that
// the decoder has already found well formed, as bytes: each must be an
// integer 0..255 written without fraction, exponent or sign (JSON allows
// no leading zero), and there may be at most max of them. The error names
// the first element that fails.
func scanByteArray(v []byte, max int) ([]byte, error) {
	out := make([]byte, 0, min(max, len(v)/2))
	i := 1 // after '['
	for idx := 0; ; idx++ {
		i = skipSpace(v, i)
		if i >= len(v) || v[i] == ']' {
			if len(out) == 0 {
				return nil, nil
			}
			return out[:len(out):len(out)], nil
		}
		n, j, ok := byteAt(v, i)
		if !ok || (j < len(v) && isNumberTail(v[j])) {
			return nil, errByte(numberToken(v, i), idx)
		}
		if idx >= max {
			return nil, fieldErr("", fmt.Errorf("%w: more than %d elements", format.ErrTooLarge, max))
		}
		out = append(out, byte(n))
		if i = skipSpace(v, j); i < len(v) && v[i] == ',' {
			i++
		}
	}
}

// isNumberTail reports whether c continues a JSON number after its
// integer digits (a fraction or exponent) or is a further digit.
func isNumberTail(c byte) bool {
	return c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')
}

// numberToken returns the JSON number starting at v[i], or an empty slice
// when the element there is not a number.
func numberToken(v []byte, i int) []byte {
	j := i
	for j < len(v) && strings.IndexByte("0123456789+-.eE", v[j]) >= 0 {
		j++
	}
	return v[i:j]
}

// skipSpace returns the index of the first byte of v at or after i that is
// not JSON white space.
func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\n' || v[i] == '\r' || v[i] == '\t') {
		i++
	}
	return i
}

func errByte(v []byte, idx int) error {
	if len(v) > 0 && strings.Trim(string(v), "0123456789") == "" {
		return fieldErr("", fmt.Errorf("%w: element %d out of range 0..255", format.ErrBadByte, idx))
	}
	return fieldErr("", fmt.Errorf("%w: element %d is not an integer 0..255", format.ErrBadByte, idx))
}

// pcrs reads "pcrs" into q: an array of strings (v1, v2) or of byte arrays
// (v0), at most MaxPCRs of them.
func (r *reader) pcrs(q *wireQuote) error {
	f := &q.pcrs
	switch r.dec.PeekKind() {
	case 'n':
		// null is not absence: decodeQuote rejects it (want an array).
		*f = rawField{kind: 'n'}
		_, err := r.dec.ReadToken()
		return err
	case '[':
	default:
		return r.scalar(f)
	}
	*f = rawField{kind: '['}
	if _, err := r.dec.ReadToken(); err != nil {
		return err
	}
	for r.dec.PeekKind() != ']' {
		var e rawField
		var err error
		if r.dec.PeekKind() == '[' {
			e.kind = '['
			err = r.byteArray(&e, PCRSize)
		} else {
			err = r.scalar(&e)
			if e.kind == 0 {
				e = rawField{kind: 'n', raw: []byte("null")}
			}
		}
		if err != nil {
			return err
		}
		if q.nPCRs >= MaxPCRs {
			if f.arrErr == nil {
				f.arrErr = fieldErr("", fmt.Errorf("%w: more than %d elements", format.ErrTooLarge, MaxPCRs))
			}
			continue
		}
		if e.kind == '[' {
			q.pcrElems[q.nPCRs] = pcrElem{kind: '[', raw: e.arr, arrErr: e.arrErr}
		} else {
			q.pcrElems[q.nPCRs] = pcrElem{kind: e.kind, raw: e.raw}
		}
		q.nPCRs++
	}
	_, err := r.dec.ReadToken()
	return err
}

// unquote returns the content of the JSON string token tok (valid, as the
// decoder returned it): a sub-slice without escapes, else a new slice.
func unquote(tok []byte) ([]byte, error) {
	s := tok[1 : len(tok)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	return jsontext.AppendUnquote(nil, tok)
}

// stringValue returns the content of a string field.
func stringValue(f *rawField, field string) ([]byte, error) {
	if f.kind != '"' {
		return nil, fieldErr(field, fmt.Errorf("%w: want a string", format.ErrBadJSON))
	}
	s, err := unquote(f.raw)
	if err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", format.ErrBadJSON, err))
	}
	return s, nil
}

// byteArray returns the elements of a byte-array field of at most max bytes.
func byteArrayField(f *rawField, field string) ([]byte, error) {
	if f.kind != '[' {
		return nil, fieldErr(field, fmt.Errorf("%w: want an array of numbers", format.ErrBadJSON))
	}
	if f.arrErr != nil {
		return nil, format.Rename(f.arrErr, field)
	}
	if f.arr == nil {
		return []byte{}, nil
	}
	return f.arr, nil
}

// hexField decodes a string of hex digits into at most max bytes.
func hexField(a *arena, f *rawField, field string, max int) ([]byte, error) {
	s, err := stringValue(f, field)
	if err != nil {
		return nil, err
	}
	if len(s) > 2*max {
		return nil, fieldErr(field, fmt.Errorf("%w: %d hex digits, at most %d bytes allowed", format.ErrTooLarge, len(s), max))
	}
	out := a.alloc(len(s) / 2)
	if _, err := hex.Decode(out, s); err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
	}
	return out, nil
}

// b64Field decodes a string of base64url, with or without padding, into
// at most max bytes. Non-canonical encodings are rejected, line breaks
// too: Go's decoder skips CR and LF (written "\n" or "\r" in the JSON
// string) even in Strict mode, which gave one value many encodings.
func b64Field(a *arena, f *rawField, field string, max int) ([]byte, error) {
	s, err := stringValue(f, field)
	if err != nil {
		return nil, err
	}
	if len(s) > base64.URLEncoding.EncodedLen(max) {
		return nil, fieldErr(field, fmt.Errorf("%w: %d base64 characters, at most %d bytes allowed", format.ErrTooLarge, len(s), max))
	}
	if err := format.NoLineBreak(s); err != nil {
		return nil, fieldErr(field, err)
	}
	enc := b64Encoding(s)
	out := a.alloc(enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: base64url: %v", format.ErrBadEncoding, err))
	}
	if n > max {
		return nil, fieldErr(field, fmt.Errorf("%w: %d bytes, at most %d allowed", format.ErrTooLarge, n, max))
	}
	return out[:n:n], nil
}

// b64Encoding is the strict base64url encoding of s: padded if s ends with
// '=' on a 4-character boundary, unpadded otherwise.
func b64Encoding(s []byte) *base64.Encoding {
	if b64Padded(s) {
		return strictB64
	}
	return strictRawB64
}

// The strict base64url encodings (never modified).
var (
	strictB64    = base64.URLEncoding.Strict()
	strictRawB64 = base64.RawURLEncoding.Strict()
)

// b64Padded says whether the base64 text s is padded.
func b64Padded(s []byte) bool {
	return len(s)%4 == 0 && len(s) > 0 && s[len(s)-1] == '='
}

// v0VCEKPEM is how strictly a v0 "vcek" is read: nothing but CERTIFICATE
// blocks without headers (the VCEK, possibly followed by ASK and ARK) and
// white space; text before, between or after them, or a block of another
// type, would ride along unseen.
var v0VCEKPEM = format.PEMChain{Format: "evidence", Field: "vcek", Min: 1, Max: 3, Padding: " \t\r\n"}

// pemCertificate returns the DER of the first CERTIFICATE block of the PEM
// text of a v0 "vcek" (see v0VCEKPEM) and those of the blocks after it
// (nil when there are none). Each is at most max bytes.
func pemCertificate(f *rawField, field string, max int) (first []byte, rest [][]byte, err error) {
	s, err := stringValue(f, field)
	if err != nil {
		return nil, nil, err
	}
	if len(s) == 0 {
		return nil, nil, nil
	}
	if len(s) > MaxPEMSize {
		return nil, nil, fieldErr(field, fmt.Errorf("%w: %d PEM bytes, at most %d allowed", format.ErrTooLarge, len(s), MaxPEMSize))
	}
	ders, err := v0VCEKPEM.SplitPEM(s)
	if err != nil {
		return nil, nil, err
	}
	for i, der := range ders {
		if len(der) == 0 {
			return nil, nil, fieldErr(field, fmt.Errorf("%w: empty CERTIFICATE block %d", format.ErrBadEncoding, i))
		}
		if len(der) > max {
			return nil, nil, fieldErr(field, fmt.Errorf("%w: %d-byte certificate, at most %d allowed", format.ErrTooLarge, len(der), max))
		}
	}
	if len(ders) > 1 {
		rest = ders[1:]
	}
	return ders[0], rest, nil
}

// pcrField returns the field name of PCR i.
func pcrField(prefix string, i int) string {
	return prefix + ".pcrs[" + strconv.Itoa(i) + "]"
}
