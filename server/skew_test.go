package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestRedisLimitsHoldUnderClockSkew runs two replicas sharing one Redis
// whose clocks disagree by more than a challenge's TTL: a client's quota
// taken at one replica still holds at the other, both ways, and the
// Retry-After of the refusal is at most the TTL, and both count the same
// outstanding challenges. The sorted sets of the
// limits were scored by each replica's clock, so a replica ahead trimmed
// the others' live challenges as expired (the quota no longer held) and a
// replica behind counted their expiry as far away (a Retry-After of hours).
func TestRedisLimitsHoldUnderClockSkew(t *testing.T) {
	const ttl = 30 * time.Second
	for _, backend := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"miniredis", func(t *testing.T) string { return "redis://" + newMiniRedis(t).Addr() }},
		{"redis-server", func(t *testing.T) string { return testutil.StartRedis(t).URL }},
	} {
		for _, tc := range []struct {
			name string
			skew time.Duration // of replica a's clock against b's
		}{
			{"a ahead by 2 TTL", 2 * ttl},
			{"a behind by 2 TTL", -2 * ttl},
			{"a ahead by an hour", time.Hour},
			{"a behind by an hour", -time.Hour},
		} {
			t.Run(backend.name+"/"+tc.name, func(t *testing.T) {
				url := backend.url(t)
				replica := func(skew time.Duration) *Server {
					cfg := redisConfig(url)
					cfg.ChallengeTTL, cfg.MaxClientChallenges = ttl, 2
					cfg.Now = func() time.Time { return time.Now().Add(skew) }
					return newRedisServer(t, cfg)
				}
				a, b := replica(tc.skew), replica(0)
				assertQuotaAcross(t, a, b, "192.0.2.1", ttl)
				assertQuotaAcross(t, b, a, "192.0.2.2", ttl)
				for i, s := range []*Server{a, b} {
					if n, err := s.store.outstanding(context.Background()); err != nil || n != 4 {
						t.Errorf("replica %d counts %d outstanding, %v; want 4", i, n, err)
					}
				}
			})
		}
	}
}

// assertQuotaAcross fills client's quota (2) at from, then asks to at: the
// answer must be errClientChallenges with a retry of 1 s to ttl.
func assertQuotaAcross(t *testing.T, from, to *Server, client string, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i := range 2 {
		if _, _, _, err := from.store.issue(ctx, client); err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
	}
	_, _, retry, err := to.store.issue(ctx, client)
	if !errors.Is(err, errClientChallenges) {
		t.Fatalf("3rd challenge of a client with a quota of 2, at the other replica: %v, want %v", err, errClientChallenges)
	}
	if retry < time.Second || retry > ttl {
		t.Fatalf("Retry-After %v, want 1s to the TTL %v", retry, ttl)
	}
}
