package respguard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/snp-vtpm/snp-vtpm/internal/respguard"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// fakeRedis serves reply on a loopback TCP port and returns its address.
func fakeRedis(t *testing.T, reply func(args []string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testutil.FakeRedis(t, ln, reply)
	return ln.Addr().String()
}

func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	var d net.Dialer
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		Dialer:          respguard.Dialer(d.DialContext),
		MaxRetries:      -1,
		DialerRetries:   1,
		ReadTimeout:     5 * time.Second,
		DisableIdentity: true,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestGoRedisRefusesHugeHeaders: a server announcing a 2 GiB string, an
// array of 2^31 elements or an endless line makes the command fail with
// the refusal, at once and without allocating what it announced; the
// client then works on a new connection.
func TestGoRedisRefusesHugeHeaders(t *testing.T) {
	bad := map[string]string{
		"bulk":   "$2147483647\r\n",
		"blob":   "!2147483647\r\n",
		"array":  "*2147483648\r\n",
		"map":    "%1073741824\r\n",
		"nested": strings.Repeat("*65536\r\n", 5),
		"line":   "+" + strings.Repeat("a", 1<<20),
	}
	addr := fakeRedis(t, func(args []string) string {
		if out, ok := bad[args[len(args)-1]]; ok {
			return out
		}
		return "$2\r\nok\r\n"
	})
	rdb := client(t, addr)
	ctx := context.Background()
	for name := range bad {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		err := rdb.Do(ctx, "X", name).Err()
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		var e *respguard.Error
		if !errors.As(err, &e) || !errors.Is(err, respguard.ErrRefused) {
			t.Fatalf("%s: %v, want the refusal", name, err)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
			t.Errorf("%s: %d bytes allocated", name, grown)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s: refused after %v", name, elapsed)
		}
		if v, err := rdb.Get(ctx, "fine").Result(); err != nil || v != "ok" {
			t.Fatalf("after %s: %q, %v", name, v, err)
		}
	}
}

// TestGoRedisReadsAllowedReplies: RESP3 types, nested arrays and a 4 MiB
// string come through go-redis intact.
func TestGoRedisReadsAllowedReplies(t *testing.T) {
	big := strings.Repeat("x", respguard.DefaultMaxBulk)
	addr := fakeRedis(t, func(args []string) string {
		switch args[len(args)-1] {
		case "big":
			return "$" + strconv.Itoa(len(big)) + "\r\n" + big + "\r\n"
		case "nested":
			return "*3\r\n*2\r\n:1\r\n$1\r\na\r\n*0\r\n*1\r\n*1\r\n+deep\r\n"
		case "map":
			return "|1\r\n+ttl\r\n:3\r\n%2\r\n+a\r\n:1\r\n+b\r\n#t\r\n"
		case "many":
			return "*65536\r\n" + strings.Repeat(":7\r\n", 65536)
		}
		return "_\r\n"
	})
	rdb := client(t, addr)
	ctx := context.Background()
	if v, err := rdb.Get(ctx, "big").Result(); err != nil || v != big {
		t.Fatalf("4 MiB string: %d bytes, %v", len(v), err)
	}
	v, err := rdb.Do(ctx, "X", "nested").Result()
	if err != nil || fmt.Sprint(v) != "[[1 a] [] [[deep]]]" {
		t.Fatalf("nested: %v, %v", v, err)
	}
	v, err = rdb.Do(ctx, "X", "map").Result()
	if err != nil || fmt.Sprint(v) != "map[a:1 b:true]" {
		t.Fatalf("map with attribute: %v, %v", v, err)
	}
	s, err := rdb.Do(ctx, "X", "many").Slice()
	if err != nil || len(s) != 65536 || s[65535] != int64(7) {
		t.Fatalf("65536 elements: %d, %v", len(s), err)
	}
	if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("null: %v", err)
	}
}
