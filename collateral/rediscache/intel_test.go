package rediscache_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// The items of Intel's collateral for the teekit quote, by name.
var intelItems = []string{"tcbinfo-tdx-00806f050000", "qeidentity-tdx", "pckcrl-platform", "rootcacrl"}

// intelFleet is a miniredis, a fake Intel PCS serving Intel's real
// collateral for FMSPC 00806f050000, and the teekit quote.
type intelFleet struct {
	mr   *miniredis.Miniredis
	rdb  *redis.Client
	fake *tdxtest.FakePCS
	q    *tdx.Quote
	v    *tdx.Verified
}

func newIntelFleet(t *testing.T) *intelFleet {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	q, v := tdxtest.RealQuote(t, "intel-collateral/azure-tdx-quote-teekit.bin")
	fake := tdxtest.NewFakePCS(t, tdxtest.RealCollateralFiles(t))
	return &intelFleet{mr: mr, rdb: rdb, fake: fake, q: q, v: v}
}

// replica is one verifier: its own memory, no disk cache, the shared
// Redis, the fake PCS.
func (f *intelFleet) replica() (*collateral.Intel, *rediscache.Cache) {
	cache := &rediscache.Cache{Client: f.rdb, Prefix: "t:", Now: testutil.TDXFixtureTime, MaxTTL: 72 * time.Hour}
	return &collateral.Intel{Fleet: cache, PCS: &collateral.PCSClient{BaseURL: f.fake.URL, MaxRetries: -1}}, cache
}

// collateral asks in for the teekit quote's collateral at the fixture
// time and checks that it evaluates UpToDate.
func (f *intelFleet) collateral(t *testing.T, in *collateral.Intel) {
	t.Helper()
	c, err := in.TDXCollateral(context.Background(), verify.TDXCollateralRequest{FMSPC: f.v.SGX.FMSPC, CA: pcs.PCKCA(f.v), Now: testutil.TDXFixtureTime()})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Evaluate(f.q, f.v, pcs.Options{Now: testutil.TDXFixtureTime()}); err != nil || r.Status != pcs.UpToDate {
		t.Fatalf("Evaluate: %v, %+v", err, r)
	}
}

// TestIntelFleet: replica A fetches Intel's collateral from the PCS (4
// requests) and stores the 4 verified items in Redis, each until its
// nextUpdate; replica B gets all of them from Redis (verified again) with
// no PCS request.
func TestIntelFleet(t *testing.T) {
	f := newIntelFleet(t)
	a, cacheA := f.replica()
	f.collateral(t, a)
	if n := f.fake.Requests(); n != 4 {
		t.Fatalf("replica A: %d PCS requests, want 4", n)
	}
	if s := cacheA.Stats(); s.Stores != 4 {
		t.Errorf("replica A stored %d entries, want 4", s.Stores)
	}
	// The PCK CRL's nextUpdate (2025-10-02T07:03:51Z) bounds its entry.
	if ttl := f.mr.TTL(cacheA.IntelKey("pckcrl-platform")); ttl != time.Date(2025, 10, 2, 7, 3, 51, 0, time.UTC).Sub(testutil.TDXFixtureTime()) {
		t.Errorf("PCK CRL entry TTL %v, want until its nextUpdate", ttl)
	}
	b, cacheB := f.replica()
	f.collateral(t, b)
	if n := f.fake.Requests(); n != 4 {
		t.Errorf("replica B: %d more PCS requests, want 0", n-4)
	}
	if s := b.Stats(); s.FleetHits != 4 || s.Fetches != 0 {
		t.Errorf("replica B stats %+v, want 4 fleet hits, no fetch", s)
	}
	if s := cacheB.Stats(); s.Hits != 4 || s.Stores != 0 {
		t.Errorf("replica B's cache stats %+v, want 4 hits", s)
	}
}

// TestIntelFleetOneFetch: 4 cold replicas asking at once (a slow PCS)
// send one request per item: the others wait for the holder of the
// fleet's fetch lock and take its entry.
func TestIntelFleetOneFetch(t *testing.T) {
	f := newIntelFleet(t)
	f.fake.SetHook(func(http.ResponseWriter, *http.Request, int64) bool {
		time.Sleep(30 * time.Millisecond)
		return false
	})
	var wg sync.WaitGroup
	replicas := make([]*collateral.Intel, 4)
	for i := range replicas {
		replicas[i], _ = f.replica()
		wg.Go(func() { f.collateral(t, replicas[i]) })
	}
	wg.Wait()
	var waits, hits int64
	for _, r := range replicas {
		s := r.Stats()
		waits, hits = waits+s.LockWaits, hits+s.FleetHits
	}
	if n := f.fake.Requests(); n != 4 {
		t.Errorf("%d PCS requests for 4 cold replicas, want 4 (one per item)", n)
	}
	if waits == 0 || hits != 12 {
		t.Errorf("%d lock waits, %d fleet hits; want some, and 12 (3 replicas x 4 items)", waits, hits)
	}
}

