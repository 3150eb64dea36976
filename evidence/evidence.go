package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/snp-vtpm/snp-vtpm/quote"
)

// Limits applied while decoding. Real evidence is far below all of them.
const (
	// MaxEvidenceSize bounds the encoded evidence given to Decode and
	// DecodeBincodeQuote ([ErrTooLarge]).
	MaxEvidenceSize = 1 << 20
	// MaxMessageSize bounds the TPMS_ATTEST message (real quotes: 116..161 bytes).
	MaxMessageSize = 4096
	// MaxSignatureSize bounds the quote signature (RSA-2048: 256 bytes).
	MaxSignatureSize = 4096
	// MaxPCRs is the number of PCRs a quote may carry (PCR 0..23).
	MaxPCRs = 24
	// PCRSize is the size of a SHA-256 PCR value; every PCR must have it.
	PCRSize = 32
	// MaxHCLReportSize bounds the HCL report (real NV indices: 2048..2900 bytes).
	MaxHCLReportSize = 64 << 10
	// MaxVCEKSize bounds the DER VCEK (real ones: about 1.3 KiB).
	MaxVCEKSize = 16 << 10
	// MaxPEMSize bounds the PEM text of a v0 "vcek" (a VCEK, ASK, ARK stack is about 6.5 KiB).
	MaxPEMSize = 64 << 10
	// MaxTDQuoteSize bounds a TDX quote (real ones with PCK chain: about 5 KiB).
	MaxTDQuoteSize = 64 << 10
)

// Evidence is attestation evidence from an Azure CVM, whatever format it was
// read from.
type Evidence struct {
	// Version is the format version read: 0 (no "version" field), 1 or 2.
	// In version 2 the HCL report was refreshed with the nonce as user data.
	Version int
	// Quote is the TPM quote: Message (TPMS_ATTEST), Signature, PCRs
	// (index i = PCR i, 32 bytes each).
	Quote quote.Quote
	// HCLReport is the content of NV index 0x01400001 (see package hcl).
	HCLReport []byte
	// VCEK is the DER VCEK certificate if the evidence carries one, nil
	// otherwise. From v0 PEM, it is the first CERTIFICATE block.
	VCEK []byte
	// TDQuote is the TDX quote of TDX evidence, nil otherwise.
	TDQuote []byte
}

// wire is every known top-level field of every format, as raw JSON values
// (sub-slices of the input; nil if absent or null).
type wire struct {
	Version   []byte
	Quote     *wireQuote // v0
	TPMQuote  *wireQuote // v0 TDX, v1, v2
	Report    []byte     // v0
	HCLReport []byte
	VCEK      []byte
	TDQuote   []byte

	// hclDecoded and vcekDecoded are HCLReport and VCEK already decoded
	// (from a Decoder's memory), nil otherwise.
	hclDecoded, vcekDecoded []byte
}

type wireQuote struct {
	Signature []byte
	Message   []byte
	PCRs      []byte
}

