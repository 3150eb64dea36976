package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
