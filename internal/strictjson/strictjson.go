package strictjson

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Default bounds, used when an [Options] field is zero.
const (
	// DefaultMaxBytes bounds the input (1 MiB: the largest evidence document).
	DefaultMaxBytes = 1 << 20
	// DefaultMaxDepth bounds the nesting of objects and arrays. The deepest
	// format read here (v0 evidence inside a server request) nests 5 deep;
	// the underlying decoder's own limit, 10000, is far too generous.
	DefaultMaxDepth = 64
)

// Options bound and shape one decoding. The zero value applies the default
// bounds and tolerates unknown members.
type Options struct {
	// MaxBytes bounds the input size; zero or less means DefaultMaxBytes.
	MaxBytes int
	// MaxDepth bounds the nesting of objects and arrays (the top-level
	// value is depth 1); zero or less means DefaultMaxDepth.
	MaxDepth int
	// RejectUnknown makes a member that no struct field takes an error
	// ([ErrUnknownMember]), for formats that are ours.
	RejectUnknown bool
}

func (o Options) maxBytes() int {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

func (o Options) maxDepth() int {
	if o.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return o.MaxDepth
}

// decodeOptions are the go-json-experiment options of every decoding. The
// v2 defaults are already strict; they are spelled out so that no default
// can change under us.
func (o Options) decodeOptions() json.Options {
	if o.RejectUnknown {
		return closedOptions
	}
	return openOptions
}

// The two option sets, built once (json.Options values are immutable).
var (
	openOptions   = strictOptions(false)
	closedOptions = strictOptions(true)
)

func strictOptions(rejectUnknown bool) json.Options {
	return json.JoinOptions(
		jsontext.AllowDuplicateNames(false),
		jsontext.AllowInvalidUTF8(false),
		json.MatchCaseInsensitiveNames(false),
		json.RejectUnknownMembers(rejectUnknown),
		json.WithUnmarshalers(json.JoinUnmarshalers(
			json.UnmarshalFromFunc(canonicalBytes),
			json.UnmarshalFromFunc(signedInt[int]),
			json.UnmarshalFromFunc(signedInt[int64]),
		)),
	)
}

// signedInt decodes a JSON number into a signed integer as the v2 default
// does (an integer in range, no fraction or exponent), but refuses -0, a
// second spelling of 0 ("vmpl":-0). Other kinds are left to the default.
func signedInt[T int | int64](dec *jsontext.Decoder, v *T) error {
	if dec.PeekKind() != '0' {
		return errors.ErrUnsupported
	}
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &json.SemanticError{JSONKind: '0', GoType: reflect.TypeFor[T](), Err: err}
	}
	if string(val) == "-0" {
		return fail(errors.New("-0 is not how an integer is written (write 0)"))
	}
	n, err := strconv.ParseInt(string(val), 10, int(reflect.TypeFor[T]().Size())*8)
	if err != nil {
		if nerr, ok := errors.AsType[*strconv.NumError](err); ok {
			err = nerr.Err // "invalid syntax", "value out of range", as the default says
		}
		return fail(err)
	}
	*v = T(n)
	return nil
}

// canonicalBytes decodes a JSON string into a []byte as the v2 default
// does (standard base64, padded: RFC 4648 section 4), but in its one
// canonical form: the default accepts non-zero bits after the last byte
// ("AR==" for 0x01, a second spelling of "AQ=="). null and other kinds
// are left to the default (null is nil, anything else an error).
func canonicalBytes(dec *jsontext.Decoder, v *[]byte) error {
	if dec.PeekKind() != '"' {
		return errors.ErrUnsupported
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	b, err := format.Base64(base64.StdEncoding, tok.String())
	if err != nil {
		return &json.SemanticError{JSONKind: '"', GoType: reflect.TypeFor[[]byte](), Err: err}
	}
	*v = b
	return nil
}

// Error is a decoding failure.
type Error struct {
	// Kind is one of the package's sentinel errors.
	Kind error
	// Pointer is the JSON pointer (RFC 6901) of the offending value or
	// member, "" for the document itself or when unknown. It is cut to
	// a short prefix when long.
	Pointer string
	// Offset is the byte offset in the input where the problem was found,
	// or -1 when unknown.
	Offset int64
	// Detail says more where the decoder knows more (at most a short
	// prefix of it), or is empty.
	Detail string
}

// Error implements error, e.g.
// `json: duplicate object member name at "/keys/0/n" (byte 120)`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("json: ")
	b.WriteString(e.Kind.Error())
	if e.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(quoteShort(e.Pointer, maxQuoted))
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteByte(')')
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(format.Printable(e.Detail, maxDetail))
	}
	return b.String()
}

