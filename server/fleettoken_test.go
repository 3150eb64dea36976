package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/result"
)

// TestFleetResultTokens spends a challenge of replica A at replica B (one
// Redis) and checks B's result token against the JWKS each replica
// publishes: with the key and issuer shared, as the fleet's docs require,
// it verifies at both, bound to the exchange's nonce; with another key at
// B (a rotation half rolled out) or another issuer, the JWKS or the issuer
// of A refuses it, naming the check; with both keys published by both
// replicas (PublishKeys, serve --publish-keys) the rotation is seamless.
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
		name    string
		keyB    *ecdsa.PrivateKey
		issB    string
		publish bool         // both replicas publish both keys
		check   result.Check // refusal with A's JWKS and issuer; "" accepts
	}{
		{"shared key and issuer", keyA, iss, false, ""},
		{"B rotated to another key", keyB, iss, false, result.CheckKey},
		{"B rotated, both keys published", keyB, iss, true, ""},
		{"B with its own issuer", keyA, "https://replica-b.test", false, result.CheckIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "redis://" + newMiniRedis(t).Addr()
			replica := func(key *ecdsa.PrivateKey, issuer string) string {
				cfg := redisConfig(url)
				if cfg.Signer, err = result.NewSigner(key, issuer); err != nil {
					t.Fatal(err)
				}
				if tc.publish {
					cfg.PublishKeys = []*ecdsa.PublicKey{&keyA.PublicKey, &keyB.PublicKey}
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

// TestPublishKeys: the JWKS lists the signer's key first and once (also
// when PublishKeys repeats it), then the other keys; PublishKeys without
// a Signer, with a nil key, a key of another curve than P-256 or with
// more keys than a JWKS may hold is refused by New.
func TestPublishKeys(t *testing.T) {
	keys := make([]*ecdsa.PublicKey, result.MaxKeys+1)
	var signer *result.Signer
	for i := range keys {
		key, _, err := result.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = &key.PublicKey
		if i == 0 {
			if signer, err = result.NewSigner(key, "https://verifier.test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Secret: []byte("s"), Signer: signer, PublishKeys: []*ecdsa.PublicKey{keys[1], keys[0], keys[1]}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := result.ParseJWKS(s.jwks)
	if err != nil {
		t.Fatal(err)
	}
	has := func(got []*ecdsa.PublicKey, k *ecdsa.PublicKey) bool {
		return slices.ContainsFunc(got, func(p *ecdsa.PublicKey) bool { return p.Equal(k) })
	}
	if got := ks.PublicKeys(); len(got) != 2 || !has(got, keys[0]) || !has(got, keys[1]) {
		t.Fatalf("JWKS %s: want the signer's key and one other", s.jwks)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"without a Signer", Config{Secret: []byte("s"), PublishKeys: keys[1:2]}},
		{"a nil key", Config{Secret: []byte("s"), Signer: signer, PublishKeys: []*ecdsa.PublicKey{nil}}},
		{"too many keys", Config{Secret: []byte("s"), Signer: signer, PublishKeys: keys[1:]}},
		// ES256 only: a JWKS entry must be a P-256 key.
		{"a P-384 key", Config{Secret: []byte("s"), Signer: signer, PublishKeys: []*ecdsa.PublicKey{&p384.PublicKey}}},
	} {
		if _, err := New(tc.cfg); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}
