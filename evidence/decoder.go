package evidence

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// A Decoder decodes evidence as Decode does, and can remember the decoded
// HCL report (v1) and VCEK (v1, v2) of evidence that verified, by their
// exact base64 text. A VM that attests again sends the same HCL report and
// VCEK (only its quote is new): a Decoder then compares their text with what
// it remembers instead of decoding it again. Every document is still read
// whole by the strict JSON decoder. Its results are Decode's, except that
// the HCLReport and VCEK of evidence it returns may share memory with other
// results: do not modify them.
//
// Decode never remembers anything: the caller calls Remember once the
// evidence verified, so rejected documents cannot fill the memory.
//
// A Decoder holds at most the number of entries and bytes given to
// NewDecoder, forgetting arbitrary entries beyond. It is safe for
// concurrent use.
type Decoder struct {
	m memo
}

// NewDecoder returns a Decoder remembering at most maxEntries fields and
// about maxBytes bytes (text and decoded bytes).
func NewDecoder(maxEntries, maxBytes int) *Decoder {
	return &Decoder{m: memo{seed: maphash.MakeSeed(), maxEntries: maxEntries, maxBytes: maxBytes}}
}

// Decode is Decode with d's memory. It does not add to it (see Remember).
func (d *Decoder) Decode(b []byte) (*Evidence, error) {
	return decode(b, &d.m)
}

// Remember keeps the HCL report (v0, v1; not v2, whose report was
// refreshed with its nonce and never comes again) and the VCEK of e, which
// d (or Decode) returned and which has now verified, for later Decode
// calls. Fields that came from d's memory, and v1 fields written with
// escapes, are not kept.
func (d *Decoder) Remember(e *Evidence) {
	if e == nil {
		return
	}
	if e.Version != 2 && !e.memo.hclFromMemo && len(e.HCLReport) > 0 {
		if tok := e.memo.hcl.token(e.HCLReport); tok != nil {
			d.m.put(e.memo.hcl.field, tok, bytes.Clone(e.HCLReport))
		}
	}
	if e.Version == 0 && !e.memo.pcrsFromMemo && len(e.Quote.PCRs) > 0 {
		if tok := e.memo.pcrs.token(nil); tok != nil {
			d.m.put(memoPCRArrays, tok, bytes.Join(e.Quote.PCRs, nil))
		}
	}
	// A v0 VCEK stacked with its chain is not kept: a memory hit would
	// return the VCEK without the certificates its verifier checks.
	if !e.memo.vcekFromMemo && len(e.VCEK) > 0 && e.VCEKChain == nil {
		if tok := e.memo.vcek.token(e.VCEK); tok != nil {
			d.m.put(e.memo.vcek.field, tok, bytes.Clone(e.VCEK))
		}
	}
}

// Len returns the number of fields d remembers.
func (d *Decoder) Len() int {
	d.m.mu.RLock()
	defer d.m.mu.RUnlock()
	return len(d.m.m)
}

// DecoderStats are the counters of a Decoder.
type DecoderStats struct {
	// Hits and Misses count lookups of field text (a hit skipped decoding).
	Hits, Misses uint64
	// Entries and Bytes are what the Decoder remembers now.
	Entries, Bytes int
}

// Stats returns d's counters.
func (d *Decoder) Stats() DecoderStats {
	d.m.mu.RLock()
	defer d.m.mu.RUnlock()
	return DecoderStats{Hits: d.m.hits.Load(), Misses: d.m.misses.Load(), Entries: len(d.m.m), Bytes: d.m.bytes}
}

// memoState records, while decoding, how a base64 field can be written back
// to its exact text, so that Remember needs neither the input nor a copy
// of it.
type memoState struct {
	hcl, vcek, pcrs                         memoText
	hclFromMemo, vcekFromMemo, pcrsFromMemo bool
}

// memoText says how to get a field's exact text back: either it was
// plain base64url (no escapes), padded or not, and strict base64 decoding
// being one-to-one, encoding the decoded bytes the same way gives the text
// back; or text holds a copy of it (v0 byte arrays and PEM strings, kept
// only when decoding with a memo).
type memoText struct {
	field      int // the memo field it is remembered as
	ok, padded bool
	text       []byte
}

// memoable describes the text of a base64 string field, remembered as
// field.
func memoable(f *rawField, field int) memoText {
	if f.kind != '"' || bytes.IndexByte(f.raw, '\\') >= 0 {
		return memoText{}
	}
	s := f.raw[1 : len(f.raw)-1]
	return memoText{field: field, ok: true, padded: b64Padded(s)}
}

