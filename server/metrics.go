package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

// metricsNamespace prefixes every metric of the server.
const metricsNamespace = "snp_vtpm"

// Result label values of snp_vtpm_attestations_total.
const (
	resultSuccess  = "success"
	resultRejected = "rejected" // evidence failed a verification check
	resultDenied   = "denied"   // unknown, used or expired challenge
	resultInvalid  = "invalid"  // malformed request
	resultError    = "error"    // the server failed
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg              *prometheus.Registry
	attestations     *prometheus.CounterVec
	latency          *prometheus.HistogramVec
	challengesIssued prometheus.Counter
	challengesFull   *prometheus.CounterVec
}

func newMetrics(outstanding func() float64, extra []prometheus.Collector) (*metrics, error) {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		attestations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "attestations_total",
			Help:      "Attestation requests by result (success, rejected, denied, invalid, error) and reason (the failed check; none on success).",
		}, []string{"result", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace,
			Name:      "attestation_duration_seconds",
			Help:      "Time to handle an attestation request, by result.",
			Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		challengesIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "challenges_issued_total",
			Help:      "Challenges issued.",
		}),
		challengesFull: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "challenges_refused_total",
			Help:      "Challenge requests refused because too many challenges were outstanding, by limit: client (429) or total (503).",
		}, []string{"limit"}),
	}
	cs := []prometheus.Collector{
		m.attestations, m.latency, m.challengesIssued, m.challengesFull,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: metricsNamespace,
			Name:      "challenges_outstanding",
			Help:      "Challenges issued, not yet used and not expired.",
		}, outstanding),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range append(cs, extra...) {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// verifierCollector exports the counters of a Verifier's caches
// (verify.Stats), labelled by cache: vcek (verified VCEK chains), report
// (report signatures), hcl (parsed HCL reports) and evidence (decoded
// evidence fields).
type verifierCollector struct {
	v                           *verify.Verifier
	hits, misses, entries, size *prometheus.Desc
}

func newVerifierCollector(v *verify.Verifier) *verifierCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "verify_cache", name), help, []string{"cache"}, nil)
	}
	return &verifierCollector{
		v:       v,
		hits:    desc("hits_total", "Verifier cache lookups that found a verified result, by cache."),
		misses:  desc("misses_total", "Verifier cache lookups that found nothing, by cache."),
		entries: desc("entries", "Entries held by a verifier cache."),
		size:    desc("bytes", "Bytes held by a verifier cache (keys and results)."),
	}
}

// Describe implements prometheus.Collector.
func (c *verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.misses
	ch <- c.entries
	ch <- c.size
}

// Collect implements prometheus.Collector.
func (c *verifierCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.v.Stats()
	for _, e := range []struct {
		name string
		s    verify.CacheStats
	}{{"vcek", s.VCEKs}, {"report", s.Reports}, {"hcl", s.HCLReports}, {"evidence", s.Evidence}} {
		ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(e.s.Hits), e.name)
		ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(e.s.Misses), e.name)
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(e.s.Entries), e.name)
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(e.s.Bytes), e.name)
	}
}
