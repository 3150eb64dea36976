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
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	)
	flag.Parse()
	var err error
	if *fleetM {
		err = runFleet(*bin, *levels, *n, *vms, *version, *storm)
	} else {
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
	dir, err := os.MkdirTemp("", "snp-vtpm-loadgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin, err = buildCLI(bin, dir); err != nil {
		return err
	}

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

// buildCLI returns bin, or builds the CLI into dir when bin is empty.
func buildCLI(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "snp-vtpm")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/snp-vtpm/snp-vtpm/cmd/snp-vtpm")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building snp-vtpm: %w", err)
	}
	return bin, nil
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

func startServer(bin, dir, logFile string, maxConc int, extra ...string) (*serverProc, error) {
	secret := filepath.Join(dir, "secret")
	roots := filepath.Join(dir, "roots.pem")
	if err := os.WriteFile(secret, []byte("loadgen secret"), 0o600); err != nil {
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
		return nil, fmt.Errorf("snp-vtpm serve: %w", err)
	}
	u, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		s.stop()
		return nil, fmt.Errorf("snp-vtpm serve said %q", line)
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
	q, err := testev.Requote(base.Quote, testev.AKKey(), nonce)
	if err != nil {
		return nil, err
	}
	e := *base
	e.Quote = q
	return e.Encode()
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
