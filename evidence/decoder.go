package evidence

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// A Decoder decodes evidence as Decode does, and remembers the HCL report
// (v1) and VCEK (v1, v2) of the evidence it decoded, by their exact base64
// text. A VM that attests again sends the same HCL report and VCEK (only
// its quote is new): a Decoder then compares their text with what it
// remembers instead of validating and decoding it again. Its results are Decode's,
// except that the HCLReport and VCEK of evidence it returns may share
// memory with other results: do not modify them.
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

// Decode is Decode with d's memory.
func (d *Decoder) Decode(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidenceSize {
		return Decode(b)
	}
	if w, ok := scanWire(b, &d.m); ok {
		if e, err := decodeWire(&w, newArena(&w)); err == nil {
			d.remember(&w, e)
			return e, nil
		}
	}
	return decodeSlow(b)
}

// remember keeps the base64 fields of decoded v1/v2 evidence, except the
// HCL report of v2 evidence, which was refreshed with its nonce and never
// comes again. Strings with escapes are not kept: a remembered string holds
// no backslash, so a text equal to it ends at its first quote (see
// memo.lookup).
func (d *Decoder) remember(w *wire, e *Evidence) {
	if w.Version == nil {
		return
	}
	if e.Version == 1 && w.hclDecoded == nil && len(e.HCLReport) > 0 && bytes.IndexByte(w.HCLReport, '\\') < 0 {
		d.m.put(memoHCL, w.HCLReport, bytes.Clone(e.HCLReport))
	}
	if w.vcekDecoded == nil && len(e.VCEK) > 0 && bytes.IndexByte(w.VCEK, '\\') < 0 {
		d.m.put(memoVCEK, w.VCEK, bytes.Clone(e.VCEK))
	}
}

// Fields a memo holds, by their index in scanWire's seen array.
const (
	memoHCL  = 4
	memoVCEK = 5
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
}

type memoEntry struct {
	field    int
	enc, dec []byte
}

// lookup returns the remembered token at b[i] for field and its decoded
// bytes, or nil. A remembered token holds exactly two quotes, its first
// and last bytes, so the token to compare ends at the first quote after
// b[i].
func (m *memo) lookup(field int, b []byte, i int) (tok, dec []byte) {
	if m == nil || (field != memoHCL && field != memoVCEK) || i >= len(b) || b[i] != '"' {
		return nil, nil
	}
	q := bytes.IndexByte(b[i+1:], '"')
	if q < 0 {
		return nil, nil
	}
	tok = b[i : i+q+2]
	h := maphash.Bytes(m.seed, tok)
	m.mu.RLock()
	e, ok := m.m[h]
	m.mu.RUnlock()
	if !ok || e.field != field || !bytes.Equal(e.enc, tok) {
		return nil, nil
	}
	return tok, e.dec
}

func (m *memo) put(field int, tok, dec []byte) {
	size := len(tok) + len(dec)
	if size > m.maxBytes {
		return
	}
	h := maphash.Bytes(m.seed, tok)
	e := memoEntry{field: field, enc: bytes.Clone(tok), dec: dec}
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