// parseWire splits the top-level object into its known fields. Unknown
// fields are ignored; a known field given twice is an error.
func parseWire(b []byte) (*wire, error) {
	var w wire
	var seen [7]bool
	err := walkObject(b, "document", func(key, val []byte) error {
		var err error
		switch string(key) {
		case "version":
			return setOnce(&w.Version, &seen[0], "version", val)
		case "quote":
			if seen[1] {
				return fieldErr("quote", fmt.Errorf("%w: duplicate key", ErrBadJSON))
			}
			seen[1] = true
			w.Quote, err = parseWireQuote(val, "quote")
		case "tpm_quote":
			if seen[2] {
				return fieldErr("tpm_quote", fmt.Errorf("%w: duplicate key", ErrBadJSON))
			}
			seen[2] = true
			w.TPMQuote, err = parseWireQuote(val, "tpm_quote")
		case "report":
			return setOnce(&w.Report, &seen[3], "report", val)
		case "hcl_report":
			return setOnce(&w.HCLReport, &seen[4], "hcl_report", val)
		case "vcek":
			return setOnce(&w.VCEK, &seen[5], "vcek", val)
		case "td_quote":
			return setOnce(&w.TDQuote, &seen[6], "td_quote", val)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// parseWireQuote splits a quote object; nil (JSON null) gives nil.
func parseWireQuote(raw []byte, field string) (*wireQuote, error) {
	if raw == nil {
		return nil, nil
	}
	var q wireQuote
	var seen [3]bool
	err := walkObject(raw, field, func(key, val []byte) error {
		switch string(key) {
		case "signature":
			return setOnce(&q.Signature, &seen[0], field+".signature", val)
		case "message":
			return setOnce(&q.Message, &seen[1], field+".message", val)
		case "pcrs":
			return setOnce(&q.PCRs, &seen[2], field+".pcrs", val)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// Decode reads evidence in any known format (see the package documentation):
// "version" 1 or 2 selects v1/v2; without "version", "quote" selects v0 and
// "tpm_quote" the TDX v0 shape. Fields of another format are rejected,
// unknown fields are ignored, keys match exactly (case-sensitively) and a
// known key may appear only once. Byte arrays of v0 must hold integers
// 0..255; base64url may be padded or not but must be canonical. The input is
// bounded by [MaxEvidenceSize], element counts and sizes by the other Max
// constants, and every PCR must be [PCRSize] bytes. The result never aliases
// b. Decode checks the format only, not any signature or binding. Errors are
// [*FormatError].
func Decode(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fieldErr("document", fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(b), MaxEvidenceSize))
	}
	// Fast path: one validating pass (scanWire), then the fields decoded
	// into one allocation. Anything it does not accept, and every error,
	// goes through the slow path, which defines the result.
	if w, ok := scanWire(b, nil); ok {
		if e, err := decodeWire(&w, newArena(&w)); err == nil {
			return e, nil
		}
	}
	return decodeSlow(b)
}

// decodeSlow is Decode without the fast path: json.Valid, then parseWire,
// then the fields. It defines Decode's result for every input.
func decodeSlow(b []byte) (*Evidence, error) {
	if !json.Valid(b) {
		return nil, fieldErr("document", fmt.Errorf("%w: %v", ErrBadJSON, jsonSyntaxError(b)))
	}
	w, err := parseWire(b)
	if err != nil {
		return nil, err
	}
	return decodeWire(w, nil)
}

// decodeWire decodes the fields of w, allocating from a (nil: make).
func decodeWire(w *wire, a *arena) (*Evidence, error) {
	switch {
	case w.Version != nil:
		return decodeV1(w, a)
	case w.Quote != nil:
		return decodeV0(w, a)
	case w.TPMQuote != nil:
		return decodeV0TDX(w, a)
	}
	return nil, fieldErr("document", fmt.Errorf("%w: none of \"version\", \"quote\", \"tpm_quote\"", ErrUnknownFormat))
}

// arena hands out sub-slices of one allocation, so that the byte fields of
// a decoded Evidence cost one allocation. Every slice is capped at its
// length: appending to one never overwrites another.
type arena struct{ buf []byte }

// newArena sizes an arena for the fields of w: what base64 (3/4) and hex
// (1/2) decode to at most in v1/v2, the element counts of v0's byte arrays
// (as byteArrayIn counts them), and the PCRs.
func newArena(w *wire) *arena {
	n := 0
	if w.Version != nil {
		for _, f := range [...][]byte{w.HCLReport, w.VCEK, w.TDQuote} {
			n += len(f)/4*3 + 3
		}
		if w.hclDecoded != nil {
			n -= len(w.HCLReport) / 4 * 3
		}
		if w.vcekDecoded != nil {
			n -= len(w.VCEK) / 4 * 3
		}
		if q := w.TPMQuote; q != nil {
			n += len(q.Signature)/2 + len(q.Message)/2 + MaxPCRs*PCRSize
		}
	} else {
		elems := func(f []byte) int {
			if f == nil {
				return 0
			}
			return bytes.Count(f, []byte{','}) + 1
		}
		n = elems(w.Report) + elems(w.HCLReport) + elems(w.TDQuote)
		for _, q := range [...]*wireQuote{w.Quote, w.TPMQuote} {
			if q != nil {
				n += elems(q.Signature) + elems(q.Message) + MaxPCRs*PCRSize
			}
		}
	}
	return &arena{buf: make([]byte, min(n, MaxEvidenceSize))}
}

// alloc returns n zero bytes, from the arena while it has room.
func (a *arena) alloc(n int) []byte {
	if a == nil || n > len(a.buf) {
		return make([]byte, n)
	}
	s := a.buf[:n:n]
	a.buf = a.buf[n:]
	return s
}

type presence struct {
	name    string
	present bool
}

// unexpected rejects fields that belong to another format version.
func unexpected(fields ...presence) error {
	for _, f := range fields {
		if f.present {
			return fieldErr(f.name, ErrUnexpectedField)
		}
	}
	return nil
}

func decodeV0(w *wire, a *arena) (*Evidence, error) {
	if err := unexpected(presence{"tpm_quote", w.TPMQuote != nil}, presence{"hcl_report", w.HCLReport != nil},
		presence{"td_quote", w.TDQuote != nil}); err != nil {
		return nil, err
	}
	e := &Evidence{Version: 0}
	var err error
	if e.Quote, err = decodeQuote(a, w.Quote, "quote", true); err != nil {
		return nil, err
	}
	if e.HCLReport, err = requiredArray(a, w.Report, "report", MaxHCLReportSize); err != nil {
		return nil, err
	}
	if w.VCEK != nil {
		if e.VCEK, err = pemCertificate(w.VCEK, "vcek", MaxVCEKSize); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func decodeV0TDX(w *wire, a *arena) (*Evidence, error) {
	if err := unexpected(presence{"report", w.Report != nil}, presence{"vcek", w.VCEK != nil}); err != nil {
		return nil, err
	}
	e := &Evidence{Version: 0}
	var err error
	if e.Quote, err = decodeQuote(a, w.TPMQuote, "tpm_quote", true); err != nil {
		return nil, err
	}
	if e.HCLReport, err = requiredArray(a, w.HCLReport, "hcl_report", MaxHCLReportSize); err != nil {
		return nil, err
	}
	if e.TDQuote, err = requiredArray(a, w.TDQuote, "td_quote", MaxTDQuoteSize); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeV1(w *wire, a *arena) (*Evidence, error) {
	e := new(Evidence)
	switch string(w.Version) {
	case "1":
		e.Version = 1
	case "2":
		e.Version = 2
	default:
		v := string(w.Version)
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return nil, fieldErr("version", fmt.Errorf("%w (%s)", ErrUnsupportedVersion, v))
	}
	if err := unexpected(presence{"quote", w.Quote != nil}, presence{"report", w.Report != nil}); err != nil {
		return nil, err
	}
	if w.TPMQuote == nil {
		return nil, fieldErr("tpm_quote", ErrMissingField)
	}
	var err error
	if e.Quote, err = decodeQuote(a, w.TPMQuote, "tpm_quote", false); err != nil {
		return nil, err
	}
	if w.HCLReport == nil {
		return nil, fieldErr("hcl_report", ErrMissingField)
	}
	if w.hclDecoded != nil {
		e.HCLReport = w.hclDecoded
	} else if e.HCLReport, err = b64StringIn(a, w.HCLReport, "hcl_report", MaxHCLReportSize); err != nil {
		return nil, err
	}
	if len(e.HCLReport) == 0 {
		return nil, errEmpty("hcl_report")
	}
	if w.VCEK != nil {
		if w.vcekDecoded != nil {
			e.VCEK = w.vcekDecoded
		} else if e.VCEK, err = b64StringIn(a, w.VCEK, "vcek", MaxVCEKSize); err != nil {
			return nil, err
		}
		if len(e.VCEK) == 0 {
			e.VCEK = nil
		}
	}
	if w.TDQuote != nil {
		if e.TDQuote, err = b64StringIn(a, w.TDQuote, "td_quote", MaxTDQuoteSize); err != nil {
			return nil, err
		}
		if len(e.TDQuote) == 0 {
			return nil, errEmpty("td_quote")
		}
	}
	return e, nil
}

func errEmpty(field string) error {
	return fieldErr(field, fmt.Errorf("%w (empty)", ErrMissingField))
}

// requiredArray decodes a required, non-empty JSON byte array.
func requiredArray(a *arena, raw []byte, field string, max int) ([]byte, error) {
	if raw == nil {
		return nil, fieldErr(field, ErrMissingField)
	}
	b, err := byteArrayIn(a, raw, field, max)
	if err == nil && len(b) == 0 {
		return nil, errEmpty(field)
	}
	return b, err
}

// decodeQuote decodes a quote object: byte arrays (v0) or hex strings (v1,
// v2). Field names for errors are built only on failure.
func decodeQuote(a *arena, w *wireQuote, prefix string, arrays bool) (quote.Quote, error) {
	var q quote.Quote
	field := func(name string, raw []byte, max int) ([]byte, error) {
		if raw == nil {
			return nil, fieldErr(prefix+"."+name, ErrMissingField)
		}
		var b []byte
		var err error
		if arrays {
			b, err = byteArrayIn(a, raw, "", max)
		} else {
			b, err = hexStringIn(a, raw, "", max)
		}
		if err != nil {
			return nil, renamed(err, prefix+"."+name)
		}
		if len(b) == 0 {
			return nil, errEmpty(prefix + "." + name)
		}
		return b, nil
	}
	var err error
	if q.Signature, err = field("signature", w.Signature, MaxSignatureSize); err != nil {
		return q, err
	}
	if q.Message, err = field("message", w.Message, MaxMessageSize); err != nil {
		return q, err
	}
	if w.PCRs == nil {
		return q, fieldErr(prefix+".pcrs", ErrMissingField)
	}
	elems, err := splitArray(w.PCRs, prefix+".pcrs", MaxPCRs)
	if err != nil {
		return q, err
	}
	buf := a.alloc(len(elems) * PCRSize)
	q.PCRs = make([][]byte, len(elems))
	for i, raw := range elems {
		ef := func() string { return prefix + ".pcrs[" + strconv.Itoa(i) + "]" }
		pcr := buf[i*PCRSize : (i+1)*PCRSize : (i+1)*PCRSize]
		n := 0
		if arrays {
			got, err := appendByteArray(pcr[:0], raw, "", PCRSize)
			if err != nil {
				return q, renamed(err, ef())
			}
			n = len(got)
		} else {
			s, err := stringValue(raw, "")
			if err != nil {
				return q, renamed(err, ef())
			}
			if len(s) != 2*PCRSize {
				return q, fieldErr(ef(), fmt.Errorf("%w (%d hex digits, want %d)", ErrBadLength, len(s), 2*PCRSize))
			}
			if n, err = hex.Decode(pcr, s); err != nil {
				return q, fieldErr(ef(), fmt.Errorf("%w: %v", ErrBadEncoding, err))
			}
		}
		if n != PCRSize {
			return q, fieldErr(ef(), fmt.Errorf("%w (%d bytes, want %d)", ErrBadLength, n, PCRSize))
		}
		q.PCRs[i] = pcr
	}
	return q, nil
}

// renamed sets the field of a *FormatError made with a placeholder name.
func renamed(err error, field string) error {
	if fe, ok := err.(*FormatError); ok {
		fe.Field = field
	}
	return err
}

// Encode writes e in the v1/v2 JSON format:
//
//	{"version":V,"tpm_quote":{"signature":hex,"message":hex,"pcrs":[hex,...]},
//	 "hcl_report":base64url,"vcek":base64url,"td_quote":base64url}
//
// with padded base64url, lower-case hex, and "vcek" / "td_quote" omitted when
// nil. V is e.Version when it is 1 or 2. Version 0 is written as 1: v0 and v1
// carry the same claims, whereas "version":2 asserts that the HCL report was
// refreshed with the nonce as user data, which only the attester that did so
// may claim (it sets Version to 2).
//
// Encode refuses evidence that [Decode] would reject (missing or oversized
// fields, PCRs that are not 32 bytes, more than 24 PCRs), so
// Decode(Encode(e)) always reproduces e's bytes.
func (e *Evidence) Encode() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	v := e.Version
	if v == 0 {
		v = 1
	}
	b64 := base64.URLEncoding
	size := 128 + 2*len(e.Quote.Signature) + 2*len(e.Quote.Message) + len(e.Quote.PCRs)*(2*PCRSize+3) +
		b64.EncodedLen(len(e.HCLReport)) + b64.EncodedLen(len(e.VCEK)) + b64.EncodedLen(len(e.TDQuote))
	out := make([]byte, 0, size)
	out = append(out, `{"version":`...)
	out = strconv.AppendInt(out, int64(v), 10)
	out = append(out, `,"tpm_quote":{"signature":"`...)
	out = hex.AppendEncode(out, e.Quote.Signature)
	out = append(out, `","message":"`...)
	out = hex.AppendEncode(out, e.Quote.Message)
	out = append(out, `","pcrs":[`...)
	for i, p := range e.Quote.PCRs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = hex.AppendEncode(out, p)
		out = append(out, '"')
	}
	out = append(out, `]},"hcl_report":"`...)
	out = b64.AppendEncode(out, e.HCLReport)
	out = append(out, '"')
	if e.VCEK != nil {
		out = append(out, `,"vcek":"`...)
		out = b64.AppendEncode(out, e.VCEK)
		out = append(out, '"')
	}
	if e.TDQuote != nil {
		out = append(out, `,"td_quote":"`...)
		out = b64.AppendEncode(out, e.TDQuote)
		out = append(out, '"')
	}
	out = append(out, '}')
	if len(out) > MaxEvidenceSize {
		return nil, fieldErr("document", fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(out), MaxEvidenceSize))
	}
	return out, nil
}

// check applies Decode's limits to e.
func (e *Evidence) check() error {
	if e.Version < 0 || e.Version > 2 {
		return fieldErr("version", fmt.Errorf("%w (%d)", ErrUnsupportedVersion, e.Version))
	}
	sized := []struct {
		name     string
		b        []byte
		max      int
		required bool
	}{
		{"tpm_quote.signature", e.Quote.Signature, MaxSignatureSize, true},
		{"tpm_quote.message", e.Quote.Message, MaxMessageSize, true},
		{"hcl_report", e.HCLReport, MaxHCLReportSize, true},
		{"vcek", e.VCEK, MaxVCEKSize, false},
		{"td_quote", e.TDQuote, MaxTDQuoteSize, false},
	}
	for _, f := range sized {
		if len(f.b) > f.max {
			return fieldErr(f.name, fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(f.b), f.max))
		}
		if len(f.b) == 0 && (f.required || f.b != nil) {
			return errEmpty(f.name)
		}
	}
	if len(e.Quote.PCRs) > MaxPCRs {
		return fieldErr("tpm_quote.pcrs", fmt.Errorf("%w (%d > %d PCRs)", ErrTooLarge, len(e.Quote.PCRs), MaxPCRs))
	}
	for i, p := range e.Quote.PCRs {
		if len(p) != PCRSize {
			return fieldErr("tpm_quote.pcrs["+strconv.Itoa(i)+"]", fmt.Errorf("%w (%d bytes, want %d)", ErrBadLength, len(p), PCRSize))
		}
	}
	return nil
}

// DecodeQuoteJSON decodes a standalone TPM quote object, the TpmQuote JSON of
// the Confidential Containers tooling: {"signature":..,"message":..,"pcrs":[..]}
// with hex strings (as in v1/v2 evidence) or byte arrays (as in v0). The
// form is taken from "message". Limits and errors are those of [Decode].
func DecodeQuoteJSON(b []byte) (*quote.Quote, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fieldErr("quote", fmt.Errorf("%w (%d > %d bytes)", ErrTooLarge, len(b), MaxEvidenceSize))
	}
	if !json.Valid(b) {
		return nil, fieldErr("quote", fmt.Errorf("%w: %v", ErrBadJSON, jsonSyntaxError(b)))
	}
	w, err := parseWireQuote(b, "quote")
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fieldErr("quote", fmt.Errorf("%w: want an object", ErrBadJSON))
	}
	arrays := len(w.Message) > 0 && w.Message[0] == '['
	q, err := decodeQuote(nil, w, "quote", arrays)
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// jsonSyntaxError describes why b is not valid JSON (called only on the
// error path, after json.Valid failed).
func jsonSyntaxError(b []byte) error {
	var v struct{}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}
