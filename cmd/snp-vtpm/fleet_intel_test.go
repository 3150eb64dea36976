package main

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/snp-vtpm/snp-vtpm/collateral"
	"github.com/snp-vtpm/snp-vtpm/collateral/rediscache"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// TestServeRedisSharesIntel: serve --redis puts the fleet's cache into the
// KDS chain and, as its Fleet, into the Intel collateral source.
func TestServeRedisSharesIntel(t *testing.T) {
	kc := &collateral.Chain{Sources: []collateral.Source{&collateral.Memory{}}}
	in := &collateral.Intel{}
	cs, closeFn, err := serveCollectors(kc, in, &server.RedisConfig{URL: "redis://127.0.0.1:1/0", Prefix: "p:"})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	for _, c := range cs {
		reg.MustRegister(c)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "snp_vtpm_pcs_negative_hits_total"
	}
	if !found {
		t.Error("no snp_vtpm_pcs_negative_hits_total metric")
	}
	defer closeFn()
	c, ok := in.Fleet.(*rediscache.Cache)
	if !ok || len(kc.Sources) != 2 || kc.Sources[1] != collateral.Source(c) || c.IntelKey("rootcacrl") != "p:col:intel:rootcacrl" {
		t.Fatalf("Intel.Fleet %T, chain sources %v", in.Fleet, kc.Sources)
	}
}
