package evidence

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/strictjson"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// Limits applied while decoding. Real evidence is far below all of them.
const (
	// MaxEvidenceSize bounds the encoded evidence given to Decode and
	// DecodeBincodeQuote ([format.ErrTooLarge]).
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
	// MaxEventLogSize bounds the TCG boot event log (real UEFI logs: 20..50
	// KiB; its base64url must fit in MaxEvidenceSize).
	MaxEventLogSize = 512 << 10
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
	// VCEKChain holds the DER certificates that follow the VCEK in a v0
	// "vcek" PEM stack (the ASK, or the ASVK of a VLEK, then the ARK, as
	// trustee's vcek.pem stacks them), nil otherwise. Nothing signs them
	// for the verifier, which requires them to be the certificates of the
	// chain that verified the VCEK (package verify: vcek-chain). Encode
	// does not write them: the v1/v2 "vcek" is the certificate alone.
	VCEKChain [][]byte
	// TDQuote is the TDX quote of TDX evidence, nil otherwise.
	TDQuote []byte
	// EventLog is the TCG boot event log ("event_log", v1/v2 only: the
	// content of /sys/kernel/security/tpm0/binary_bios_measurements), nil
	// when the evidence carries none. Nothing signs it: it is worth only
	// what its replay against the quoted PCRs proves (package eventlog).
	EventLog []byte

	// memo says which fields a Decoder may remember once the evidence
	// verified (see Decoder.Remember).
	memo memoState
}

// Decode reads evidence in any known format (see the package documentation):
// "version" 1 or 2 selects v1/v2; without "version", "quote" selects v0 and
// "tpm_quote" the TDX v0 shape. Fields of another format are rejected.
//
// The document is read by the module's one strict JSON decoder
// (internal/strictjson): duplicate member names at any depth, invalid
// UTF-8, data after the object and nesting deeper than 64 are rejected.
// Unknown members are tolerated (other tooling adds its own) but names
// match exactly, and a name that differs from a known one only in letter
// case ("Quote") is rejected. Byte arrays of v0 must hold integers 0..255;
// base64url may be padded or not but must be canonical. The input is
// bounded by [MaxEvidenceSize], element counts and sizes by the other Max
// constants, and every PCR must be [PCRSize] bytes. The result never aliases
// b. Decode checks the format only, not any signature or binding. Errors are
// [*FormatError]; those of the JSON layer wrap [format.ErrBadJSON] and a
// *strictjson.Error.
func Decode(b []byte) (*Evidence, error) {
	return decode(b, nil)
}

// decode is Decode with a memo of decoded fields (nil: none).
func decode(b []byte, m *memo) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fieldErr("document", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(b), MaxEvidenceSize))
	}
	var w wire
	if err := readWire(b, m, &w); err != nil {
		return nil, err
	}
	w.recall(m)
	return decodeWire(&w, newArena(&w))
}

// decodeWire decodes the fields of w, allocating from a (nil: make).
func decodeWire(w *wire, a *arena) (*Evidence, error) {
	switch {
	case w.version.present():
		return decodeV1(w, a)
	case w.quote != nil:
		return decodeV0(w, a)
	case w.tpmQuote != nil:
		return decodeV0TDX(w, a)
	}
	return nil, fieldErr("document", fmt.Errorf("%w: none of \"version\", \"quote\", \"tpm_quote\"", ErrUnknownFormat))
}

// arena hands out sub-slices of one allocation, so that the byte fields of
// decoded v1/v2 evidence cost one allocation. Every slice is capped at its
// length: appending to one never overwrites another.
type arena struct{ buf []byte }

// newArena sizes an arena for the string fields of v1/v2 evidence: what
// base64 (3/4) and hex (1/2) decode to at most, and the PCRs. v0 byte
// arrays were collected while reading and need none.
func newArena(w *wire) *arena {
	if !w.version.present() {
		return nil
	}
	n := 0
	for _, f := range [...]*rawField{&w.hclReport, &w.vcek, &w.tdQuote} {
		if f.decoded == nil {
			n += len(f.raw)/4*3 + 3
		}
	}
	if q := w.tpmQuote; q != nil {
		n += len(q.signature.raw)/2 + len(q.message.raw)/2 + MaxPCRs*PCRSize
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
			return fieldErr(f.name, format.ErrUnexpectedField)
		}
	}
	return nil
}

