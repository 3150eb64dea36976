package verify

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestRejectedEvidenceLeavesNoMemo: 10 000 distinct documents that decode
// but fail verification (a changed SNP report, or a VCEK that is not one),
// all through one caching Options, leave the decoded-evidence memo empty and
// the heap about where it was; the genuine document is remembered once it
// verified.
func TestRejectedEvidenceLeavesNoMemo(t *testing.T) {
	data := testutil.ReadFile(t, testutil.SNPDir+"evidence-v1.json")
	genuine, err := evidence.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	nonce := []byte("challenge")
	opts := mustNew(t, Config{Now: testutil.FixtureTime()})
	c := opts.cache
	// 10 000 documents (the figure SECURITY.md quotes) in the full sweep
	// (make sweep, SNPVTPM_FULL_SWEEP=1); 1000 in make test, which asserts
	// the same: no entry, bounded heap.
	n := 1000
	if os.Getenv("SNPVTPM_FULL_SWEEP") == "1" {
		n = 10000
	}
	doc := func(i int) []byte {
		e := *genuine
		e.Version = 1
		if i%2 == 0 {
			// A changed measurement: the report signature fails.
			h := append([]byte(nil), genuine.HCLReport...)
			h[hcl.OffsetHardware+snp.OffsetMeasurement], h[hcl.OffsetHardware+snp.OffsetMeasurement+1], h[hcl.OffsetHardware+snp.OffsetMeasurement+2] = byte(i), byte(i>>8), 0x5A
			e.HCLReport = h
		} else {
			// A VCEK whose signature does not verify.
			v := append([]byte(nil), genuine.VCEK...)
			v[len(v)-10], v[len(v)-11] = byte(i), byte(i>>8)
			v[len(v)-12] ^= 0xFF
			e.VCEK = v
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Warm up everything but the memo (one rejection of each kind).
	for i := range 2 {
		if _, err := opts.Evidence(context.Background(), doc(n+i), nonce); err == nil {
			t.Fatal("forged document verified")
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		if _, err := opts.Evidence(context.Background(), doc(i), nonce); err == nil {
			t.Fatalf("document %d verified", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap after %d rejected documents: %+d KiB (HeapAlloc %d -> %d KiB); memo entries %d",
		n, growth/1024, before.HeapAlloc/1024, after.HeapAlloc/1024, c.decoder.Len())
	if c.decoder.Len() != 0 {
		t.Fatalf("rejected documents filled the memo: %d entries", c.decoder.Len())
	}
	if growth > 4<<20 {
		t.Errorf("heap grew by %d KiB", growth/1024)
	}
	// The genuine document is remembered after it verified, and verifies again.
	for range 2 {
		if _, err := opts.Evidence(context.Background(), data, nonce); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.decoder.Len(); got != 2 {
		t.Errorf("memo holds %d entries after genuine evidence, want 2 (HCL report and VCEK)", got)
	}
	runtime.KeepAlive(opts)
}