// keptText is the memoText of a field whose text is kept as it is (a copy),
// remembered as field, when w is read with a memo.
func keptText(w *wire, f *rawField, field int) memoText {
	if w.m == nil || len(f.raw) == 0 {
		return memoText{}
	}
	return memoText{field: field, text: bytes.Clone(f.raw)}
}

// recall looks the string fields of w up in m (nil: nothing), each under
// the memo field of its format: base64 in v1 and v2, PEM in v0. Byte
// arrays were looked up while reading.
func (w *wire) recall(m *memo) {
	w.m = m
	if m == nil {
		return
	}
	hcl, vcek := memoHCL, memoVCEK
	if !w.version.present() {
		hcl, vcek = -1, memoVCEKPEM
	}
	for _, r := range [...]struct {
		f     *rawField
		field int
	}{{&w.hclReport, hcl}, {&w.vcek, vcek}} {
		if r.f.kind == '"' {
			r.f.decoded = m.lookup(r.field, r.f.raw)
		}
	}
}

// token returns the JSON text that decoded to dec, or nil when it is not
// known.
func (t memoText) token(dec []byte) []byte {
	if t.text != nil {
		return t.text
	}
	if !t.ok {
		return nil
	}
	enc := base64.RawURLEncoding
	if t.padded {
		enc = base64.URLEncoding
	}
	out := make([]byte, 0, enc.EncodedLen(len(dec))+2)
	out = append(out, '"')
	out = enc.AppendEncode(out, dec)
	return append(out, '"')
}

// Fields a memo holds.
const (
	memoHCL      = 1 // v1 "hcl_report": base64 text
	memoVCEK     = 2 // v1, v2 "vcek": base64 text
	memoHCLArray = 3 // v0 "report", v0 TDX "hcl_report": byte array text
	memoVCEKPEM  = 4 // v0 "vcek": PEM text

	memoPCRArrays = 5 // v0 "pcrs": array of byte arrays text
)

// memo maps the JSON string token (quotes included) of a field to its
// decoded bytes. A slot is chosen by a seeded hash; the token is compared
// in full. A nil *memo remembers nothing.
type memo struct {
	seed       maphash.Seed
	mu         sync.RWMutex
	m          map[uint64]memoEntry
	bytes      int
	maxEntries int
	maxBytes   int

	hits, misses atomic.Uint64
}

type memoEntry struct {
	field    int
	enc, dec []byte
}

// memoEdge is how much of each end of a long token chooses its slot.
const memoEdge = 512

// slot returns the memo slot of tok: a seeded hash of the whole token when
// it is short, else of its length and its first and last memoEdge bytes
// (a remembered v0 HCL report is about 28 KB of array text, which need not
// be hashed whole before the full comparison). Tokens differing only in
// the middle share a slot and evict each other: a cost, never a wrong
// answer, since a lookup compares the token in full.
func (m *memo) slot(tok []byte) uint64 {
	if len(tok) <= 4*memoEdge {
		return maphash.Bytes(m.seed, tok)
	}
	var h maphash.Hash
	h.SetSeed(m.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(tok)))
	h.Write(n[:])
	h.Write(tok[:memoEdge])
	h.Write(tok[len(tok)-memoEdge:])
	return h.Sum64()
}

// lookup returns the decoded bytes remembered for the string token tok of
// field, or nil.
func (m *memo) lookup(field int, tok []byte) []byte {
	if m == nil || field < 0 || len(tok) < 2 {
		return nil
	}
	h := m.slot(tok)
	m.mu.RLock()
	e, ok := m.m[h]
	m.mu.RUnlock()
	if !ok || e.field != field || !bytes.Equal(e.enc, tok) {
		m.misses.Add(1)
		return nil
	}
	m.hits.Add(1)
	return e.dec
}

// put remembers dec under tok (both owned by the memo from now on).
func (m *memo) put(field int, tok, dec []byte) {
	size := len(tok) + len(dec)
	if size > m.maxBytes || m.maxEntries <= 0 {
		return
	}
	h := m.slot(tok)
	e := memoEntry{field: field, enc: tok, dec: dec}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[uint64]memoEntry)
	}
	if old, ok := m.m[h]; ok {
		m.bytes -= len(old.enc) + len(old.dec)
		delete(m.m, h)
	}
	for k, old := range m.m {
		if len(m.m) < m.maxEntries && m.bytes+size <= m.maxBytes {
			break
		}
		m.bytes -= len(old.enc) + len(old.dec)
		delete(m.m, k)
	}
	m.m[h] = e
	m.bytes += size
}
