package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/rrproxy"
	"github.com/snp-vtpm/snp-vtpm/server"
)

// redisCounter counts the Redis round trips of replicas from their
// /metrics: the challenge store's commands
// (snp_vtpm_redis_command_duration_seconds_count, every command label) and
// the collateral cache's (snp_vtpm_fleet_cache_round_trips_total).
type redisCounter struct {
	urls []string
}

// commands returns the round trips so far; 0 for a nil counter.
func (r *redisCounter) commands(ctx context.Context) (int64, error) {
	if r == nil {
		return 0, nil
	}
	var sum float64
	for _, u := range r.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, 1<<22))
		res.Body.Close()
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			name, val, ok := strings.Cut(line, " ")
			if !ok || !(strings.HasPrefix(name, "snp_vtpm_redis_command_duration_seconds_count") || name == "snp_vtpm_fleet_cache_round_trips_total") {
				continue
			}
			v, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return 0, fmt.Errorf("metric %s: %w", name, err)
			}
			sum += v
		}
	}
	return int64(sum), nil
}

// startRedis starts redis-server on a Unix socket in dir.
func startRedis(dir string) (*exec.Cmd, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", fmt.Errorf("-fleet needs redis-server: %w", err)
	}
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	for range 200 {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return cmd, sock, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", errors.New("redis-server did not start")
}

// fleetSetup is one in-memory replica, and two Redis replicas behind a
// round-robin proxy.
type fleetSetup struct {
	single   *serverProc
	replicas []*serverProc
	proxy    *http.Server
	proxyURL string
	redis    *exec.Cmd
	counter  *redisCounter
}

func (s *fleetSetup) stop() {
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	for _, p := range append([]*serverProc{s.single}, s.replicas...) {
		if p != nil {
			p.stop()
		}
	}
	if s.redis != nil {
		_ = s.redis.Process.Kill()
		_ = s.redis.Wait()
	}
}

func startFleet(bin, dir string, maxConc int) (s *fleetSetup, err error) {
	s = &fleetSetup{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	var sock string
	if s.redis, sock, err = startRedis(dir); err != nil {
		return nil, err
	}
	if s.single, err = startServer(bin, subdir(dir, "single"), "", maxConc); err != nil {
		return nil, err
	}
	var urls []string
	for i := range 2 {
		p, err := startServer(bin, subdir(dir, fmt.Sprint("replica", i)), "", maxConc, "--redis", "unix://"+sock, "--trust-forwarded-for")
		if err != nil {
			return nil, err
		}
		s.replicas = append(s.replicas, p)
		urls = append(urls, p.url)
	}
	s.counter = &redisCounter{urls: urls}
	rr, err := rrproxy.New(urls)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.proxy = &http.Server{Handler: rr, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.proxy.Serve(ln) }()
	s.proxyURL = "http://" + ln.Addr().String()
	return s, nil
}

func subdir(dir, name string) string {
	d := filepath.Join(dir, name)
	_ = os.MkdirAll(d, 0o700)
	return d
}

// runFleet compares, level by level, one replica with the in-memory store
// and two Redis replicas behind the proxy, then runs the replay storm.
func runFleet(bin, levelList string, n, nVMs, version, storm int) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "snp-vtpm-loadgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin, err = buildCLI(bin, dir); err != nil {
		return err
	}
	s, err := startFleet(bin, dir, slices.Max(levels))
	if err != nil {
		return err
	}
	defer s.stop()
	f, err := newFleet(nVMs, version)
	if err != nil {
		return err
	}
	ctx := context.Background()
	single, front := newClient(s.single.url, slices.Max(levels)), newClient(s.proxyURL, slices.Max(levels))
	for _, c := range []*server.Client{single, front} { // warm up
		if _, err := measure(ctx, c, nil, f, nVMs, 4, nil); err != nil {
			return err
		}
	}
	fmt.Printf("fleet: 1 replica (in-memory store) vs 2 replicas (--redis, one redis-server on a Unix socket) behind a round-robin proxy; GOMAXPROCS %d, %d CPUs; evidence v%d from %d VMs; %d attestations per level\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), version, nVMs, n)
	fmt.Printf("%6s %-22s %9s %10s %10s %12s %12s %6s\n", "conc", "setup", "att/s", "p50", "p99", "server CPU", "redis/pair", "errors")
	for _, conc := range levels {
		one, err := measure(ctx, single, []*serverProc{s.single}, f, n, conc, nil)
		if err != nil {
			return err
		}
		two, err := measure(ctx, front, s.replicas, f, n, conc, s.counter)
		if err != nil {
			return err
		}
		printFleetRow(conc, "1 replica, memory", one)
		printFleetRow(conc, "2 replicas, Redis", two)
		fmt.Printf("%6d %-22s %8.2fx %9.2fx %9.2fx %11.2fx\n", conc, "ratio (Redis/memory)",
			two.attPerSec()/one.attPerSec(), ratio(two.lat.ok, one.lat.ok, 0.5), ratio(two.lat.ok, one.lat.ok, 0.99),
			two.serverCPU.Seconds()/one.serverCPU.Seconds())
	}
	if storm > 0 {
		return replayStorm(ctx, front, s.replicas, f, storm)
	}
	return nil
}

