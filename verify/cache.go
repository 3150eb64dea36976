package verify

import (
	"bytes"
	"crypto/rsa"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// cache holds results of pure, expensive computations, keyed by every input
// byte they depend on: a lookup compares the whole input with the bytes the
// result was computed from (a seeded hash only picks the slot), so no hash
// collision can return a result computed for other bytes. Only successes
// are stored, and only after the whole verification they came from
// succeeded (see pending): a cached entry can never turn a failure into a
// success, and evidence that is rejected, by any check, cannot fill the
// cache, even when it carries a genuine chip's signed report.
//
// What each result depends on:
//   - vceks: the VCEK DER and the roots it was verified against (the
//     pointer of an immutable snp.Roots). Certificate validity depends on
//     the verification time too: it is checked again on every hit.
//   - reports: the 1184 report bytes and the VCEK key that verified their
//     signature (the *snp.VCEK of the vceks entry, by identity). The entry
//     holds that VCEK by a weak pointer: it does not keep alive a VCEK the
//     vceks cache evicted (memory its byte bound would not count), and
//     once that VCEK is gone the entry is a miss.
//   - hcls: the HCL blob (parsing, binding, AK decoding are functions of it;
//     an SNP lookup takes only entries with an SNP report, a TDX lookup
//     only entries with a TDREPORT).
//   - pcks: the PEM PCK chain of a TD quote and the root it was verified
//     under (compared by its DER); validity is checked again on every hit.
//   - tdQuotes: the TD quote bytes (its parse, and the PCK chain entry that
//     verified its signatures: the *tdx.Verified of the pcks entry, by
//     identity, held by a weak pointer as reports hold their VCEK).
//   - decoder: remembers the decoded HCL report and VCEK of evidence by
//     their exact text (see evidence.Decoder).
type cache struct {
	vceks    exactMap[*vcekEntry]
	reports  exactMap[weak.Pointer[snp.VCEK]]
	hcls     exactMap[*hclEntry]
	pcks     exactMap[*tdx.Verified]
	tdQuotes exactMap[*tdQuoteEntry]
	decoder  *evidence.Decoder
}

type vcekEntry struct {
	roots *snp.Roots
	vcek  *snp.VCEK
	chain *snp.Chain
}

// hclEntry is a parsed HCL report with its runtime-data binding checked and
// its attestation key decoded. It is shared by every verification of the
// same blob: treat it as read-only.
type hclEntry struct {
	report *hcl.Report
	snp    *snp.Report   // the SNP report of SNP evidence, else nil
	td     *tdx.TDReport // the TDREPORT of TDX evidence, else nil
	ak     *rsa.PublicKey
	akKey  *quote.AK // ak prepared for quote verification
	akDER  []byte    // PKIX DER of ak
	akErr  error
	// bindErr is the runtime-data binding's verdict, reported only once
	// the report verified (nil in every cached entry).
	bindErr error
}

// newCache returns the cache cc asks for: nil when disabled, else maps
// holding at most cc.Entries entries and cc.Bytes bytes each (0: the
// defaults).
func newCache(cc CacheConfig) *cache {
	if cc.Disable {
		return nil
	}
	entries, size := cc.Entries, cc.Bytes
	if entries == 0 {
		entries = DefaultCacheEntries
	}
	if size == 0 {
		size = DefaultCacheBytes
	}
	seed := maphash.MakeSeed()
	return &cache{
		vceks:    exactMap[*vcekEntry]{seed: seed, maxEntries: entries, maxBytes: size},
		reports:  exactMap[weak.Pointer[snp.VCEK]]{seed: seed, maxEntries: entries, maxBytes: size},
		hcls:     exactMap[*hclEntry]{seed: seed, maxEntries: entries, maxBytes: size},
		pcks:     exactMap[*tdx.Verified]{seed: seed, maxEntries: entries, maxBytes: size},
		tdQuotes: exactMap[*tdQuoteEntry]{seed: seed, maxEntries: entries, maxBytes: size},
		decoder:  evidence.NewDecoder(entries, size),
	}
}

// Stats are the counters of a Verifier's caches (see Verifier.Stats).
type Stats struct {
	// VCEKs holds verified VCEK chains, by certificate.
	VCEKs CacheStats
	// Reports holds verified report signatures, by report and VCEK.
	Reports CacheStats
	// HCLReports holds parsed HCL reports, by blob.
	HCLReports CacheStats
	// Evidence holds decoded evidence fields (HCL report and VCEK text).
	Evidence CacheStats
	// PCKChains holds verified PCK chains of TD quotes, by PEM chain.
	PCKChains CacheStats
	// TDQuotes holds verified TD quote signatures, by quote and chain.
	TDQuotes CacheStats
}

// CacheStats are the counters of one cache.
type CacheStats struct {
	// Hits and Misses count lookups since New (a hit saved the work).
	Hits, Misses uint64
	// Entries and Bytes are what the cache holds now.
	Entries, Bytes int
}

func (c *cache) stats() Stats {
	if c == nil {
		return Stats{}
	}
	d := c.decoder.Stats()
	return Stats{
		VCEKs:      c.vceks.stats(),
		Reports:    c.reports.stats(),
		HCLReports: c.hcls.stats(),
		Evidence:   CacheStats{Hits: d.Hits, Misses: d.Misses, Entries: d.Entries, Bytes: d.Bytes},
		PCKChains:  c.pcks.stats(),
		TDQuotes:   c.tdQuotes.stats(),
	}
}

// exactMap is a concurrency-safe map from byte strings to values that holds
// at most maxEntries entries and maxBytes bytes of keys, evicting arbitrary
// entries when full. A slot is chosen by a seeded maphash of the key; the
// key itself is kept and compared on every lookup. A colliding put replaces
// the slot's entry (a later lookup of the old key misses).
type exactMap[V any] struct {
	seed       maphash.Seed
	mu         sync.RWMutex
	m          map[uint64]exactEntry[V]
	bytes      int
	maxEntries int
	maxBytes   int

	hits, misses atomic.Uint64
}

type exactEntry[V any] struct {
	key  []byte
	val  V
	size int
}

// get returns the value stored under key if match accepts it (nil match
// accepts any), counting a hit or a miss.
func (b *exactMap[V]) get(key []byte, match func(V) bool) (V, bool) {
	h := maphash.Bytes(b.seed, key)
	b.mu.RLock()
	e, ok := b.m[h]
	b.mu.RUnlock()
	if ok && bytes.Equal(e.key, key) && (match == nil || match(e.val)) {
		b.hits.Add(1)
		return e.val, true
	}
	b.misses.Add(1)
	var zero V
	return zero, false
}

func (b *exactMap[V]) stats() CacheStats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return CacheStats{Hits: b.hits.Load(), Misses: b.misses.Load(), Entries: len(b.m), Bytes: b.bytes}
}

