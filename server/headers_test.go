package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/result"
)

// TestEveryAnswerNoStore holds every answer of the API, the well-known
// documents and the probes, success or error, to Cache-Control: no-store
// (a cache between attester and verifier must not keep a challenge, a
// sealed secret or a result token), nosniff and a JSON content type.
func TestEveryAnswerNoStore(t *testing.T) {
	cfg := testConfig()
	cfg.Resources = map[string]Resource{"db": {Secret: []byte("pw-db")}}
	cfg.MaxClientChallenges = 8
	cfg.MaxBodyBytes = 64 << 10
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Signer, err = result.NewSigner(key, "https://verifier.test"); err != nil {
		t.Fatal(err)
	}
	url := startHTTP(t, newServer(t, cfg)).URL
	full := testConfig()
	full.MaxChallenges = 1
	fullURL := startHTTP(t, newServer(t, full)).URL
	getChallenge(t, fullURL)
	mr := newMiniRedis(t)
	down := startHTTP(t, newRedisServer(t, redisConfig("redis://"+mr.Addr()))).URL
	mr.Close()

	attest := func(resource string, otherKey bool) []byte {
		_, pub, _ := GenerateKey()
		ch := getChallenge(t, url)
		nonce := Nonce(ch, pub)
		if otherKey {
			_, other, _ := GenerateKey()
			nonce = Nonce(ch, other)
		}
		return mustJSON(t, &AttestRequest{Challenge: ch, PublicKey: pub, Evidence: evidenceFor(t, nonce), Resource: resource})
	}
	used := attest("", false)
	for _, tc := range []struct {
		name, method, url string
		body              []byte
		status            int
	}{
		{"challenge", http.MethodPost, url + PathChallenge, nil, http.StatusOK},
		{"attest", http.MethodPost, url + PathAttest, used, http.StatusOK},
		{"attest with a resource", http.MethodPost, url + PathAttest, attest("db", false), http.StatusOK},
		{"replay", http.MethodPost, url + PathAttest, used, http.StatusUnauthorized},
		{"malformed", http.MethodPost, url + PathAttest, []byte(`{"challenge":1}`), http.StatusBadRequest},
		{"rejected", http.MethodPost, url + PathAttest, attest("", true), http.StatusForbidden},
		{"unknown resource", http.MethodPost, url + PathAttest, attest("nope", false), http.StatusNotFound},
		{"body too large", http.MethodPost, url + PathAttest, bytes.Repeat([]byte(" "), 65<<10), http.StatusRequestEntityTooLarge},
		{"method", http.MethodGet, url + PathChallenge, nil, http.StatusMethodNotAllowed},
		{"no such endpoint", http.MethodGet, url + "/v1/nope", nil, http.StatusNotFound},
		{"healthz", http.MethodGet, url + PathHealth, nil, http.StatusOK},
		{"readyz", http.MethodGet, url + PathReady, nil, http.StatusOK},
		{"openid-configuration", http.MethodGet, url + PathOpenIDConfig, nil, http.StatusOK},
		{"store full", http.MethodPost, fullURL + PathChallenge, nil, http.StatusServiceUnavailable},
		{"Redis down, challenge", http.MethodPost, down + PathChallenge, nil, http.StatusServiceUnavailable},
		{"Redis down, readyz", http.MethodGet, down + PathReady, nil, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			h := resp.Header
			if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", h)
			}
		})
	}
	// The client's flood of challenges: 429 is no-store too.
	for i := 0; ; i++ {
		resp, err := http.Post(url+PathChallenge, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("challenge %d: %d %v", i, resp.StatusCode, resp.Header)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		if i > cfg.MaxClientChallenges {
			t.Fatalf("no 429 after %d challenges", i)
		}
	}
}