func printFleetRow(conc int, setup string, r *row) {
	rt := "-"
	if r.redisCmds >= 0 {
		rt = fmt.Sprintf("%.2f", r.redisPerAtt())
	}
	fmt.Printf("%6d %-22s %9.0f %10s %10s %11.2fs %12s %6d\n", conc, setup, r.attPerSec(),
		pct(r.lat.ok, 0.5), pct(r.lat.ok, 0.99), r.serverCPU.Seconds(), rt, r.lat.errors)
	if r.lat.firstErr != nil {
		fmt.Printf("       first error: %v\n", r.lat.firstErr)
	}
}

// ratio is the p-quantile of a over that of b.
func ratio(a, b []time.Duration, p float64) float64 {
	q := func(s []time.Duration) float64 {
		i := min(max(int(p*float64(len(s))+0.5)-1, 0), len(s)-1)
		return float64(s[i])
	}
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	return q(a) / q(b)
}

// replayStorm fetches n challenges through the proxy and sends each
// attestation to both replicas at once: exactly one may succeed, the other
// must be refused (401, the challenge spent). It fails otherwise.
func replayStorm(ctx context.Context, front *server.Client, replicas []*serverProc, f *fleet, n int) error {
	bodies, err := prepare(ctx, front, f, n)
	if err != nil {
		return err
	}
	clients := make([]*server.Client, len(replicas))
	for i, r := range replicas {
		clients[i] = newClient(r.url, 64)
	}
	var mu sync.Mutex
	successes := make([]int, n)
	other := map[string]int{}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	start := time.Now()
	for i, body := range bodies {
		for _, c := range clients {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				var ar server.AttestResponse
				err := c.Post(ctx, server.PathAttest, body, &ar)
				mu.Lock()
				defer mu.Unlock()
				var apiErr *server.APIError
				switch {
				case err == nil:
					successes[i]++
				case errors.As(err, &apiErr):
					other[strconv.Itoa(apiErr.StatusCode)]++
				default:
					other[err.Error()]++
				}
			})
		}
	}
	wg.Wait()
	bad := 0
	for _, s := range successes {
		if s != 1 {
			bad++
		}
	}
	out, _ := json.Marshal(other)
	fmt.Printf("replay storm: %d challenges, each attestation sent to %d replicas at once in %v: %d with exactly one success, %d otherwise; refusals %s\n",
		n, len(clients), time.Since(start).Round(time.Millisecond), n-bad, bad, out)
	if bad > 0 || len(other) != 1 || other["401"] != n*(len(clients)-1) {
		return fmt.Errorf("replay storm: %d challenges without exactly one success, refusals %s", bad, out)
	}
	return nil
}
