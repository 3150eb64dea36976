package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// serveCollectors returns the certificate metrics of kc and in and, with --redis
// (rc), puts the fleet's collateral cache into kc (fleetCache) and into in
// (Intel's TDX collateral; nil: none); closeFn closes its connection.
func serveCollectors(kc *collateral.Chain, in *collateral.Intel, rc *server.RedisConfig) (cs []prometheus.Collector, closeFn func() error, err error) {
	cs = append(kdsCollectors(kc), intelCollectors(in)...)
	if rc == nil || kc == nil {
		return cs, func() error { return nil }, nil
	}
	more, closeFn, err := fleetCache(kc, in, rc)
	if err != nil {
		return nil, nil, err
	}
	return append(cs, more...), closeFn, nil
}

// fleetCache puts the fleet's collateral cache (Redis, the same server
// and prefix as the challenges) into kc after its Memory, and into in as
// its Fleet, before any use: a certificate (or an item of Intel's
// collateral) one replica fetched and validated serves them all, and their
// concurrent misses make one KDS request. It returns the metrics of the
// cache and a function closing its connection.
func fleetCache(kc *collateral.Chain, in *collateral.Intel, rc *server.RedisConfig) ([]prometheus.Collector, func() error, error) {
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
	if in != nil {
		in.Fleet = cache
	}
	return []prometheus.Collector{fleetCacheMetrics{cache: cache, desc: prometheus.NewDesc("snp_vtpm_fleet_cache_events_total",
		"The fleet's collateral cache in Redis, by event: hit (read; validated again before use), miss, store (validated collateral written), "+
			"lock (a fetch lock taken: one replica fetching for all), lock_renewal (a fetch lock renewed while its fetch ran), error (a failed command: verification went on to KDS), round_trip (a command sent).",
		[]string{"event"}, nil)}}, rdb.Close, nil
}

// intelCollectors returns the metrics of Intel's collateral source (nil:
// none).
func intelCollectors(in *collateral.Intel) []prometheus.Collector {
	if in == nil {
		return nil
	}
	return statCollectors("pcs", in.Stats, []statCounter[collateral.IntelStats]{
		{"fetches_total", "HTTP requests sent to Intel PCS (--pcs-url) for TDX collateral, retries included.", func(s collateral.IntelStats) int64 { return s.Fetches }},
		{"cache_hits_total", "Intel collateral items served from memory.", func(s collateral.IntelStats) int64 { return s.CacheHits }},
		{"negative_hits_total", "Intel collateral requests answered by a remembered recent PCS failure, without a fetch.", func(s collateral.IntelStats) int64 { return s.NegativeHits }},
		{"fleet_hits_total", "Intel collateral items served from the fleet's cache in Redis, verified again (--redis).", func(s collateral.IntelStats) int64 { return s.FleetHits }},
		{"fleet_rejected_total", "Intel collateral entries in Redis that did not verify (refetched) (--redis).", func(s collateral.IntelStats) int64 { return s.FleetRejected }},
	})
}

// fleetCacheMetrics exports the Stats of a rediscache.Cache.
type fleetCacheMetrics struct {
	cache *rediscache.Cache
	desc  *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (m fleetCacheMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

// Collect implements prometheus.Collector.
func (m fleetCacheMetrics) Collect(ch chan<- prometheus.Metric) {
	s := m.cache.Stats()
	for _, e := range []struct {
		event string
		n     int64
	}{{"hit", s.Hits}, {"miss", s.Misses}, {"store", s.Stores}, {"lock", s.Locks}, {"lock_renewal", s.LockRenewals}, {"error", s.Errors}, {"round_trip", s.RoundTrips}} {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(e.n), e.event)
	}
}