// TestServeConnectionLimits holds Serve's http.Server to its limits: a
// header over 64 KiB is 431 (net/http's default accepts 1 MiB), and a
// client that sends its body slowly or idles on a kept-alive connection is
// cut off after Config.ReadTimeout or Config.IdleTimeout.
func TestServeConnectionLimits(t *testing.T) {
	addr := serveAddr(t, testConfig())
	for _, tc := range []struct {
		name   string
		header int
		status int
	}{
		{"32 KiB header", 32 << 10, http.StatusOK},
		{"100 KiB header", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+PathHealth, nil)
		req.Header.Set("X-Pad", strings.Repeat("a", tc.header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  func(*Config)          // sets the one short timeout (net/http uses ReadTimeout when IdleTimeout is zero)
		talk func(c net.Conn) error // what the client does before it waits
	}{
		{"slow body", func(c *Config) { c.ReadTimeout = 300 * time.Millisecond }, func(c net.Conn) error {
			if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", PathAttest); err != nil {
				return err
			}
			for range 5 { // a byte now and then, well within any per-read timeout
				time.Sleep(50 * time.Millisecond)
				if _, err := c.Write([]byte(" ")); err != nil {
					return nil // already cut off
				}
			}
			return nil
		}},
		{"idle keep-alive", func(c *Config) { c.IdleTimeout = 300 * time.Millisecond }, func(c net.Conn) error {
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", PathHealth); err != nil {
				return err
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.cfg(&cfg)
			c, err := net.Dial("tcp", serveAddr(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if err := tc.talk(c); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.Copy(io.Discard, c) // until the server closes
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the server kept the connection for %v", time.Since(start))
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("cut off after %v", d)
			}
		})
	}
}

// serveAddr serves a server of cfg on loopback until the test ends and
// returns its address.
func serveAddr(t *testing.T, cfg Config) string {
	t.Helper()
	ln, done, cancel := serveLoopback(t, newServer(t, cfg))
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// TestJWKSConcurrent fetches the JWKS from many goroutines at once: each
// gets the whole document, and (under the race detector, as make test
// runs) no request writes to the document the others read.
func TestJWKSConcurrent(t *testing.T) {
	cfg := testConfig()
	key, _, err := result.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Signer, err = result.NewSigner(key, "https://verifier.test"); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, cfg)
	want, err := result.MarshalJWKS(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, PathJWKS, nil))
			if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), want) || w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("JWKS: %d %q %v", w.Code, w.Body.Bytes(), w.Header())
			}
		})
	}
	wg.Wait()
}

// TestConfigDefaults: New fills every zero limit and timeout of Config
// with its documented default (the HTTP server's timeouts come from
// there: a zero IdleTimeout would make net/http close idle keep-alive
// connections after ReadTimeout instead), and keeps what is set.
func TestConfigDefaults(t *testing.T) {
	s := newServer(t, Config{Secret: []byte("s")})
	set := newServer(t, Config{Secret: []byte("s"), ChallengeTTL: time.Second, AttestTimeout: 2 * time.Second,
		ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 4 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 6 * time.Second, ShutdownTimeout: 7 * time.Second})
	for _, tc := range []struct {
		name      string
		got, kept time.Duration
		want      time.Duration
	}{
		{"ChallengeTTL", s.cfg.ChallengeTTL, set.cfg.ChallengeTTL, DefaultChallengeTTL},
		{"AttestTimeout", s.cfg.AttestTimeout, set.cfg.AttestTimeout, DefaultAttestTimeout},
		{"ReadHeaderTimeout", s.cfg.ReadHeaderTimeout, set.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"ReadTimeout", s.cfg.ReadTimeout, set.cfg.ReadTimeout, DefaultReadTimeout},
		{"WriteTimeout", s.cfg.WriteTimeout, set.cfg.WriteTimeout, DefaultWriteTimeout},
		{"IdleTimeout", s.cfg.IdleTimeout, set.cfg.IdleTimeout, DefaultIdleTimeout},
		{"ShutdownTimeout", s.cfg.ShutdownTimeout, set.cfg.ShutdownTimeout, DefaultShutdownTimeout},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %s, want the default %s", tc.name, tc.got, tc.want)
		}
		if tc.kept == tc.want || tc.kept == 0 {
			t.Errorf("%s set = %s, want what was set", tc.name, tc.kept)
		}
	}
	if s.cfg.MaxChallenges != DefaultMaxChallenges || s.cfg.MaxClientChallenges != DefaultMaxClientChallenges ||
		s.cfg.MaxBodyBytes != DefaultMaxBodyBytes || s.cfg.MaxInFlightBytes != DefaultMaxInFlightBytes || s.cfg.Now == nil {
		t.Errorf("limits %d %d %d %d, Now set %v: want the defaults", s.cfg.MaxChallenges, s.cfg.MaxClientChallenges,
			s.cfg.MaxBodyBytes, s.cfg.MaxInFlightBytes, s.cfg.Now != nil)
	}
}
