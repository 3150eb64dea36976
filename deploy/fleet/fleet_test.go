// Package fleet_test runs deploy/fleet/run-local.sh end to end: Redis, two
// serve --redis replicas and the round-robin proxy, attested through twice.
package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// freePorts returns a port p such that p, p+1 and p+2 were free.
func freePorts(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ok := true
		for i := 1; i <= 2; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no three consecutive free ports")
	return 0
}

// backends records the path and the replica of each response, in order
// (the client sends one request at a time), as "path@replica".
type backends chan string

func (b backends) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		select {
		case b <- r.URL.Path + "@" + res.Header.Get("X-Snp-Vtpm-Backend"): // rrproxy.BackendHeader
		default:
		}
	}
	return res, err
}

func TestRunLocal(t *testing.T) {
	redisServer := testutil.RequireRedisServer(t)
	if testing.Short() {
		t.Skip("builds the CLI and starts four processes")
	}
	dir := t.TempDir()
	roots, secret := dir+"/roots.pem", dir+"/secret"
	if err := os.WriteFile(roots, testev.ChainPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const secretText = "fleet secret 5e1f"
	if err := os.WriteFile(secret, []byte(secretText), 0o600); err != nil {
		t.Fatal(err)
	}
	// Build first, then pick the ports: a build on a loaded CI machine took
	// minutes, long enough for another test to take a port picked before.
	bin, proxy := dir+"/snp-vtpm", dir+"/proxy"
	for pkg, out := range map[string]string{"../../cmd/snp-vtpm": bin, "./proxy": proxy} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	port := freePorts(t)
	cmd := exec.Command("bash", "run-local.sh")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "REDIS_SERVER="+redisServer,
		"SECRET_FILE="+secret, "SERVE_ARGS=--roots "+roots+" --offline", "BIN="+bin, "PROXY_BIN="+proxy)
	var stderr testutil.LogBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatalf("run-local.sh: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "fleet ready: "); ok {
				ready <- strings.Fields(u)[0]
			}
		}
	}()
	var url string
	select {
	case url = <-ready:
	case <-time.After(3 * time.Minute):
		t.Fatalf("run-local.sh did not get ready:\n%s", &stderr)
	}

	rec := make(backends, 16)
	c := &server.Client{URL: url, HTTPClient: &http.Client{Transport: rec, Timeout: time.Minute}}
	for i := range 2 {
		req, priv, err := c.Request(context.Background(), func(_ context.Context, nonce []byte) ([]byte, error) {
			ev, err := (&testev.Builder{Nonce: nonce}).Build()
			if err != nil {
				return nil, err
			}
			return ev.JSON, nil
		})
		if err != nil {
			t.Fatalf("challenge %d: %v", i, err)
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var resp server.AttestResponse
		if err := c.Post(context.Background(), server.PathAttest, body, &resp); err != nil {
			t.Fatalf("attest %d: %v", i, err)
		}
		got, err := server.OpenSecret(priv, server.Nonce(req.Challenge, req.PublicKey), resp.Ciphertext)
		if err != nil || string(got) != secretText {
			t.Fatalf("attest %d: secret %q, %v", i, got, err)
		}
	}
	close(rec)
	var seen []string
	for s := range rec {
		seen = append(seen, s)
	}
	backend := func(s string) string { return s[strings.LastIndexByte(s, '@')+1:] }
	if len(seen) != 4 || !strings.HasPrefix(seen[0], server.PathChallenge+"@") || !strings.HasPrefix(seen[1], server.PathAttest+"@") ||
		backend(seen[0]) == backend(seen[1]) || backend(seen[2]) == backend(seen[3]) {
		t.Errorf("requests landed %v, want each challenge and its attest on different replicas", seen)
	}
	stop()
	// Every process the script started is gone: the ports are free again.
	for i := range 3 {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port+i), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still served after the script stopped", port+i)
		}
	}
}
