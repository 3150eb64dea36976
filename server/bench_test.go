package server_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/server"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// BenchmarkAttestHTTP measures one POST /v1/attest end to end over loopback
// HTTP: the client's request encoding and transport, the server's decoding,
// challenge spending, verification and HPKE sealing, the response. Getting
// the challenge and building the evidence over its nonce (RSA signing) are
// not timed.
//
//   - repeat-v1: a known VM (one HCL report and VCEK) with a new quote per
//     challenge: the steady state of a fleet; compare with one RSA-2048
//     verification (bench.BenchmarkRSA2048).
//   - fresh-report-v2: v2 evidence, whose HCL report is refreshed with the
//     nonce each time: its report signature (ECDSA P-384) is new too, the
//     VCEK chain is cached.
func BenchmarkAttestHTTP(b *testing.B) {
	base, err := (&testev.Builder{Version: 1}).Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("repeat-v1", func(b *testing.B) {
		benchAttestHTTP(b, func(nonce []byte) ([]byte, error) { return testev.Reattest(base.Evidence, testev.AKKey(), nonce) })
	})
	b.Run("fresh-report-v2", func(b *testing.B) {
		benchAttestHTTP(b, func(nonce []byte) ([]byte, error) {
			e, err := (&testev.Builder{Version: 2, Nonce: nonce, VCEKDER: base.VCEKDER}).Build()
			if err != nil {
				return nil, err
			}
			return e.JSON, nil
		})
	})
}

func benchAttestHTTP(b *testing.B, gather func(nonce []byte) ([]byte, error)) {
	v, err := verify.New(verify.Config{Roots: testev.Roots()})
	if err != nil {
		b.Fatal(err)
	}
	s, err := server.New(server.Config{Secret: []byte("benchmark secret"), Verifier: v})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	c := &server.Client{URL: ts.URL, HTTPClient: ts.Client()}
	ctx := context.Background()

	next := func() ([]byte, error) {
		req, _, err := c.Request(ctx, func(_ context.Context, nonce []byte) ([]byte, error) { return gather(nonce) })
		if err != nil {
			return nil, err
		}
		return json.Marshal(req)
	}
	// Warm up: the first attestation fills the verifier's caches.
	body, err := next()
	if err != nil {
		b.Fatal(err)
	}
	var ar server.AttestResponse
	if err := c.Post(ctx, server.PathAttest, body, &ar); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		body, err := next()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := c.Post(ctx, server.PathAttest, body, &ar); err != nil {
			b.Fatal(err)
		}
	}
}
