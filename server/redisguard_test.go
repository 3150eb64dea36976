package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/internal/respguard"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// hostileReply answers PING with the header of a 2 GiB string, GET with
// an array of 2^31 elements, and ECHO normally.
func hostileReply(args []string) string {
	switch args[0] {
	case "ping", "PING":
		return "$2147483647\r\n"
	case "get", "GET":
		return "*2147483648\r\n"
	}
	return "$2\r\nok\r\n"
}

// TestParseRedisURLGuardsReplies: the options ParseRedisURL returns read
// every reply through respguard, over TCP, a Unix socket and TLS.
func TestParseRedisURLGuardsReplies(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testutil.FakeRedis(t, tcp, hostileReply)
	dir, err := os.MkdirTemp("", "rg") // short: Unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	unix, err := net.Listen("unix", filepath.Join(dir, "r.sock"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.FakeRedis(t, unix, hostileReply)
	lc := testutil.NewLoopbackCert(t)
	tl, err := tls.Listen("tcp", "127.0.0.1:0", lc.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	testutil.FakeRedis(t, tl, hostileReply)

	for _, url := range []string{"redis://" + tcp.Addr().String(), "unix://" + unix.Addr().String(), "rediss://" + tl.Addr().String()} {
		opts, err := ParseRedisURL(url)
		if err != nil {
			t.Fatal(err)
		}
		if opts.TLSConfig != nil {
			opts.TLSConfig.RootCAs = lc.Pool() // read by the dialer when it dials
		}
		opts.MaxRetries, opts.DialerRetries, opts.DisableIdentity = -1, 1, true
		rdb := redis.NewClient(opts)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if v, err := rdb.Echo(ctx, "x").Result(); err != nil || v != "ok" {
			t.Errorf("%s: ECHO = %q, %v", url, v, err)
		}
		for _, err := range []error{rdb.Ping(ctx).Err(), rdb.Get(ctx, "k").Err()} {
			if !errors.Is(err, respguard.ErrRefused) {
				t.Errorf("%s: %v, want the refusal", url, err)
			}
		}
		cancel()
		_ = rdb.Close()
	}
}

// TestRedisStoreHostileRedisIsUnavailable: the challenge store behind a
// Redis sending a 2 GiB header is unavailable (503), not out of memory.
func TestRedisStoreHostileRedisIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testutil.FakeRedis(t, ln, hostileReply)
	s := newRedisServer(t, redisConfig("redis://"+ln.Addr().String()))
	if err := s.store.ready(context.Background()); !errors.Is(err, errStoreUnavailable) {
		t.Fatalf("ready = %v", err)
	}
}

// TestRedisPlantedValues plants values in the challenge store's keys, as
// anyone who can write to Redis could: a key of another type, a quota set
// scored far in the future, a challenge naming another client. None
// releases anything or panics: a Redis error is 503 with Retry-After, a
// refusal's Retry-After stays within the TTL, and an issued challenge is
// still spent once.
func TestRedisPlantedValues(t *testing.T) {
	const ttl = 30 * time.Second
	for _, tc := range []struct {
		name      string
		plant     func(mr *miniredis.Miniredis, ch string) // ch: the challenge's key
		status    int                                      // of /v1/attest with the challenge
		challenge int                                      // of a further /v1/challenge
	}{
		{"challenge key a hash", func(mr *miniredis.Miniredis, ch string) {
			mr.Del(ch)
			mr.HSet(ch, "client", "192.0.2.9")
		}, http.StatusServiceUnavailable, http.StatusOK},
		{"all a string", func(mr *miniredis.Miniredis, _ string) {
			mr.Del("test:all")
			_ = mr.Set("test:all", "x")
		}, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"client set full, scored in 2100", func(mr *miniredis.Miniredis, _ string) {
			for i := range 3 {
				_, _ = mr.ZAdd("test:cl:127.0.0.1", 4102444800123, fmt.Sprint("planted", i))
			}
		}, http.StatusOK, http.StatusTooManyRequests},
		{"challenge naming another client", func(mr *miniredis.Miniredis, ch string) {
			_ = mr.Set(ch, "../all")
		}, http.StatusOK, http.StatusOK},
		{"challenge value empty", func(mr *miniredis.Miniredis, ch string) {
			_ = mr.Set(ch, "")
		}, http.StatusOK, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mr := newMiniRedis(t)
			cfg := redisConfig("redis://" + mr.Addr())
			cfg.ChallengeTTL, cfg.MaxClientChallenges = ttl, 3
			ts := startHTTP(t, newRedisServer(t, cfg))
			ch, pub, ev := challenged(t, ts.URL, synthetic(t))
			tc.plant(mr, "test:c:"+hex.EncodeToString(ch))
			body := mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub})
			for i, want := range []int{tc.status, http.StatusUnauthorized} {
				st, er, data := postRaw(t, ts.URL+PathAttest, body)
				if i == 0 && st != want || i == 1 && st == http.StatusOK {
					t.Fatalf("attest %d: %d %s, want %d", i, st, data, want)
				}
				if st != http.StatusOK && bytes.Contains(data, []byte("ciphertext")) || st == http.StatusServiceUnavailable && er.Check != "" {
					t.Fatalf("attest %d: %d %s", i, st, data)
				}
			}
			resp, err := http.Post(ts.URL+PathChallenge, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			if resp.StatusCode != tc.challenge || resp.StatusCode != http.StatusOK && (retry < 1 || retry > int(ttl/time.Second)) {
				t.Fatalf("challenge: %d, Retry-After %q; want %d, 1 to %d s", resp.StatusCode, resp.Header.Get("Retry-After"), tc.challenge, int(ttl/time.Second))
			}
		})
	}
}

// TestRedisStoreUnexpectedIssueReply: an issue script reply that is not
// one of the script's own (another code, another number of values) makes
// the store unavailable: no challenge is issued that Redis did not
// record.
func TestRedisStoreUnexpectedIssueReply(t *testing.T) {
	for _, reply := range []string{"*3\r\n:0\r\n:0\r\n:0\r\n", "*3\r\n:2\r\n:0\r\n:0\r\n", "*3\r\n:-4\r\n:0\r\n:0\r\n", "*2\r\n:1\r\n:0\r\n"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		testutil.FakeRedis(t, ln, func(args []string) string {
			switch strings.ToUpper(args[0]) {
			case "EVALSHA", "EVAL":
				return reply
			}
			return "+OK\r\n"
		})
		s := newRedisServer(t, redisConfig("redis://"+ln.Addr().String()))
		if _, exp, _, err := s.store.issue(context.Background(), "client"); !errors.Is(err, errStoreUnavailable) || !exp.IsZero() {
			t.Errorf("reply %q: issue = %v, expiry %v; want errStoreUnavailable", reply, err, exp)
		}
	}
}
