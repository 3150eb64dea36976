// Command loadgen drives `snp-vtpm serve` with concurrent attestations on
// loopback and reports attestations per second, per server CPU core,
// latency percentiles and the server's peak RSS.
//
// It starts the CLI as a separate process (built from this module unless
// -bin names a binary) trusting the private testev Milan chain (--roots), so
// that the server's CPU time and memory are its own. For each concurrency
// level it first fetches one challenge per attestation and builds synthetic
// evidence over each challenge's nonce (untimed: it costs an RSA signature
// per quote), then posts all attestation requests from that many concurrent
// connections and measures.
//
//	go run ./bench/loadgen                      # -c 1,16,1000 -n 4000 -vms 50 -version 1
//	go run ./bench/loadgen -c 1000 -n 10000 -version 2
//
// -version 1 is a fleet's steady state: each VM sends its known HCL report
// with a new quote. -version 2 refreshes the HCL report with the nonce, so
// every attestation also carries a new report signature.
//
// -null measures the null server instead (null.go): the same requests and
// answers, no work, so its rate per core is the HTTP floor. -servers
// compares servers in interleaved rounds and prints per-core ratios to the
// first (min / median / max over the rounds) and p99:
//
//	go run ./bench/loadgen -servers old=/tmp/snp-old,new=self,null -c 1,16,256 -rounds 5
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/rrproxy"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/server"
)