// TestIntelFleetTampered: an entry changed in Redis (the TCB info's body,
// its issuer chain replaced, another FMSPC's TCB info under this FMSPC's
// key, garbage) is rejected by the replica that reads it, which fetches
// the item from the PCS (1 request) and writes the verified one back.
func TestIntelFleetTampered(t *testing.T) {
	files := tdxtest.RealCollateralFiles(t)
	other := testutil.ReadFile(t, "intel-collateral/other-fmspc/tcbinfo-tdx-20a06f000000.json")
	tcb, chain := files["tcbinfo-tdx-00806f050000.json"], files["tcb-signing-chain.pem"]
	for _, tc := range []struct {
		name, item string
		entry      []byte
	}{
		{"body", intelItems[0], collateral.EncodeIntelEntry(bytes.Replace(tcb, []byte(`"tcbEvaluationDataNumber":17`), []byte(`"tcbEvaluationDataNumber":18`), 1), chain)},
		{"chain", intelItems[1], collateral.EncodeIntelEntry(files["qeidentity-tdx.json"], files[tdxtest.PCKCRLIssuerChainFile])},
		{"other FMSPC", intelItems[0], collateral.EncodeIntelEntry(other, chain)},
		{"CRL body", intelItems[3], collateral.EncodeIntelEntry(files["pckcrl-platform.der"], nil)},
		{"garbage", intelItems[2], []byte("\x00\x00\x10\x00garbage")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(tcb, []byte(`"tcbEvaluationDataNumber":17`)) {
				t.Fatal("the TCB info no longer has the member this test changes")
			}
			f := newIntelFleet(t)
			a, cache := f.replica()
			f.collateral(t, a)
			if err := f.mr.Set(cache.IntelKey(tc.item), string(tc.entry)); err != nil {
				t.Fatal(err)
			}
			b, _ := f.replica()
			f.collateral(t, b)
			if n := f.fake.Requests(); n != 5 {
				t.Errorf("%d PCS requests, want 5 (4 by A, the tampered item again by B)", n)
			}
			// Read twice: before and after taking the fetch lock.
			if s := b.Stats(); s.FleetRejected != 2 || s.FleetHits != 3 || s.Fetches != 1 {
				t.Errorf("replica B stats %+v, want 2 rejections (before and under the lock), 3 fleet hits, 1 fetch", s)
			}
			got, err := f.mr.Get(cache.IntelKey(tc.item))
			if err != nil || strings.Contains(got, "garbage") || bytes.Equal([]byte(got), tc.entry) {
				t.Errorf("the tampered entry was not replaced: %v", err)
			}
		})
	}
}

// TestIntelEntry: the framing of an entry is checked strictly.
func TestIntelEntry(t *testing.T) {
	body, chain := []byte("body"), []byte("chain")
	e := collateral.EncodeIntelEntry(body, chain)
	b, c, err := collateral.DecodeIntelEntry(e)
	if err != nil || !bytes.Equal(b, body) || !bytes.Equal(c, chain) {
		t.Fatalf("round trip: %q %q %v", b, c, err)
	}
	if _, c, err := collateral.DecodeIntelEntry(collateral.EncodeIntelEntry(body, nil)); err != nil || c != nil {
		t.Errorf("no chain: %q %v", c, err)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, {0, 0, 0, 0, 'x'}, {0, 0, 0, 9, 'x'}, {0xff, 0xff, 0xff, 0xff, 'x'}, make([]byte, collateral.MaxIntelEntrySize+1)} {
		if _, _, err := collateral.DecodeIntelEntry(bad); err == nil {
			t.Errorf("%.16x: no error", bad)
		}
	}
}

// FuzzDecodeIntelEntry: no panic; what decodes encodes back to the input.
func FuzzDecodeIntelEntry(f *testing.F) {
	f.Add(collateral.EncodeIntelEntry([]byte("b"), []byte("c")))
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, entry []byte) {
		b, c, err := collateral.DecodeIntelEntry(entry)
		if err == nil && !bytes.Equal(collateral.EncodeIntelEntry(b, c), entry) {
			t.Fatalf("%x does not encode back", entry)
		}
	})
}
