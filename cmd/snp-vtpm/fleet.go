package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// serveCollectors returns the certificate metrics of kc and, with --redis
// (rc), puts the fleet's collateral cache into kc (fleetCache); closeFn
// closes its connection.
func serveCollectors(kc *collateral.Chain, rc *server.RedisConfig) (cs []prometheus.Collector, closeFn func() error, err error) {
	cs = kdsCollectors(kc)
	if rc == nil || kc == nil {
		return cs, func() error { return nil }, nil
	}
	more, closeFn, err := fleetCache(kc, rc)
	if err != nil {
		return nil, nil, err
	}
	return append(cs, more...), closeFn, nil
}

// fleetCache puts the fleet's collateral cache (Redis, the same server
// and prefix as the challenges) into kc after its Memory, before any use:
// a certificate one replica fetched and validated serves them all, and
// their concurrent misses make one KDS request. It returns the metrics of
// the cache and a function closing its connection.
func fleetCache(kc *collateral.Chain, rc *server.RedisConfig) ([]prometheus.Collector, func() error, error) {
	opts, err := server.ParseRedisURL(rc.URL)
	if err != nil {
		return nil, nil, err
	}
	if opts.Password == "" {
		opts.Password = rc.Password
	}
	timeout := rc.Timeout
	if timeout <= 0 {
		timeout = server.DefaultRedisTimeout
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1   // a miss goes on to KDS; no retry needed
	opts.DialerRetries = 1 // Redis down: fall through to KDS at once
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	rdb := redis.NewClient(opts)
	cache := &rediscache.Cache{Client: rdb, Prefix: rc.Prefix}
	sources := make([]collateral.Source, 0, len(kc.Sources)+1)
	inserted := false
	for _, s := range kc.Sources {
		sources = append(sources, s)
		if _, ok := s.(*collateral.Memory); ok && !inserted {
			sources, inserted = append(sources, cache), true
		}
	}
	if !inserted {
		sources = append([]collateral.Source{cache}, sources...)
	}
	kc.Sources = sources
	counter := func(name, help string, v func(rediscache.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "snp_vtpm", Subsystem: "fleet_cache", Name: name, Help: help},
			func() float64 { return float64(v(cache.Stats())) })
	}
	return []prometheus.Collector{
		counter("hits_total", "Entries read from the fleet's collateral cache in Redis (validated again before use).", func(s rediscache.Stats) int64 { return s.Hits }),
		counter("misses_total", "Collateral not in the fleet's Redis cache.", func(s rediscache.Stats) int64 { return s.Misses }),
		counter("errors_total", "Redis commands of the collateral cache that failed (verification went on to KDS).", func(s rediscache.Stats) int64 { return s.Errors }),
		counter("stores_total", "Validated collateral written to the fleet's Redis cache.", func(s rediscache.Stats) int64 { return s.Stores }),
		counter("round_trips_total", "Commands the collateral cache sent to Redis (one round trip each).", func(s rediscache.Stats) int64 { return s.RoundTrips }),
		counter("locks_total", "Fleet fetch locks taken (one replica fetching for all).", func(s rediscache.Stats) int64 { return s.Locks }),
	}, rdb.Close, nil
}
