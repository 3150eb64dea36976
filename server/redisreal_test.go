package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// These tests run against a real redis-server (testutil.StartRedis): they
// skip only when it is not installed outside CI.

// fleet is two replicas sharing one real Redis.
type fleet struct {
	redis *testutil.Redis
	s     [2]*Server
	ts    [2]*httptest.Server
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{redis: testutil.StartRedis(t)}
	for i := range f.s {
		f.s[i] = newRedisServer(t, redisConfig(f.redis.URL))
		f.ts[i] = startHTTP(t, f.s[i])
	}
	return f
}

func TestRealRedisChallengeSpentAtOtherReplica(t *testing.T) {
	f := newFleet(t)
	ch, pub, ev := challenged(t, f.ts[0].URL, synthetic(t))
	body := mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub})
	if st, er, _ := postRaw(t, f.ts[1].URL+PathAttest, body); st != 200 {
		t.Fatalf("challenge of A at B: %d %+v", st, er)
	}
	for i, ts := range f.ts {
		if st, er, _ := postRaw(t, ts.URL+PathAttest, body); st != 401 || er.Check != CheckChallenge {
			t.Errorf("replay at replica %d: %d %+v", i, st, er)
		}
	}
	// The client library across replicas, both ways.
	for i := range 2 {
		req, priv, err := (&Client{URL: f.ts[i].URL}).Request(context.Background(), synthetic(t))
		if err != nil {
			t.Fatal(err)
		}
		var resp AttestResponse
		if err := (&Client{URL: f.ts[1-i].URL}).Post(context.Background(), PathAttest, mustJSON(t, req), &resp); err != nil {
			t.Fatalf("challenge of %d at %d: %v", i, 1-i, err)
		}
		if got, err := OpenSecret(priv, Nonce(req.Challenge, req.PublicKey), resp.Ciphertext); err != nil || !bytes.Equal(got, testSecret) {
			t.Fatalf("secret = %q, %v", got, err)
		}
	}
}

// replayAtBoth posts body n times at once, alternately at each URL, and
// counts the answers by status.
func replayAtBoth(t *testing.T, urls [2]string, body []byte, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(urls[i%2]+PathAttest, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			got[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return got
}

func TestRealRedisConcurrentReplayAtBothReplicasOneWins(t *testing.T) {
	f := newFleet(t)
	urls := [2]string{f.ts[0].URL, f.ts[1].URL}
	const challenges, replays = 8, 24
	for c := range challenges {
		ch, pub, ev := challenged(t, urls[c%2], synthetic(t))
		got := replayAtBoth(t, urls, mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub}), replays)
		if got[200] != 1 || got[401] != replays-1 {
			t.Fatalf("challenge %d replayed %d times at both replicas: %v, want one 200 and %d 401", c, replays, got, replays-1)
		}
	}
	for i, s := range f.s {
		if n, err := s.store.outstanding(context.Background()); err != nil || n != 0 {
			t.Errorf("replica %d: %d outstanding, %v", i, n, err)
		}
	}
}