func main() {
	var (
		bin     = flag.String("bin", "", "snp-vtpm binary (default: go build ./cmd/snp-vtpm into a temporary directory)")
		levels  = flag.String("c", "1,16,1000", "concurrency levels (comma-separated)")
		n       = flag.Int("n", 4000, "attestations per level")
		vms     = flag.Int("vms", 50, "distinct synthetic VMs (HCL reports) attesting")
		version = flag.Int("version", 1, "evidence version: 1 (known HCL report, new quote) or 2 (HCL report refreshed with the nonce)")
		logFile = flag.String("log", "", "file for the server's access log (default: discarded)")
		fleetM  = flag.Bool("fleet", false, "also run two serve --redis replicas (a redis-server child) behind a round-robin proxy and compare with one in-memory replica")
		storm   = flag.Int("storm", 0, "with -fleet: a replay storm of this many challenges, each attestation sent to both replicas at once")
		null    = flag.Bool("null", false, "measure the null server (same paths and answers as serve, no work: the HTTP floor) instead of snp-vtpm serve")
		servers = flag.String("servers", "", "compare servers in interleaved rounds: label=binary, binary, self (built from this module) or null, comma-separated; ratios to the first")
		rounds  = flag.Int("rounds", 3, "with -servers: rounds (each server once per round, in rotating order)")
	)
	flag.Parse()
	var err error
	switch {
	case os.Getenv(nullEnv) == "1": // started by startNull
		err = serveNull(os.Stdout)
	case *servers != "":
		err = compareMain(*servers, *levels, *rounds, *n, *vms, *version)
	case *null:
		err = run(nullName, *levels, *n, *vms, *version, "")
	case *fleetM:
		err = runFleet(*bin, *levels, *n, *vms, *version, *storm)
	default:
		err = run(*bin, *levels, *n, *vms, *version, *logFile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(bin, levelList string, n, nVMs, version int, logFile string) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	if version != 1 && version != 2 {
		return errors.New("-version must be 1 or 2")
	}
	dir, bin, err := workDir(bin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv, err := startServer(bin, dir, logFile, slices.Max(levels))
	if err != nil {
		return err
	}
	defer srv.stop()

	fleet, err := newFleet(nVMs, version)
	if err != nil {
		return err
	}
	c := newClient(srv.url, slices.Max(levels))
	ctx := context.Background()

	// Warm up: every VM attests once (its first attestation is fresh).
	bodies, err := prepare(ctx, c, fleet, nVMs)
	if err != nil {
		return err
	}
	if _, err := fire(ctx, c, bodies, 4); err != nil {
		return err
	}
	fmt.Printf("snp-vtpm serve (pid %d) on %s, GOMAXPROCS %d, %d CPUs; evidence v%d from %d VMs; %d attestations per level\n",
		srv.cmd.Process.Pid, srv.url, runtime.GOMAXPROCS(0), runtime.NumCPU(), version, nVMs, n)
	fmt.Printf("%6s %9s %9s %12s %10s %10s %10s %10s %10s %6s %10s\n",
		"conc", "att/s", "att/s/core", "server CPU", "p50", "p90", "p99", "max", "client CPU", "errors", "server HWM")
	for _, conc := range levels {
		row, err := measure(ctx, c, []*serverProc{srv}, fleet, n, conc, nil)
		if err != nil {
			return err
		}
		hwm, _ := procStatus(srv.cmd.Process.Pid, "VmHWM")
		fmt.Printf("%6d %9.0f %9.0f %11.2fs %10s %10s %10s %10s %9.2fs %6d %10s\n",
			conc, row.attPerSec(), float64(len(row.lat.ok))/row.serverCPU.Seconds(), row.serverCPU.Seconds(),
			pct(row.lat.ok, 0.50), pct(row.lat.ok, 0.90), pct(row.lat.ok, 0.99), pct(row.lat.ok, 1),
			row.clientCPU.Seconds(), row.lat.errors, hwm)
		if row.lat.firstErr != nil {
			fmt.Printf("       first error: %v\n", row.lat.firstErr)
		}
	}
	return nil
}

// workDir makes the run's temporary directory (the caller removes it) and
// returns it with bin, or with the CLI built into it when bin is empty.
func workDir(bin string) (dir, cli string, err error) {
	if dir, err = os.MkdirTemp("", "snp-vtpm-loadgen"); err != nil {
		return "", "", err
	}
	if bin != "" {
		return dir, bin, nil
	}
	bin = filepath.Join(dir, "snp-vtpm")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/snp-vtpm/snp-vtpm/cmd/snp-vtpm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("building snp-vtpm: %w", err)
	}
	return dir, bin, nil
}

// newClient is a client of url with connections for maxConc workers.
func newClient(url string, maxConc int) *server.Client {
	return &server.Client{URL: url, HTTPClient: &http.Client{Transport: &http.Transport{
		MaxIdleConns:        2 * maxConc,
		MaxIdleConnsPerHost: 2 * maxConc,
		IdleConnTimeout:     time.Minute,
	}, Timeout: 5 * time.Minute}}
}

// parseLevels parses -c: positive comma-separated concurrency levels.
func parseLevels(list string) ([]int, error) {
	var levels []int
	for _, s := range strings.Split(list, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			return nil, fmt.Errorf("-c: bad level %q", s)
		}
		levels = append(levels, c)
	}
	return levels, nil
}

// row is what one measured level found.
type row struct {
	lat                  *latencies
	wall                 time.Duration
	serverCPU, clientCPU time.Duration
	redisCmds            int64 // Redis round trips during challenges and attestations (-1: no Redis)
	n                    int
}

func (r *row) attPerSec() float64 { return float64(len(r.lat.ok)) / r.wall.Seconds() }

// redisPerAtt is the Redis round trips per challenge/attest pair.
func (r *row) redisPerAtt() float64 { return float64(r.redisCmds) / float64(r.n) }

// measure fetches n challenges (untimed, counted in the Redis commands),
// then posts the n attestations from conc concurrent connections. procs
// are the server processes whose CPU time is summed; rc, when set, is the
// Redis whose commands are counted.
func measure(ctx context.Context, c *server.Client, procs []*serverProc, f *fleet, n, conc int, rc *redisCounter) (*row, error) {
	r := &row{n: n, redisCmds: -1}
	cmds0, err := rc.commands(ctx)
	if err != nil {
		return nil, err
	}
	bodies, err := prepare(ctx, c, f, n)
	if err != nil {
		return nil, err
	}
	cpu0, err := procsCPU(procs)
	if err != nil {
		return nil, err
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	lat, err := fire(ctx, c, bodies, conc)
	r.wall = time.Since(start)
	if err != nil && lat == nil {
		return nil, err
	}
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu1, err := procsCPU(procs)
	if err != nil {
		return nil, err
	}
	if rc != nil {
		cmds1, err := rc.commands(ctx)
		if err != nil {
			return nil, err
		}
		r.redisCmds = cmds1 - cmds0
	}
	slices.Sort(lat.ok)
	r.lat, r.serverCPU, r.clientCPU = lat, cpu1-cpu0, rusageCPU(&ru1)-rusageCPU(&ru0)
	return r, nil
}

// procsCPU sums the CPU time of the processes.
func procsCPU(procs []*serverProc) (time.Duration, error) {
	var sum time.Duration
	for _, p := range procs {
		d, err := procCPU(p.cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
}

// server is the snp-vtpm serve process.
type serverProc struct {
	cmd *exec.Cmd
	url string
}

// loadgenSecret is the secret every server started by loadgen releases.
const loadgenSecret = "loadgen secret"

func startServer(bin, dir, logFile string, maxConc int, extra ...string) (*serverProc, error) {
	if bin == nullName {
		return startNull()
	}
	secret := filepath.Join(dir, "secret")
	roots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(secret, []byte(loadgenSecret), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(roots, testev.ChainPEM(), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--secret-file", secret, "--roots", roots,
		"--offline", "--cache-dir", filepath.Join(dir, "cache"), "--challenge-ttl", "1h",
		"--max-challenges", strconv.Itoa(max(100_000, 4*maxConc)),
		"--max-client-challenges", strconv.Itoa(max(100_000, 4*maxConc))) // one client: loopback
	cmd.Args = append(cmd.Args, extra...)
	return launch(cmd, logFile)
}

// launch starts a server process (its stderr to logFile, or discarded) and
// reads its URL from the "listening on URL" line it prints first.
func launch(cmd *exec.Cmd, logFile string) (*serverProc, error) {
	var logw io.Writer = io.Discard
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		logw = f
	}
	cmd.Stderr = logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: %w", cmd.Path, err)
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		s.stop()
		return nil, fmt.Errorf("%s said %q", cmd.Path, line)
	}
	s.url = u
	go io.Copy(io.Discard, out)
	return s, nil
}

func (s *serverProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
	}
}

// fleet is nVMs synthetic VMs on one chip (one VCEK), each with its own
// HCL report (its VM id differs) and the shared attestation key.
type fleet struct {
	version int
	vms     []*evidence.Evidence
	vcek    []byte
}

func newFleet(n, version int) (*fleet, error) {
	f := &fleet{version: version}
	for i := range n {
		vc := testev.DefaultVMConfig()
		vc.VMUniqueID = fmt.Sprintf("7E57E7E5-0000-4000-8000-%012X", i)
		e, err := (&testev.Builder{Version: 1, VMConfig: vc, VCEKDER: f.vcek}).Build()
		if err != nil {
			return nil, err
		}
		if f.vcek == nil {
			f.vcek = e.Evidence.VCEK
		}
		f.vms = append(f.vms, e.Evidence)
	}
	return f, nil
}

// evidence returns the i-th VM's evidence over nonce.
func (f *fleet) evidence(i int, nonce []byte) ([]byte, error) {
	base := f.vms[i%len(f.vms)]
	if f.version == 2 {
		h, err := hcl.Parse(base.HCLReport)
		if err != nil {
			return nil, err
		}
		e, err := (&testev.Builder{Version: 2, Nonce: nonce, VMConfig: h.RuntimeData.VMConfig, VCEKDER: f.vcek}).Build()
		if err != nil {
			return nil, err
		}
		return e.JSON, nil
	}
	return testev.Reattest(base, testev.AKKey(), nonce)
}

// prepare fetches n challenges and builds a request body for each, VM by
// VM in turn, on all CPUs.
func prepare(ctx context.Context, c *server.Client, f *fleet, n int) ([][]byte, error) {
	bodies := make([][]byte, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, runtime.NumCPU())
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				req, _, err := c.Request(ctx, func(_ context.Context, nonce []byte) ([]byte, error) { return f.evidence(i, nonce) })
				if err == nil {
					bodies[i], err = json.Marshal(req)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("preparing requests: %w", err)
	}
	return bodies, nil
}

type latencies struct {
	ok       []time.Duration
	errors   int
	firstErr error
}

// fire posts bodies from conc concurrent workers and records each latency.
func fire(ctx context.Context, c *server.Client, bodies [][]byte, conc int) (*latencies, error) {
	var next atomic.Int64
	var mu sync.Mutex
	lat := &latencies{ok: make([]time.Duration, 0, len(bodies))}
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var ar server.AttestResponse
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				err := c.Post(ctx, server.PathAttest, bodies[i], &ar)
				d := time.Since(t0)
				if err == nil && len(ar.Ciphertext) == 0 {
					err = errors.New("no ciphertext")
				}
				mu.Lock()
				if err != nil {
					lat.errors++
					if lat.firstErr == nil {
						lat.firstErr = err
					}
				} else {
					lat.ok = append(lat.ok, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(lat.ok) == 0 {
		return lat, fmt.Errorf("every attestation failed: %v", lat.firstErr)
	}
	return lat, nil
}

func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i].Round(10 * time.Microsecond).String()
}

// procCPU returns the user + system CPU time of process pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (1-based), in clock ticks (USER_HZ, 100 on Linux).
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100), nil
}