// put stores v under a copy of key; size is what the entry holds (key
// and value) in bytes, counted against maxBytes.
func (b *exactMap[V]) put(key []byte, v V, size int) {
	size = max(size, len(key))
	if size > b.maxBytes {
		return
	}
	h := maphash.Bytes(b.seed, key)
	e := exactEntry[V]{key: bytes.Clone(key), val: v, size: size}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[uint64]exactEntry[V])
	}
	if old, ok := b.m[h]; ok {
		b.bytes -= old.size
		delete(b.m, h)
	}
	for old, oe := range b.m {
		if len(b.m) < b.maxEntries && b.bytes+size <= b.maxBytes {
			break
		}
		b.bytes -= oe.size
		delete(b.m, old)
	}
	b.m[h] = e
	b.bytes += size
}

// pending collects what one verification would cache: the entries are
// stored (commit) only once the whole verification has succeeded, so that
// a rejected call leaves the cache as it found it. It holds at most one
// entry of each kind (a call verifies one VCEK, one report, one HCL blob).
// A pending is local to one call and lives on its stack; a zero pending,
// or one without a cache, records nothing.
type pending struct {
	c *cache

	vcekDER []byte // the cache's own copy of the DER
	vcek    *vcekEntry

	reportRaw []byte
	reportBy  *snp.VCEK

	hclBlob []byte
	hcl     *hclEntry

	pckChain []byte
	pck      *tdx.Verified

	tdQuoteRaw []byte
	tdQuote    *tdQuoteEntry
}

// recording reports whether p records (and looks up) entries: a nil
// pending or one without a cache does neither.
func (p *pending) recording() bool { return p != nil && p.c != nil }

// lookupVCEK returns the entry for der and roots that this call or an
// earlier successful one verified.
func (p *pending) lookupVCEK(der []byte, roots *snp.Roots) (*vcekEntry, bool) {
	if !p.recording() {
		return nil, false
	}
	if p.vcek != nil && p.vcek.roots == roots && bytes.Equal(p.vcekDER, der) {
		return p.vcek, true
	}
	if e, ok := p.c.vceks.get(der, func(e *vcekEntry) bool { return e.roots == roots }); ok {
		return e, true
	}
	return nil, false
}

// addVCEK records a verified VCEK chain (der is already the cache's copy).
func (p *pending) addVCEK(der []byte, e *vcekEntry) {
	if p.recording() {
		p.vcekDER, p.vcek = der, e
	}
}

// adoptVCEK takes over from q (the pending of a VCEKGetter's Validate
// calls) the chain it verified for der, the certificate the getter returned.
func (p *pending) adoptVCEK(q *pending, der []byte) {
	if q.vcek != nil && bytes.Equal(q.vcekDER, der) {
		p.addVCEK(q.vcekDER, q.vcek)
	}
}

// addReport records that v verified the signature of the report raw.
func (p *pending) addReport(raw []byte, v *snp.VCEK) {
	if p.recording() {
		p.reportRaw, p.reportBy = raw, v
	}
}

// addHCL records the parse of blob.
func (p *pending) addHCL(blob []byte, e *hclEntry) {
	if p.recording() {
		p.hclBlob, p.hcl = blob, e
	}
}

// commit stores the recorded entries in the cache. Call it only when the
// whole verification succeeded, before returning to the caller (the
// recorded keys may alias the caller's buffers; put copies them).
func (p *pending) commit() {
	if p.c == nil {
		return
	}
	if p.vcek != nil {
		// The key, the DER the certificate aliases, the parsed fields.
		p.c.vceks.put(p.vcekDER, p.vcek, 3*len(p.vcekDER)+1024)
	}
	if p.reportBy != nil {
		p.c.reports.put(p.reportRaw, weak.Make(p.reportBy), len(p.reportRaw))
	}
	if p.hcl != nil {
		p.c.putHCL(p.hclBlob, p.hcl)
	}
	if p.pck != nil {
		// The key, the three certificates' DER and parsed fields.
		p.c.pcks.put(p.pckChain, p.pck, 3*len(p.pckChain)+4096)
	}
	if p.tdQuote != nil {
		// The key and the parsed quote's copies of its parts.
		p.c.tdQuotes.put(p.tdQuoteRaw, p.tdQuote, 2*len(p.tdQuoteRaw)+1024)
	}
	*p = pending{}
}

// len returns the number of entries held.
func (b *exactMap[V]) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
