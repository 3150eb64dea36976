package server

import (
	"bytes"
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestBodyBufferNotRetained: with every request body buffer overwritten
// before it is pooled again, attestations keep verifying, give the same
// claims and secrets, and the verifiers' caches keep hitting without a
// new miss: nothing (a cache key or value, a decoded field, a resource
// verifier, an error or a log line) holds a slice of a buffer after its
// request. A cache that kept one would find its key or value scribbled
// over by the next request and miss, or return garbage and fail.
func TestBodyBufferNotRetained(t *testing.T) {
	cfg := testConfig()
	cfg.Resources = map[string]Resource{"db": {Secret: []byte("db secret"), Policy: &verify.Policy{}}}
	s := newServer(t, cfg)
	// Every buffer is overwritten on its way back to the pool, so that
	// anything still holding a slice of it would see its bytes change.
	var mu sync.Mutex
	seen := map[*byte]int{}
	s.bodyHook = func(buf []byte) {
		for i := range buf {
			buf[i] = 0xA5
		}
		mu.Lock()
		defer mu.Unlock()
		seen[&buf[0]]++
	}
	ts := startHTTP(t, s)
	ctx := context.Background()
	var bases []*testev.Evidence
	for _, vm := range []string{"vm-a", "vm-b"} {
		vc := testev.DefaultVMConfig()
		vc.VMUniqueID = vm
		b, err := (&testev.Builder{Version: 1, VMConfig: vc}).Build()
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, b)
	}
	attest := func(base *testev.Evidence, resource string) Claims {
		t.Helper()
		c := &Client{URL: ts.URL, Resource: resource}
		res, err := c.Attest(ctx, func(_ context.Context, nonce []byte) ([]byte, error) {
			return testev.Reattest(base.Evidence, testev.AKKey(), nonce)
		})
		want := testSecret
		if resource != "" {
			want = []byte("db secret")
		}
		if err != nil || !bytes.Equal(res.Secret, want) {
			t.Fatalf("attest %s: %v", resource, err)
		}
		// A malformed request and a rejected one between the good ones.
		postRaw(t, ts.URL+PathAttest, []byte(`{"challenge":"AAAA","evidence":{"version":1,"x":"\u00e9"}}`))
		return res.Claims
	}
	first := map[string]Claims{}
	for _, res := range []string{"", "db"} { // warm up every cache of both verifiers
		for i, b := range bases {
			first[string(rune('0'+i))+res] = attest(b, res)
		}
	}
	before := []verify.Stats{s.verifier.Stats(), s.resources["db"].verifier.Stats()}
	for range 10 {
		for _, res := range []string{"", "db"} {
			for i, b := range bases {
				if got, want := attest(b, res), first[string(rune('0'+i))+res]; !reflect.DeepEqual(got, want) {
					t.Fatalf("claims changed: %+v, want %+v", got, want)
				}
			}
		}
	}
	// Buffers were reused: requests read into buffers earlier requests
	// had scribbled over.
	mu.Lock()
	reused := 0
	for _, n := range seen {
		reused += n - 1
	}
	mu.Unlock()
	if reused == 0 {
		t.Error("no body buffer was reused")
	}
	after := []verify.Stats{s.verifier.Stats(), s.resources["db"].verifier.Stats()}
	for i := range after {
		b, a := before[i], after[i]
		for name, c := range map[string][2]verify.CacheStats{
			"Evidence": {b.Evidence, a.Evidence}, "HCLReports": {b.HCLReports, a.HCLReports},
			"Reports": {b.Reports, a.Reports}, "VCEKs": {b.VCEKs, a.VCEKs},
		} {
			if c[1].Misses != c[0].Misses || c[1].Hits <= c[0].Hits {
				t.Errorf("verifier %d, cache %s: %+v, then %+v", i, name, c[0], c[1])
			}
		}
	}
}