func TestRealRedisLimitsAcrossReplicas(t *testing.T) {
	r := testutil.StartRedis(t)
	cfg := redisConfig(r.URL)
	cfg.MaxClientChallenges = 4
	a, b := newRedisServer(t, cfg), newRedisServer(t, cfg)
	ta, tb := startHTTP(t, a), startHTTP(t, b)
	for i := range 4 {
		getChallenge(t, []string{ta.URL, tb.URL}[i%2])
	}
	for _, url := range []string{ta.URL, tb.URL} {
		resp, err := http.Post(url+PathChallenge, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("5th challenge of one client: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}

// loadStats counts the outcomes of attestLoop.
type loadStats struct {
	ok, unavailable, denied, other atomic.Int64
	okAfterKill                    atomic.Int64
}

func TestRealRedisOutageFailsClosedAndRecovers(t *testing.T) {
	f := newFleet(t)
	// Challenges issued before the outage: one spent, one not.
	spentCh, spentPub, spentEv := challenged(t, f.ts[0].URL, synthetic(t))
	spent := mustJSON(t, AttestRequest{Challenge: spentCh, Evidence: spentEv, PublicKey: spentPub})
	if st, _, _ := postRaw(t, f.ts[1].URL+PathAttest, spent); st != 200 {
		t.Fatalf("before the outage: %d", st)
	}
	pendCh, pendPub, pendEv := challenged(t, f.ts[1].URL, synthetic(t))
	pending := mustJSON(t, AttestRequest{Challenge: pendCh, Evidence: pendEv, PublicKey: pendPub})

	// Load on both replicas while Redis dies.
	var st loadStats
	var killed atomic.Bool
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { attestLoop(ctx, t, f.ts[w%2].URL, &st, &killed) })
	}
	time.Sleep(300 * time.Millisecond)
	okBefore := st.ok.Load()
	f.redis.Stop()
	killed.Store(true) // from here on, every attestation that starts must fail
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("load: %d ok before the kill, %d ok after, %d 503, %d 401, %d other", okBefore, st.okAfterKill.Load(), st.unavailable.Load(), st.denied.Load(), st.other.Load())
	if okBefore == 0 || st.unavailable.Load() == 0 {
		t.Fatalf("the load did not span the outage: %d ok before, %d 503", okBefore, st.unavailable.Load())
	}
	if st.other.Load() != 0 {
		t.Errorf("%d answers neither 200, 401 nor 503", st.other.Load())
	}
	for _, ts := range f.ts {
		assertRedisDown(t, ts.URL, pending)
	}

	// Redis returns (empty: no persistence) on the same socket: service
	// resumes by itself, and no challenge from before is usable.
	f.redis.Start()
	for i, ts := range f.ts {
		waitReady(t, ts.URL)
		if _, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t)); err != nil {
			t.Errorf("replica %d after Redis returned: %v", i, err)
		}
		for name, body := range map[string][]byte{"spent": spent, "pending": pending} {
			if code, er, _ := postRaw(t, ts.URL+PathAttest, body); code != 401 {
				t.Errorf("replica %d: challenge %s before the outage, used after: %d %+v", i, name, code, er)
			}
		}
	}
}

// attestLoop runs challenge+attest pairs against url until ctx is done,
// counting outcomes; a success that started after killed was set is
// counted apart (it must not happen).
func attestLoop(ctx context.Context, t *testing.T, url string, st *loadStats, killed *atomic.Bool) {
	c := &Client{URL: url}
	for ctx.Err() == nil {
		afterKill := killed.Load()
		_, err := c.Attest(ctx, synthetic(t))
		switch {
		case err == nil && afterKill:
			st.okAfterKill.Add(1)
		case err == nil:
			st.ok.Add(1)
		case ctx.Err() != nil:
		default:
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok {
				st.other.Add(1)
				continue
			}
			switch apiErr.StatusCode {
			case http.StatusServiceUnavailable:
				st.unavailable.Add(1)
				time.Sleep(5 * time.Millisecond)
			case http.StatusUnauthorized:
				st.denied.Add(1)
			default:
				st.other.Add(1)
			}
		}
	}
	if n := st.okAfterKill.Load(); n != 0 {
		t.Errorf("%d attestations that started after Redis was killed got the secret", n)
	}
}

// waitReady polls /readyz until 200, at most 10 s.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url + PathReady)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 within 10 s of Redis returning", url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkChallengePair measures one issue and one spend of a challenge
// in each store: memory, and a real Redis on a Unix socket (two round
// trips). The rest of an attestation (verification, sealing, HTTP) is the
// same for both: see BenchmarkAttestHTTP.
func BenchmarkChallengePair(b *testing.B) {
	bench := func(b *testing.B, st store) {
		ctx := context.Background()
		for b.Loop() {
			k, _, _, err := st.issue(ctx, "192.0.2.1")
			if err != nil {
				b.Fatal(err)
			}
			if err := st.consume(ctx, k[:]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) {
		bench(b, memStore{newChallengeStore(time.Minute, DefaultMaxChallenges, DefaultMaxClientChallenges, time.Now)})
	})
	b.Run("redis-unix", func(b *testing.B) {
		r := testutil.StartRedis(b)
		st, err := newRedisStore(&RedisConfig{URL: r.URL}, time.Minute, DefaultMaxChallenges, DefaultMaxClientChallenges, time.Now, newRedisMetrics())
		if err != nil {
			b.Fatal(err)
		}
		defer st.close()
		bench(b, st)
	})
}
