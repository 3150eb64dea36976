package rediscache_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/kds"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestLockRenewedDuringSlowFetch: replica A's VCEK fetch takes far longer
// than LockTTL (KDS's retries, back-off and Retry-After can take
// minutes; DefaultLockTTL is 10 s). Redis's clock is moved on by many
// LockTTLs while it runs (miniredis FastForward): A's lock is renewed, so
// replica B waits for A instead of fetching the same VCEK, then takes it
// from Redis. Before, the lock expired after LockTTL and B fetched too.
// Once A released the lock, it is gone and no longer renewed.
func TestLockRenewedDuringSlowFetch(t *testing.T) {
	const ttl = 300 * time.Millisecond
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	ev := (&testev.Builder{OmitVCEK: true, ChipID: unseenChip(0x31)}).MustBuild()
	k := newSlowKDS(t, ev)
	replica := func() (*collateral.Chain, *rediscache.Cache) {
		cache := &rediscache.Cache{Client: rdb, Prefix: "t:", LockTTL: ttl}
		return &collateral.Chain{Sources: []collateral.Source{&collateral.Memory{}, cache,
			&collateral.KDS{Client: &kds.Client{BaseURL: k.URL, MaxRetries: -1}}}}, cache
	}
	a, aCache := replica()
	b, _ := replica()
	req := verify.VCEKRequest{Product: "Milan", ChipID: ev.ChipID[:], ReportedTCB: reportedTCB(t, ev)}
	key, err := collateral.NewKey("Milan", ev.ChipID[:], req.ReportedTCB)
	if err != nil {
		t.Fatal(err)
	}
	lock := "t:col:lock:vcek/" + key.String()

	aDone := make(chan error, 1)
	go func() {
		_, err := a.GetVCEK(context.Background(), req)
		aDone <- err
	}()
	select {
	case <-k.started:
	case <-time.After(5 * time.Second):
		t.Fatal("replica A did not ask KDS")
	}
	// Redis's clock moves on by 10 LockTTLs while A's fetch runs.
	fastForward(t, mr, lock, ttl, 12)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	_, err = b.GetVCEK(ctx, req)
	cancel()
	if n := k.fetches.Load(); n != 1 || err == nil || !strings.Contains(err.Error(), "another replica") {
		t.Fatalf("replica B while A's fetch runs: %v, %d KDS fetches; want it waiting for A, 1 fetch", err, n)
	}
	if s := b.Stats(); s.LockWaits == 0 {
		t.Errorf("replica B did not wait for the lock: %+v", s)
	}
	if s := aCache.Stats(); s.LockRenewals < 12 {
		t.Errorf("lock renewed %d times, want at least 12", s.LockRenewals)
	}

	close(k.release)
	if err := <-aDone; err != nil {
		t.Fatalf("replica A: %v", err)
	}
	if mr.Exists(lock) {
		t.Errorf("lock %s still held after A's fetch", lock)
	}
	if _, err := b.GetVCEK(context.Background(), req); err != nil || k.fetches.Load() != 1 {
		t.Fatalf("replica B after A's fetch: %v, %d KDS fetches; want the VCEK from Redis", err, k.fetches.Load())
	}
	renewals := aCache.Stats().LockRenewals
	time.Sleep(2 * ttl)
	if got := aCache.Stats().LockRenewals; got != renewals || mr.Exists(lock) {
		t.Errorf("lock renewed after it was released (%d renewals, then %d)", renewals, got)
	}
}

// slowKDS serves the VCEK of one chip, each answer held until release is
// closed (or the request ends); started gets a value when a fetch starts.
type slowKDS struct {
	*httptest.Server
	fetches          atomic.Int64
	started, release chan struct{}
}

func newSlowKDS(t *testing.T, ev *testev.Evidence) *slowKDS {
	t.Helper()
	k := &slowKDS{started: make(chan struct{}, 1), release: make(chan struct{})}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/vcek/v1/Milan/"+hex.EncodeToString(ev.ChipID[:]) {
			http.NotFound(w, r)
			return
		}
		k.fetches.Add(1)
		select {
		case k.started <- struct{}{}:
		default:
		}
		select {
		case <-k.release:
			_, _ = w.Write(ev.VCEKDER)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(k.Close)
	t.Cleanup(func() {
		select {
		case <-k.release:
		default:
			close(k.release)
		}
	})
	return k
}

// fastForward moves Redis's clock on steps times by 5/6 of ttl (each step
// short of the expiry of a lock just renewed), each time waiting up to 1 s
// for the holder to renew lock.
func fastForward(t *testing.T, mr *miniredis.Miniredis, lock string, ttl time.Duration, steps int) {
	t.Helper()
	step := ttl * 5 / 6
	for i := range steps {
		mr.FastForward(step)
		deadline := time.Now().Add(time.Second)
		for mr.TTL(lock) <= ttl-step && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if mr.TTL(lock) <= ttl-step {
			t.Logf("step %d: the lock was not renewed (TTL %v)", i, mr.TTL(lock))
		}
	}
}

// TestLockRenewalEndsWithContext: a holder whose context ended (its fetch
// is abandoned) stops renewing its lock, which then expires after LockTTL
// as a crashed holder's does, even if unlock is never called.
func TestLockRenewalEndsWithContext(t *testing.T) {
	const ttl = 90 * time.Millisecond
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	cache := &rediscache.Cache{Client: rdb, Prefix: "t:", LockTTL: ttl}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unlock, ok, err := cache.TryLock(ctx, "item")
	if err != nil || !ok {
		t.Fatalf("TryLock: %v, %v", ok, err)
	}
	defer unlock()
	deadline := time.Now().Add(5 * time.Second)
	for cache.Stats().LockRenewals == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if cache.Stats().LockRenewals == 0 {
		t.Fatal("the lock was never renewed")
	}
	cancel()
	time.Sleep(ttl)
	renewals := cache.Stats().LockRenewals
	time.Sleep(2 * ttl)
	if got := cache.Stats().LockRenewals; got != renewals {
		t.Errorf("renewed %d more times after the holder's context ended", got-renewals)
	}
	mr.FastForward(ttl)
	if mr.Exists("t:col:lock:item") {
		t.Error("the abandoned lock did not expire after LockTTL")
	}
}
