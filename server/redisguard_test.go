package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

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
