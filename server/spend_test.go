package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestConcurrentSpendReleasesOnce posts one attestation request (one
// challenge, evidence that verifies) from many goroutines at once, to one
// server or alternately to two replicas sharing a store: exactly one answer
// is 200 and carries the secret, every other is 401 (challenge), with the
// challenges in memory and in Redis (miniredis).
func TestConcurrentSpendReleasesOnce(t *testing.T) {
	const n = 48
	for _, tc := range []struct {
		name  string
		fleet func(t *testing.T) []string
	}{
		{"memory", func(t *testing.T) []string { return []string{startHTTP(t, newServer(t, testConfig())).URL} }},
		{"miniredis, one replica", func(t *testing.T) []string {
			return []string{startHTTP(t, newRedisServer(t, patientRedisConfig("redis://"+newMiniRedis(t).Addr()))).URL}
		}},
		{"miniredis, two replicas", func(t *testing.T) []string {
			url := "redis://" + newMiniRedis(t).Addr()
			return []string{startHTTP(t, newRedisServer(t, patientRedisConfig(url))).URL, startHTTP(t, newRedisServer(t, patientRedisConfig(url))).URL}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			urls := tc.fleet(t)
			for round := range 3 {
				priv, pub, _ := GenerateKey()
				ch := getChallenge(t, urls[round%len(urls)])
				nonce := Nonce(ch, pub)
				body := mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: evidenceFor(t, nonce)})
				answers := postConcurrently(t, urls, PathAttest, body, n)
				var secrets int
				for _, a := range answers {
					switch a.status {
					case http.StatusOK:
						var ar AttestResponse
						if err := json.Unmarshal(a.body, &ar); err != nil {
							t.Fatal(err)
						}
						if got, err := OpenSecret(priv, nonce, ar.Ciphertext); err != nil || !bytes.Equal(got, testSecret) {
							t.Fatalf("a 200 without the secret: %v", err)
						}
						secrets++
					case http.StatusUnauthorized:
					default:
						t.Fatalf("status %d: %s", a.status, a.body)
					}
				}
				if secrets != 1 {
					t.Fatalf("round %d: %d of %d concurrent spends of one challenge got the secret, want 1", round, secrets, n)
				}
			}
		})
	}
}

// patientRedisConfig is redisConfig with a Redis timeout long enough that
// 48 requests queueing for the connection pool on a loaded machine are
// not answered 503 (DefaultRedisTimeout, 1 s, also bounds the pool wait).
func patientRedisConfig(url string) Config {
	cfg := redisConfig(url)
	cfg.Redis.Timeout = 20 * time.Second
	return cfg
}

// answer is one HTTP answer: its status and body.
type answer struct {
	status int
	body   []byte
}

// postConcurrently posts body to path n times at once, alternately at each
// of urls, and returns the answers.
func postConcurrently(t *testing.T, urls []string, path string, body []byte, n int) []answer {
	t.Helper()
	out := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := http.Post(urls[i%len(urls)]+path, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out[i] = answer{resp.StatusCode, b}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// TestChallengeAtAnotherServer spends a challenge of server A at a server B
// configured otherwise: B accepts it only when both keep their challenges in
// one store (Redis, same prefix: one fleet), and then verifies and releases
// under B's own configuration, never A's.
func TestChallengeAtAnotherServer(t *testing.T) {
	strict := verify.Policy{Measurements: []verify.HexBytes{bytes.Repeat([]byte{0xee}, 48)}}
	otherSecret := []byte("B's secret")
	for _, tc := range []struct {
		name   string
		a, b   func(redisURL string) Config
		status int
		check  string
		secret []byte // released by B
	}{
		{"in memory, each its own", func(string) Config { return testConfig() }, func(string) Config { return testConfig() },
			http.StatusUnauthorized, CheckChallenge, nil},
		{"one Redis, other prefix", func(u string) Config { return redisConfig(u) }, func(u string) Config {
			c := redisConfig(u)
			c.Redis.Prefix = "other:"
			return c
		}, http.StatusUnauthorized, CheckChallenge, nil},
		{"one fleet, B's stricter policy", func(u string) Config { return redisConfig(u) }, func(u string) Config {
			c := redisConfig(u)
			c.Verifier = testVerifier(verify.Config{Roots: testev.Roots(), Policy: strict})
			return c
		}, http.StatusForbidden, string(verify.CheckMeasurement), nil},
		{"one fleet, B's secret", func(u string) Config { return redisConfig(u) }, func(u string) Config {
			c := redisConfig(u)
			c.Secret = otherSecret
			return c
		}, http.StatusOK, "", otherSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := "redis://" + newMiniRedis(t).Addr()
			a, b := newRedisServer(t, tc.a(u)), newRedisServer(t, tc.b(u))
			ua, ub := startHTTP(t, a).URL, startHTTP(t, b).URL
			priv, pub, _ := GenerateKey()
			ch := getChallenge(t, ua)
			nonce := Nonce(ch, pub)
			status, er, data := postRaw(t, ub+PathAttest, mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: evidenceFor(t, nonce)}))
			if status != tc.status || er.Check != tc.check {
				t.Fatalf("A's challenge at B: %d %s, want %d %q", status, data, tc.status, tc.check)
			}
			if tc.secret != nil {
				var ar AttestResponse
				_ = json.Unmarshal(data, &ar)
				if got, err := OpenSecret(priv, nonce, ar.Ciphertext); err != nil || !bytes.Equal(got, tc.secret) {
					t.Fatalf("B released %q, %v; want its own secret", got, err)
				}
			}
		})
	}
}

// TestRedisChallengeExpiryBoundary holds a challenge in Redis to its TTL as
// Redis keeps it: usable a millisecond before the TTL, unknown (401) a
// millisecond after, whatever the replica's clock says.
func TestRedisChallengeExpiryBoundary(t *testing.T) {
	const ttl = 30 * time.Second
	for _, tc := range []struct {
		name   string
		after  time.Duration
		status int
	}{
		{"1 ms before the TTL", ttl - time.Millisecond, http.StatusOK},
		{"1 ms after the TTL", ttl + time.Millisecond, http.StatusUnauthorized},
		{"long after", 10 * ttl, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr := newMiniRedis(t)
			cfg := redisConfig("redis://" + mr.Addr())
			cfg.ChallengeTTL = ttl
			cfg.Now = newFakeClock().Now // the replica's clock stands still
			ts := startHTTP(t, newRedisServer(t, cfg))
			_, pub, _ := GenerateKey()
			ch := getChallenge(t, ts.URL)
			ev := evidenceFor(t, Nonce(ch, pub))
			mr.FastForward(tc.after)
			if status, er := attestOnce(t, ts.URL, ch, pub, ev); status != tc.status {
				t.Fatalf("%d %+v, want %d", status, er, tc.status)
			}
		})
	}
}
