package verify

import (
	"crypto/rsa"
	"crypto/sha256"
	"sync"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// defaultCacheEntries bounds each cache of an Options.
const defaultCacheEntries = 4096

// cache holds results of pure, expensive computations keyed by the SHA-256
// of every input byte they depend on. Only successes are stored, so a cached
// entry can never turn a failure into a success: the same bytes verified
// before with the same roots.
type cache struct {
	vceks   boundedMap[vcekKey, *vcekEntry]
	reports boundedMap[[sha256.Size]byte, struct{}]
	hcls    boundedMap[[sha256.Size]byte, *hclEntry]
}

// vcekKey identifies a VCEK verified under one set of roots.
type vcekKey struct {
	der   [sha256.Size]byte
	roots *snp.Roots
}

type vcekEntry struct {
	vcek  *snp.VCEK
	chain *snp.Chain
}

// hclEntry is a parsed HCL report with its runtime-data binding checked and
// its attestation key decoded.
type hclEntry struct {
	report *hcl.Report
	snp    *snp.Report
	ak     *rsa.PublicKey
	akErr  error
}

func newCache(n int) *cache {
	return &cache{
		vceks:   boundedMap[vcekKey, *vcekEntry]{max: n},
		reports: boundedMap[[sha256.Size]byte, struct{}]{max: n},
		hcls:    boundedMap[[sha256.Size]byte, *hclEntry]{max: n},
	}
}

// boundedMap is a concurrency-safe map that holds at most max entries,
// evicting an arbitrary entry when full.
type boundedMap[K comparable, V any] struct {
	mu  sync.RWMutex
	m   map[K]V
	max int
}

func (b *boundedMap[K, V]) get(k K) (V, bool) {
	b.mu.RLock()
	v, ok := b.m[k]
	b.mu.RUnlock()
	return v, ok
}

func (b *boundedMap[K, V]) put(k K, v V) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= b.max {
		for old := range b.m {
			delete(b.m, old)
			break
		}
	}
	b.m[k] = v
}

func (b *boundedMap[K, V]) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
