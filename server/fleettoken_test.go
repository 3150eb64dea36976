package server

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/result"
)

// TestFleetResultTokens spends a challenge of replica A at replica B (one
// Redis) and checks B's result token against the JWKS each replica
// publishes: with the key and issuer shared, as the fleet's docs require,
// it verifies at both, bound to the exchange's nonce; with another key at
// B (a rotation half rolled out) or another issuer, the JWKS or the issuer
// of A refuses it, naming the check.
func TestFleetResultTokens(t *testing.T) {
	keyA, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	keyB, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://fleet.test"
	for _, tc := range []struct {
		name  string
		keyB  *ecdsa.PrivateKey
		issB  string
		check result.Check // refusal with A's JWKS and issuer; "" accepts
	}{
		{"shared key and issuer", keyA, iss, ""},
		{"B rotated to another key", keyB, iss, result.CheckKey},
		{"B with its own issuer", keyA, "https://replica-b.test", result.CheckIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "redis://" + newMiniRedis(t).Addr()
			replica := func(key *ecdsa.PrivateKey, issuer string) string {
				cfg := redisConfig(url)
				if cfg.Signer, err = result.NewSigner(key, issuer); err != nil {
					t.Fatal(err)
				}
				return startHTTP(t, newRedisServer(t, cfg)).URL
			}
			a, b := replica(keyA, iss), replica(tc.keyB, tc.issB)
			req, _, err := (&Client{URL: a}).Request(context.Background(), synthetic(t))
			if err != nil {
				t.Fatal(err)
			}
			var resp AttestResponse
			if err := (&Client{URL: b}).Post(context.Background(), PathAttest, mustJSON(t, req), &resp); err != nil || resp.Token == "" {
				t.Fatalf("A's challenge at B: %v, token %q", err, resp.Token)
			}
			nonce := Nonce(req.Challenge, req.PublicKey)
			for _, jwksOf := range []string{a, b} {
				ks, err := result.ParseJWKS(httpGet(t, jwksOf+PathJWKS))
				if err != nil {
					t.Fatal(err)
				}
				_, err = result.Verify(context.Background(), []byte(resp.Token), result.Config{Keys: ks, Issuer: iss, Nonce: nonce})
				want := tc.check
				if jwksOf == b && want == result.CheckKey { // B's own JWKS has B's key
					want = ""
				}
				rerr, _ := errors.AsType[*result.Error](err)
				if want == "" && err != nil || want != "" && (rerr == nil || rerr.Check != want) {
					t.Errorf("B's token with the JWKS of %s: %v, want check %q", jwksOf, err, want)
				}
			}
		})
	}
}
