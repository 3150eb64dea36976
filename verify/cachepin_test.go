package verify

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// waitFreed runs the garbage collector until freed reaches want or a few
// seconds have passed, and returns freed's last value.
func waitFreed(freed *atomic.Int32, want int32) int32 {
	deadline := time.Now().Add(5 * time.Second)
	for freed.Load() < want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	return freed.Load()
}

// clearForTest empties b as if every entry had been evicted.
func (b *exactMap[V]) clearForTest() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.m)
	b.bytes = 0
}

// TestCachedSignaturesPinNoEvictedKey: the report-signature cache, at its
// byte bound, does not keep alive the VCEKs that the VCEK cache evicted.
// Its entries are counted as the 1184 report bytes; before, each held its
// VCEK (certificate, parsed fields, key: several KB) by a strong pointer,
// so a cache with room for one VCEK chain and five reports kept six
// parsed VCEKs, over the configured bound and unseen in Stats. The entries
// hold the VCEK weakly now; a report whose VCEK is gone is a miss (its
// signature is verified again) and still verifies.
func TestCachedSignaturesPinNoEvictedKey(t *testing.T) {
	const n = 6
	evs := make([]*testev.Evidence, n)
	for i := range evs {
		var chip [64]byte
		chip[0], chip[1], chip[2] = byte(i+1), 0xA5, 0x5A
		evs[i] = buildEv(t, testev.Builder{Version: 1, ChipID: &chip})
	}
	// Room for one VCEK chain (3*DER+1024 bytes) and about five reports.
	v := mustNew(t, Config{Roots: testev.Roots(), Cache: CacheConfig{Bytes: 3*len(evs[0].VCEKDER) + 1024 + 1000}})
	var freed atomic.Int32
	for i, e := range evs {
		if _, err := v.Evidence(context.Background(), e.JSON, e.Nonce); err != nil {
			t.Fatalf("chip %d: %v", i, err)
		}
		ent, ok := v.cache.vceks.get(e.VCEKDER, nil)
		if !ok {
			t.Fatalf("chip %d: its VCEK chain was not cached", i)
		}
		runtime.AddCleanup(ent.vcek, func(f *atomic.Int32) { f.Add(1) }, &freed)
	}
	st := v.Stats()
	if st.VCEKs.Entries != 1 || st.Reports.Entries < 3 {
		t.Fatalf("setup: %d VCEK chains and %d reports cached, want 1 and at least 3", st.VCEKs.Entries, st.Reports.Entries)
	}
	if got := waitFreed(&freed, n-1); got != n-1 {
		t.Fatalf("%d of the %d VCEKs the VCEK cache evicted were freed: the report cache (%d entries, %d bytes counted) keeps the others alive",
			got, n-1, st.Reports.Entries, st.Reports.Bytes)
	}
	// The live pair is still a hit; a report whose VCEK is gone verifies
	// again in full.
	hits := v.Stats().Reports.Hits
	for _, e := range []*testev.Evidence{evs[n-1], evs[0]} {
		if _, err := v.Evidence(context.Background(), e.JSON, e.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	if got := v.Stats().Reports.Hits; got != hits+1 {
		t.Errorf("report cache hits %d -> %d, want one more (the cached VCEK's report)", hits, got)
	}
}

// TestCachedTDQuotePinsNoEvictedChain is TestCachedSignaturesPinNoEvictedKey
// for a TD quote and its PCK chain: with the chain evicted, the quote's
// entry does not keep it alive, and the evidence verifies again in full.
func TestCachedTDQuotePinsNoEvictedChain(t *testing.T) {
	data := testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json")
	ev, err := evidence.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	a, err := quote.Parse(ev.Quote.Message)
	if err != nil {
		t.Fatal(err)
	}
	nonce := a.ExtraData
	v := mustNew(t, Config{Now: testutil.TDXFixtureTime()})
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.PCKChains.Entries != 1 || st.TDQuotes.Entries != 1 {
		t.Fatalf("setup: %+v %+v, want one entry each", st.PCKChains, st.TDQuotes)
	}
	var freed atomic.Int32
	func() {
		v.cache.pcks.mu.RLock()
		defer v.cache.pcks.mu.RUnlock()
		for _, e := range v.cache.pcks.m {
			runtime.AddCleanup(e.val, func(f *atomic.Int32) { f.Add(1) }, &freed)
		}
	}()
	v.cache.pcks.clearForTest()
	if got := waitFreed(&freed, 1); got != 1 {
		t.Fatal("the TD quote cache keeps alive the PCK chain the chain cache evicted")
	}
	if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.PCKChains.Entries != 1 || st.TDQuotes.Entries != 1 || st.TDQuotes.Hits != 1 {
		t.Fatalf("after the chain's eviction: %+v %+v, want the quote's parse reused and both cached again", st.PCKChains, st.TDQuotes)
	}
}
