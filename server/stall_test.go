package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// stallProxy is a TCP proxy to a Redis that can stall: while frozen it
// forwards nothing either way, as a Redis that stopped answering (a long
// fork, a full network queue) without closing its connections.
type stallProxy struct {
	ln   net.Listener
	gate sync.RWMutex // write-locked while frozen
}

// newStallProxy proxies a loopback port to the Redis at addr until the test ends.
func newStallProxy(t *testing.T, addr string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln}
	var conns sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); conns.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			conns.Go(func() { p.pipe(r, c) })
			conns.Go(func() { p.pipe(c, r) })
		}
	}()
	return p
}

// pipe copies src to dst through the gate, then closes both.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate.RLock()
			_, werr := dst.Write(buf[:n])
			p.gate.RUnlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestRedisStallFailsClosed stalls Redis (it keeps its connections and
// answers nothing) before a challenge, before a spend, and before many
// spends at once through a pool of two connections: every request is 503
// with Retry-After within the Redis timeout (plus slack), nothing is
// released, and once Redis answers again a stalled challenge is released at
// most once and a new attestation succeeds.
func TestRedisStallFailsClosed(t *testing.T) {
	const timeout, slack = 300 * time.Millisecond, 3 * time.Second
	for _, tc := range []struct {
		name    string
		attests int // challenges taken before the stall and spent during it
	}{
		{"challenge", 0},
		{"spend", 1},
		{"spends beyond the pool", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newStallProxy(t, newMiniRedis(t).Addr())
			cfg := redisConfig("redis://" + p.ln.Addr().String() + "/0?pool_size=2")
			cfg.Redis.Timeout = timeout
			ts := startHTTP(t, newRedisServer(t, cfg))
			bodies := make([][]byte, tc.attests)
			for i := range bodies {
				ch, pub, ev := challenged(t, ts.URL, synthetic(t))
				bodies[i] = mustJSON(t, AttestRequest{Challenge: ch, Evidence: ev, PublicKey: pub})
			}
			p.gate.Lock()
			if tc.attests == 0 {
				assertStalled(t, ts.URL+PathChallenge, nil, timeout+slack)
			}
			var wg sync.WaitGroup
			for _, b := range bodies {
				wg.Go(func() { assertStalled(t, ts.URL+PathAttest, b, timeout+slack) })
			}
			wg.Wait()
			p.gate.Unlock()
			waitReady(t, ts.URL)
			for i, b := range bodies { // a spend that never reached Redis may be retried: once
				if st, _, _ := postRaw(t, ts.URL+PathAttest, b); st != http.StatusOK && st != http.StatusUnauthorized {
					t.Errorf("challenge %d after the stall: %d", i, st)
				}
				if st, _, _ := postRaw(t, ts.URL+PathAttest, b); st != http.StatusUnauthorized {
					t.Errorf("challenge %d spent again after the stall: %d", i, st)
				}
			}
			if res, err := (&Client{URL: ts.URL}).Attest(context.Background(), synthetic(t)); err != nil || !bytes.Equal(res.Secret, testSecret) {
				t.Fatalf("after the stall: %v", err)
			}
		})
	}
}

// assertStalled posts body to url and wants 503 with Retry-After, no
// ciphertext, within limit.
func assertStalled(t *testing.T, url string, body []byte, limit time.Duration) {
	start := time.Now()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || took > limit {
		t.Errorf("%s with Redis stalled: %d, Retry-After %q, after %v: %s", url, resp.StatusCode, resp.Header.Get("Retry-After"), took, data)
	}
	if bytes.Contains(data, []byte("ciphertext")) {
		t.Errorf("%s with Redis stalled released: %s", url, data)
	}
}