func decodeV0(w *wire, a *arena) (*Evidence, error) {
	if err := unexpected(presence{"tpm_quote", w.tpmQuote != nil}, presence{"hcl_report", w.hclReport.present()},
		presence{"td_quote", w.tdQuote.present()}, presence{"event_log", w.eventLog.present()}); err != nil {
		return nil, err
	}
	e, err := decodeV0Common(w, a, w.quote, "quote", &w.report, "report")
	if err != nil {
		return nil, err
	}
	switch {
	case w.vcek.decoded != nil:
		e.VCEK, e.memo.vcekFromMemo = w.vcek.decoded, true
	case w.vcek.present():
		if e.VCEK, e.VCEKChain, err = pemCertificate(&w.vcek, "vcek", MaxVCEKSize); err != nil {
			return nil, err
		}
		e.memo.vcek = keptText(w, &w.vcek, memoVCEKPEM)
	}
	return e, nil
}

// decodeV0Common decodes what both v0 layouts carry: the quote q (member
// qName) and the HCL report's byte array (member hclName), with their memos.
func decodeV0Common(w *wire, a *arena, q *wireQuote, qName string, hclArr *rawField, hclName string) (*Evidence, error) {
	e := &Evidence{Version: 0}
	var err error
	if e.Quote, err = decodeQuote(a, q, qName, true); err != nil {
		return nil, err
	}
	e.memo.pcrsFromMemo = q.pcrsFromMemo
	if !e.memo.pcrsFromMemo {
		e.memo.pcrs = keptText(w, &q.pcrs, memoPCRArrays)
	}
	if e.HCLReport, err = requiredArray(hclArr, hclName); err != nil {
		return nil, err
	}
	e.memo.hclFromMemo = hclArr.arrFromMemo
	if !e.memo.hclFromMemo {
		e.memo.hcl = keptText(w, hclArr, memoHCLArray)
	}
	return e, nil
}

func decodeV0TDX(w *wire, a *arena) (*Evidence, error) {
	if err := unexpected(presence{"report", w.report.present()}, presence{"vcek", w.vcek.present()},
		presence{"event_log", w.eventLog.present()}); err != nil {
		return nil, err
	}
	e, err := decodeV0Common(w, a, w.tpmQuote, "tpm_quote", &w.hclReport, "hcl_report")
	if err != nil {
		return nil, err
	}
	if e.TDQuote, err = requiredArray(&w.tdQuote, "td_quote"); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeV1(w *wire, a *arena) (*Evidence, error) {
	e := new(Evidence)
	switch string(w.version.raw) {
	case "1":
		e.Version = 1
	case "2":
		e.Version = 2
	default:
		v := string(w.version.raw)
		if len(v) > 20 {
			v = v[:20] + "..."
		}
		return nil, fieldErr("version", fmt.Errorf("%w (%s)", format.ErrUnsupportedVersion, v))
	}
	if err := unexpected(presence{"quote", w.quote != nil}, presence{"report", w.report.present()}); err != nil {
		return nil, err
	}
	if w.tpmQuote == nil {
		return nil, fieldErr("tpm_quote", format.ErrMissingField)
	}
	var err error
	if e.Quote, err = decodeQuote(a, w.tpmQuote, "tpm_quote", false); err != nil {
		return nil, err
	}
	if !w.hclReport.present() {
		return nil, fieldErr("hcl_report", format.ErrMissingField)
	}
	if e.HCLReport, e.memo.hclFromMemo, err = memoOrB64(a, &w.hclReport, "hcl_report", MaxHCLReportSize); err != nil {
		return nil, err
	}
	if len(e.HCLReport) == 0 {
		return nil, errEmpty("hcl_report")
	}
	e.memo.hcl = memoable(&w.hclReport, memoHCL)
	if w.vcek.present() {
		if e.VCEK, e.memo.vcekFromMemo, err = memoOrB64(a, &w.vcek, "vcek", MaxVCEKSize); err != nil {
			return nil, err
		}
		if len(e.VCEK) == 0 {
			e.VCEK = nil
		}
		e.memo.vcek = memoable(&w.vcek, memoVCEK)
	}
	if e.TDQuote, err = optionalB64(a, &w.tdQuote, "td_quote", MaxTDQuoteSize); err != nil {
		return nil, err
	}
	if err := e.checkPlatformMembers(w.vcek.present()); err != nil {
		return nil, err
	}
	if e.EventLog, err = optionalB64(a, &w.eventLog, "event_log", MaxEventLogSize); err != nil {
		return nil, err
	}
	return e, nil
}

// CheckPlatformMembers returns the error Decode gives evidence whose
// members are of both platforms (a VCEK beside a TD quote), nil
// otherwise: for a caller that builds an Evidence itself
// (verify.Verifier.Decoded checks it, as Encode does).
func (e *Evidence) CheckPlatformMembers() error {
	return e.checkPlatformMembers(e.VCEK != nil || e.VCEKChain != nil)
}

// checkPlatformMembers refuses a "vcek" (hasVCEK) beside a TD quote: TDX
// evidence carries "td_quote" instead of "vcek", as v0 TDX evidence must.
// Nothing would read such a VCEK (the TD quote names the signer), so it
// would be bytes of the sender's choice riding along with evidence that
// verifies, and a Decoder would remember them as a verified VCEK.
func (e *Evidence) checkPlatformMembers(hasVCEK bool) error {
	if e.TDQuote != nil && hasVCEK {
		return fieldErr("vcek", fmt.Errorf("%w: TDX evidence (it carries a td_quote) has no VCEK", format.ErrUnexpectedField))
	}
	return nil
}

// memoOrB64 returns the bytes of the base64 member f: those a Decoder
// remembered (fromMemo), or f's text decoded.
func memoOrB64(a *arena, f *rawField, field string, max int) (b []byte, fromMemo bool, err error) {
	if f.decoded != nil {
		return f.decoded, true, nil
	}
	b, err = b64Field(a, f, field, max)
	return b, false, err
}

// optionalB64 decodes the optional base64 member f: nil when absent, an
// error when present but empty.
func optionalB64(a *arena, f *rawField, field string, max int) ([]byte, error) {
	if !f.present() {
		return nil, nil
	}
	b, err := b64Field(a, f, field, max)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errEmpty(field)
	}
	return b, nil
}