// Unwrap returns Kind, so errors.Is(err, ErrDuplicateKey) works.
func (e *Error) Unwrap() error { return e.Kind }

// Field returns the dotted field path of the pointer, e.g. "keys[0].n"
// for "/keys/0/n" (a token of digits is shown as an index), or "" for the
// document.
func (e *Error) Field() string { return PointerField(e.Pointer) }

// PointerField turns a JSON pointer into a dotted field path: "/keys/0/n"
// becomes "keys[0].n". A token of digits is shown as an index, whether it
// names an array element or an object member.
func PointerField(ptr string) string {
	if ptr == "" {
		return ""
	}
	var b strings.Builder
	for tok := range jsontext.Pointer(ptr).Tokens() {
		if tok != "" && strings.Trim(tok, "0123456789") == "" {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

// Limits of what an Error quotes. A member name may be all control
// characters, each of which quotes to several bytes, so the quoted pointer
// has a bound of its own.
const (
	maxPointer = 96
	maxDetail  = 160
	maxQuoted  = 112
)

// quoteShort quotes s as strconv.Quote does, cut (and marked "...") so
// that the result is at most n bytes plus the mark.
func quoteShort(s string, n int) string {
	q := strconv.Quote(s)
	if len(q) <= n {
		return q
	}
	s = s[:min(len(s), n)]
	for {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
		if q = strconv.Quote(s); len(q) <= n || s == "" {
			return q + "..."
		}
	}
}

func newError(kind error, ptr jsontext.Pointer, off int64, detail string) *Error {
	return &Error{Kind: kind, Pointer: format.Truncate(string(ptr), maxPointer), Offset: off, Detail: format.Truncate(detail, maxDetail)}
}

// Sentinel errors: the Kind of every [*Error]. Where a kind means what one
// of the module's shared format kinds means, it is that kind, so that
// errors.Is(err, format.ErrTooLarge) holds for JSON input too.
var (
	// ErrDuplicateKey means an object holds the same member name twice.
	ErrDuplicateKey = errors.New("duplicate object member name")
	// ErrInvalidUTF8 means a string or member name is not valid UTF-8, or
	// escapes a lone UTF-16 surrogate ("\ud800"), which UTF-8 cannot hold.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrTooDeep means objects and arrays nest deeper than the bound.
	ErrTooDeep = errors.New("nested too deep")

	// ErrSyntax means the input is not JSON (RFC 8259), or ends early.
	ErrSyntax error = format.ErrBadJSON
	// ErrTooLarge means the input is larger than the bound.
	ErrTooLarge error = format.ErrTooLarge
	// ErrTrailingData means something other than white space follows the value.
	ErrTrailingData error = format.ErrTrailingData

	// ErrUnknownMember means a member no field takes, where unknown members are rejected.
	ErrUnknownMember = errors.New("unknown object member")
	// ErrCaseMismatch means a member name equals a known one only if letter case is ignored.
	ErrCaseMismatch = errors.New("member name differs from a known one only in letter case")
	// ErrInvalidValue means a well-formed value does not fit its field
	// (wrong JSON kind, number out of range, bad base64, a field's own check).
	ErrInvalidValue = errors.New("invalid value")
)

// Unmarshal decodes the single JSON value of data into v (a non-nil
// pointer) as go-json-experiment's json.Unmarshal does, with the checks of
// the package documentation. Every failure is an [*Error].
func Unmarshal(data []byte, v any, o Options) error {
	if err := precheck(data, o); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v, o.decodeOptions()); err != nil {
		return classify(data, err)
	}
	return nil
}

// Decode runs fn on a decoder positioned before the single JSON value of
// data, for formats decoded token by token. fn must consume exactly that
// value. The decoder applies every check of the package documentation;
// unknown members are fn's business. Errors that fn returns from the
// decoder's methods come back as [*Error]; any other error of fn comes back
// unchanged.
func Decode(data []byte, o Options, fn func(dec *jsontext.Decoder) error) error {
	if err := precheck(data, o); err != nil {
		return err
	}
	t := funcTarget{fn: fn}
	err := json.Unmarshal(data, &t, o.decodeOptions())
	if t.err != nil {
		err = t.err
	}
	if err != nil {
		return classify(data, err)
	}
	return nil
}

// funcTarget runs a token-level decoding function inside json.Unmarshal
// (which pools its decoders and checks what follows the value) and keeps
// the function's own error, which Unmarshal would wrap.
type funcTarget struct {
	fn  func(dec *jsontext.Decoder) error
	err error
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (t *funcTarget) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	t.err = t.fn(dec)
	return t.err
}

// precheck applies the size and depth bounds before any decoding.
func precheck(data []byte, o Options) error {
	if max := o.maxBytes(); len(data) > max {
		return &Error{Kind: ErrTooLarge, Offset: int64(max), Detail: fmt.Sprintf("%d bytes, at most %d allowed", len(data), max)}
	}
	return checkDepth(data, o.maxDepth())
}

// checkDepth fails if objects and arrays in data nest deeper than max.
// Nesting cannot exceed the number of '{' and '[' bytes, which is counted
// fast; only inputs holding more of them than max are scanned, skipping
// strings. On malformed input the result may differ from the decoder's
// idea of depth, but such input is rejected either way.
func checkDepth(data []byte, max int) error {
	if bytes.Count(data, []byte{'{'})+bytes.Count(data, []byte{'['}) <= max {
		return nil
	}
	depth := 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return &Error{Kind: ErrTooDeep, Offset: int64(i), Detail: fmt.Sprintf("more than %d levels", max)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// kindName names a JSON value's kind in words: jsontext.Kind's String
// gives the first byte of objects and arrays ("{", "[") and "true" or
// "false" for a boolean.
func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return k.String()
}

// classify turns an error of the decoder into an *Error. Errors that did
// not come from the decoder are returned unchanged.
func classify(data []byte, err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if serr, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		off := serr.ByteOffset
		switch {
		case errors.Is(serr.Err, jsontext.ErrDuplicateName):
			return newError(ErrDuplicateKey, serr.JSONPointer, off, "")
		case off >= 0 && off < int64(len(data)) && invalidRuneAt(data[off:]):
			return newError(ErrInvalidUTF8, serr.JSONPointer, off, "")
		case off >= 0 && off < int64(len(data)) && surrogateEscapeAt(data[off:]):
			return newError(ErrInvalidUTF8, serr.JSONPointer, off, "a \\u escape of a UTF-16 surrogate that is not part of a pair")
		case errors.Is(serr.Err, io.ErrUnexpectedEOF):
			return newError(ErrSyntax, serr.JSONPointer, off, "unexpected end of input")
		case serr.JSONPointer == "" && off > 0 && off <= int64(len(data)) && jsontext.Value(bytes.TrimSpace(data[:off])).IsValid():
			return newError(ErrTrailingData, "", off, "")
		}
		return newError(ErrSyntax, serr.JSONPointer, off, detail(serr.Err))
	}
	if serr, ok := errors.AsType[*json.SemanticError](err); ok {
		switch {
		case errors.Is(serr.Err, json.ErrUnknownName):
			return newError(ErrUnknownMember, serr.JSONPointer, serr.ByteOffset, "")
		case errors.Is(serr.Err, ErrCaseMismatch):
			return newError(ErrCaseMismatch, serr.JSONPointer, serr.ByteOffset, detail(serr.Err))
		}
		what := "JSON " + kindName(serr.JSONKind)
		if serr.JSONKind == 0 {
			what = "value"
		}
		d := what
		if serr.GoType != nil {
			d += " for Go " + serr.GoType.String()
		}
		if serr.Err != nil {
			d += ": " + detail(serr.Err)
		}
		if r := integerRange(serr); r != "" {
			d += " (want " + r + ")"
		}
		return newError(ErrInvalidValue, serr.JSONPointer, serr.ByteOffset, d)
	}
	return err
}

// integerRange names the numbers a Go integer field takes ("a whole number
// from 0 to 255") when a JSON number did not parse as one (a sign, a
// fraction or an exponent, or out of range), whose own message says only
// "invalid syntax" or "value out of range"; "" otherwise.
func integerRange(serr *json.SemanticError) string {
	if serr.JSONKind != '0' || serr.GoType == nil ||
		!(errors.Is(serr.Err, strconv.ErrSyntax) || errors.Is(serr.Err, strconv.ErrRange)) {
		return ""
	}
	t := serr.GoType
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("a whole number from 0 to %d", ^uint64(0)>>(64-t.Bits()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("a whole number from %d to %d", -(int64(1) << (t.Bits() - 1)), int64(1)<<(t.Bits()-1)-1)
	}
	return ""
}

// detail is an error's message cut short, or "" for nil.
func detail(err error) string {
	if err == nil {
		return ""
	}
	return format.Truncate(err.Error(), maxDetail)
}

// surrogateEscapeAt reports whether b starts with a \u escape of a UTF-16
// surrogate (U+D800..U+DFFF): where the decoder stops at one, it is a half
// of a pair without its other half, which no UTF-8 text can hold.
func surrogateEscapeAt(b []byte) bool {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return false
	}
	v, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return err == nil && v >= 0xD800 && v <= 0xDFFF
}

// invalidRuneAt reports whether b starts with an invalid UTF-8 sequence.
func invalidRuneAt(b []byte) bool {
	r, size := utf8.DecodeRune(b)
	return r == utf8.RuneError && size <= 1
}

// Unknown collects the unknown members of a struct, so that a format that
// tolerates unknown members can still reject near-misses. Give the struct
// a field tagged "embed", which makes it the struct's "embedded fallback"
// in encoding/json/v2 terms:
//
//	type wire struct {
//		Known   string                   `json:"known"`
//		Unknown strictjson.Unknown[wire] `json:",embed"`
//	}
//
// (staticcheck, which knows only encoding/json's tag options, needs a
// "//lint:ignore SA5008" line above that field)
// where T is the struct type whose member names are known (the struct
// itself, or the struct it embeds). Each unknown member's value is checked
// (syntax, UTF-8, duplicates, depth) and dropped; only its name is kept.
// A name that equals one of T's member names but for letter case ("Keys"
// for "keys") fails with [ErrCaseMismatch].
type Unknown[T any] map[string]unknownValue[T]

// unknownValue is the value of an Unknown member: nothing is kept.
type unknownValue[T any] struct{}

// UnmarshalJSONFrom implements json.UnmarshalerFrom: it checks the member
// name (the last token of the decoder's pointer) and skips the value.
func (*unknownValue[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	name := dec.StackPointer().LastToken()
	if known, ok := caseVariant(reflect.TypeFor[T](), name); ok {
		return fmt.Errorf("%w (%q)", ErrCaseMismatch, known)
	}
	return dec.SkipValue()
}

// caseVariant returns the member name of struct type t that name equals
// but for letter case.
func caseVariant(t reflect.Type, name string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag, hasTag := f.Tag.Lookup("json")
		n, opts, _ := strings.Cut(tag, ",")
		switch {
		case hasTag && n == "-" && opts == "":
			continue
		case (hasOption(opts, "embed") || f.Anonymous) && n == "":
			// An embedded struct's members are the struct's; an embedded
			// map or jsontext.Value is the fallback, which has no names.
			if known, ok := caseVariant(f.Type, name); ok {
				return known, true
			}
			continue
		case n == "":
			n = f.Name
		}
		if n != name && strings.EqualFold(n, name) {
			return n, true
		}
	}
	return "", false
}

func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