// procStatus returns a field of /proc/pid/status, e.g. VmHWM.
func procStatus(pid int, field string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.Join(strings.Fields(v), " "), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func rusageCPU(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// redisCounter counts the Redis round trips of replicas from their
// /metrics: the challenge store's commands
// (snp_vtpm_redis_command_duration_seconds_count, every command label) and
// the collateral cache's (snp_vtpm_fleet_cache_events_total{event="round_trip"}).
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
			if !ok || !(strings.HasPrefix(name, "snp_vtpm_redis_command_duration_seconds_count") || name == `snp_vtpm_fleet_cache_events_total{event="round_trip"}`) {
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
	dir      string
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
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// startFleet makes a temporary directory (stop removes it), builds the CLI
// unless bin names one and starts the processes.
func startFleet(bin string, maxConc int) (s *fleetSetup, err error) {
	s = &fleetSetup{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if s.dir, bin, err = workDir(bin); err != nil {
		return nil, err
	}
	dir := s.dir
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
	s.proxy = rrproxy.Server(rr)
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
	f, err := newFleet(nVMs, version)
	if err != nil {
		return err
	}
	s, err := startFleet(bin, slices.Max(levels))
	if err != nil {
		return err
	}
	defer s.stop()
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
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	return float64(quantile(a, p)) / float64(quantile(b, p))
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