func errEmpty(field string) error {
	return fieldErr(field, fmt.Errorf("%w (empty)", format.ErrMissingField))
}

// requiredArray returns a required, non-empty JSON byte array.
func requiredArray(f *rawField, field string) ([]byte, error) {
	if !f.present() {
		return nil, fieldErr(field, format.ErrMissingField)
	}
	b, err := byteArrayField(f, field)
	if err == nil && len(b) == 0 {
		return nil, errEmpty(field)
	}
	return b, err
}

// decodeQuote decodes a quote object: byte arrays (v0) or hex strings (v1,
// v2). Field names for errors are built only on failure.
func decodeQuote(a *arena, w *wireQuote, prefix string, arrays bool) (quote.Quote, error) {
	var q quote.Quote
	field := func(name string, f *rawField, max int) ([]byte, error) {
		if !f.present() {
			return nil, fieldErr(prefix+"."+name, format.ErrMissingField)
		}
		var b []byte
		var err error
		if arrays {
			b, err = byteArrayField(f, "")
		} else {
			b, err = hexField(a, f, "", max)
		}
		if err != nil {
			return nil, format.Rename(err, prefix+"."+name)
		}
		if len(b) == 0 {
			return nil, errEmpty(prefix + "." + name)
		}
		return b, nil
	}
	var err error
	if q.Signature, err = field("signature", &w.signature, MaxSignatureSize); err != nil {
		return q, err
	}
	if q.Message, err = field("message", &w.message, MaxMessageSize); err != nil {
		return q, err
	}
	p := &w.pcrs
	if !p.present() {
		// Older attesters send message and signature only: the PCR values
		// are unknown (nil), which verify reports as such.
		return q, nil
	}
	if p.kind != '[' {
		return q, fieldErr(prefix+".pcrs", fmt.Errorf("%w: want an array", format.ErrBadJSON))
	}
	if p.arrErr != nil {
		return q, format.Rename(p.arrErr, prefix+".pcrs")
	}
	buf := a.alloc(w.nPCRs * PCRSize)
	q.PCRs = make([][]byte, w.nPCRs)
	for i := range w.nPCRs {
		e := &w.pcrElems[i]
		pcr := buf[i*PCRSize : (i+1)*PCRSize : (i+1)*PCRSize]
		n := 0
		if arrays {
			got, err := byteArrayField(&rawField{kind: e.kind, arr: e.raw, arrErr: e.arrErr}, "")
			if err != nil {
				return q, format.Rename(err, pcrField(prefix, i))
			}
			n = copy(pcr, got)
		} else {
			s, err := stringValue(&rawField{kind: e.kind, raw: e.raw}, "")
			if err != nil {
				return q, format.Rename(err, pcrField(prefix, i))
			}
			if len(s) != 2*PCRSize {
				return q, fieldErr(pcrField(prefix, i), fmt.Errorf("%w (%d hex digits, want %d)", format.ErrBadLength, len(s), 2*PCRSize))
			}
			if n, err = hex.Decode(pcr, s); err != nil {
				return q, fieldErr(pcrField(prefix, i), fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
			}
		}
		if n != PCRSize {
			return q, fieldErr(pcrField(prefix, i), fmt.Errorf("%w (%d bytes, want %d)", format.ErrBadLength, n, PCRSize))
		}
		q.PCRs[i] = pcr
	}
	return q, nil
}

// Encode writes e in the v1/v2 JSON format:
//
//	{"version":V,"tpm_quote":{"signature":hex,"message":hex,"pcrs":[hex,...]},
//	 "hcl_report":base64url,"vcek":base64url,"td_quote":base64url,"event_log":base64url}
//
// with padded base64url, lower-case hex, and "pcrs" / "vcek" / "td_quote" / "event_log"
// omitted when nil (nil PCRs: the values are unknown; an empty non-nil
// list is written as []). V is e.Version when it is 1 or 2. Version 0 is written as 1: v0 and v1
// carry the same claims, whereas "version":2 asserts that the HCL report was
// refreshed with the nonce as user data, which only the attester that did so
// may claim (it sets Version to 2).
//
// Without "vcek" (SEV-SNP) or "pcrs" the document is refused by trustee's
// verifier, which requires both; see [Evidence.TrusteeCompatible].
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
		b64.EncodedLen(len(e.HCLReport)) + b64.EncodedLen(len(e.VCEK)) + b64.EncodedLen(len(e.TDQuote)) +
		b64.EncodedLen(len(e.EventLog))
	out := make([]byte, 0, size)
	out = append(out, `{"version":`...)
	out = strconv.AppendInt(out, int64(v), 10)
	out = append(out, `,"tpm_quote":{"signature":"`...)
	out = hex.AppendEncode(out, e.Quote.Signature)
	out = append(out, `","message":"`...)
	out = hex.AppendEncode(out, e.Quote.Message)
	out = append(out, '"')
	if e.Quote.PCRs != nil {
		out = append(out, `,"pcrs":[`...)
		for i, p := range e.Quote.PCRs {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, '"')
			out = hex.AppendEncode(out, p)
			out = append(out, '"')
		}
		out = append(out, ']')
	}
	out = append(out, `},"hcl_report":"`...)
	out = b64.AppendEncode(out, e.HCLReport)
	out = append(out, '"')
	if e.VCEK != nil {
		out = append(out, `,"vcek":"`...)
		out = b64.AppendEncode(out, e.VCEK)
		out = append(out, '"')
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"td_quote", e.TDQuote}, {"event_log", e.EventLog}} {
		if f.b != nil {
			out = append(out, `,"`+f.name+`":"`...)
			out = b64.AppendEncode(out, f.b)
			out = append(out, '"')
		}
	}
	out = append(out, '}')
	if len(out) > MaxEvidenceSize {
		return nil, fieldErr("document", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(out), MaxEvidenceSize))
	}
	return out, nil
}

// check applies Decode's limits to e.
func (e *Evidence) check() error {
	if e.Version < 0 || e.Version > 2 {
		return fieldErr("version", fmt.Errorf("%w (%d)", format.ErrUnsupportedVersion, e.Version))
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
		{"event_log", e.EventLog, MaxEventLogSize, false},
	}
	for _, f := range sized {
		if len(f.b) > f.max {
			return fieldErr(f.name, fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(f.b), f.max))
		}
		if len(f.b) == 0 && (f.required || f.b != nil) {
			return errEmpty(f.name)
		}
	}
	if err := e.CheckPlatformMembers(); err != nil {
		return err
	}
	if len(e.Quote.PCRs) > MaxPCRs {
		return fieldErr("tpm_quote.pcrs", fmt.Errorf("%w (%d > %d PCRs)", format.ErrTooLarge, len(e.Quote.PCRs), MaxPCRs))
	}
	for i, p := range e.Quote.PCRs {
		if len(p) != PCRSize {
			return fieldErr("tpm_quote.pcrs["+strconv.Itoa(i)+"]", fmt.Errorf("%w (%d bytes, want %d)", format.ErrBadLength, len(p), PCRSize))
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
		return nil, fieldErr("quote", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(b), MaxEvidenceSize))
	}
	var w *wireQuote
	err := strictjson.Decode(b, jsonOptions(), func(dec *jsontext.Decoder) error {
		r := reader{dec: dec, data: b}
		if dec.PeekKind() == 'n' {
			_, err := dec.ReadValue()
			if err == nil {
				err = fieldErr("quote", fmt.Errorf("%w: want an object", format.ErrBadJSON))
			}
			return err
		}
		return r.quoteObject(&w, "quote")
	})
	if err != nil {
		return nil, jsonErr(err)
	}
	arrays := w.message.kind == '['
	q, err := decodeQuote(nil, w, "quote", arrays)
	if err != nil {
		return nil, err
	}
	return &q, nil
}
