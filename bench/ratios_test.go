package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Goals of BENCHMARKS.md, asserted by TestRatios when SNPVTPM_ASSERT_RATIOS=1.
const (
	goalFreshOverFloor    = 0.6 // fresh evidence / Go-stdlib cryptographic floor
	goalFreshOverOpenSSL  = 1.0 // fresh evidence / OpenSSL's floor, measured in the same run
	goalRepeatOverRSA2048 = 1.5 // repeat evidence / one RSA-2048 verification
)

type ratioCase struct {
	name string
	fn   func(b *testing.B)
	// direct, if set, measures instead of fn: nanoseconds per operation
	// (no allocation figures).
	direct func() (float64, error)
}

type ratio struct {
	name     string
	num, den string
	goal     float64 // 0: informative only
}

// TestRatios measures the floor, fresh, repeat, go-sev-guest and TDX cases
// interleaved, SNPVTPM_RATIO_ROUNDS times (default 5; each case runs for
// -test.benchtime per round, rotating the order), and prints each ratio's
// min, median and max over the rounds, and the ratio of the fastest runs.
// Ratios of times measured side by side are what this machine-independent
// comparison is about; absolute times are printed for reference only.
// With SNPVTPM_ASSERT_RATIOS=1 it fails when a median exceeds its goal.
//
// When openssl is on PATH, every round also runs `openssl speed -elapsed
// -mr -seconds SNPVTPM_OPENSSL_SECONDS ecdsap384 rsa4096 rsa2048` (default 1
// second per operation) at its place in the rotation, and fresh evidence is
// compared with OpenSSL's floor (P-384 + RSA-4096 + RSA-2048 verification)
// too; without openssl those ratios are skipped with a notice.
//
// SNPVTPM_RATIO_ONLY=tdx keeps only the ratios whose name contains "tdx"
// and the cases they compare (no OpenSSL floor). SNPVTPM_RATIO_CPU=1
// measures each case in the process's CPU time instead of wall time (less
// sensitive to other processes on a shared machine; GC included; no
// OpenSSL floor, whose time is openssl's own).
//
// It runs only when asked for (-run TestRatios, or SNPVTPM_RATIOS=1), so
// that `go test ./...` stays fast, and never under the race detector.
func TestRatios(t *testing.T) {
	if raceEnabled {
		t.Skip("timing ratios under the race detector mean nothing")
	}
	if run := flag.Lookup("test.run"); os.Getenv("SNPVTPM_RATIOS") != "1" &&
		(run == nil || !strings.Contains(run.Value.String(), "TestRatios")) {
		t.Skip("measures for about a minute: run with -run TestRatios (or SNPVTPM_RATIOS=1)")
	}
	rounds := 5
	if s := os.Getenv("SNPVTPM_RATIO_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SNPVTPM_RATIO_ROUNDS=%q: want a positive integer", s)
		}
		rounds = n
	}
	f := getFixtures(t)
	cases := []ratioCase{
		{"floor", benchLoop(f.realFloor.verify), nil},
		{"fast-floor", benchLoop(f.realFloor.verifyFast), nil},
		{"fresh", freshReal(f), nil},
		{"floor-synthetic", benchLoop(f.synthFloor.verify), nil},
		{"fresh-synthetic", freshSynthetic(f), nil},
		{"rsa2048", benchLoop(f.rsa2048.verify), nil},
		{"repeat", repeatSynthetic(f), nil},
		{"repeat-real", repeatReal(f), nil},
		{"repeat-real-v0", benchVerify([]sample{f.realV0}, verifyConfigAt()), nil},
		{"go-sev-guest", benchGoSevGuest(f.real), nil},
		{"floor-refreshed", benchLoop(f.refreshedFloor.verifyRefreshed), nil},
		{"refreshed", refreshedSynthetic(f), nil},
		{"tdx-floor", benchLoop(f.tdxFloor.verify), nil},
		{"tdx-fresh", freshTDX(f), nil},
		{"tdx-repeat", repeatTDX(f), nil},
	}
	ratios := []ratio{
		{"fresh / floor (real v1)", "fresh", "floor", goalFreshOverFloor},
		{"fast floor / floor (real v1)", "fast-floor", "floor", 0},
		{"fresh / floor (synthetic v1)", "fresh-synthetic", "floor-synthetic", goalFreshOverFloor},
		{"repeat / rsa2048 (synthetic, new quote each)", "repeat", "rsa2048", goalRepeatOverRSA2048},
		{"repeat / rsa2048 (real v1, same evidence)", "repeat-real", "rsa2048", goalRepeatOverRSA2048},
		{"repeat / rsa2048 (real v0, same evidence)", "repeat-real-v0", "rsa2048", goalRepeatOverRSA2048},
		{"go-sev-guest / fresh (real v1)", "go-sev-guest", "fresh", 0},
		{"go-sev-guest / repeat (real v1)", "go-sev-guest", "repeat-real", 0},
		{"refreshed v2 / (ECDSA + RSA-2048)", "refreshed", "floor-refreshed", 0},
		{"tdx fresh / floor (real v1)", "tdx-fresh", "tdx-floor", 0},
		{"tdx repeat / rsa2048 (real v1, same evidence)", "tdx-repeat", "rsa2048", 0},
	}
	cpu := os.Getenv("SNPVTPM_RATIO_CPU") == "1"
	if only := os.Getenv("SNPVTPM_RATIO_ONLY"); only != "" {
		cases, ratios = onlyRatios(cases, ratios, only)
	}
	switch {
	case cpu:
		t.Log("NOTICE: SNPVTPM_RATIO_CPU=1: times are the process's CPU time per operation; no OpenSSL floor")
	case os.Getenv("SNPVTPM_RATIO_ONLY") == "":
		cases, ratios = withOpenSSL(t, cases, ratios)
	}

	ns := map[string][]float64{}
	allocs := map[string]int64{}
	bytes := map[string]int64{}
	per := make(map[string][]float64)
	for r := range rounds {
		got := map[string]float64{}
		for i := range cases {
			c := cases[(i+r)%len(cases)] // rotate the order every round
			v, res := measure(t, c, cpu)
			got[c.name] = v
			ns[c.name] = append(ns[c.name], v)
			allocs[c.name] = res.AllocsPerOp()
			bytes[c.name] = res.AllocedBytesPerOp()
		}
		var line []string
		for _, q := range ratios {
			x := got[q.num] / got[q.den]
			per[q.name] = append(per[q.name], x)
			line = append(line, fmt.Sprintf("%.3f", x))
		}
		t.Logf("round %d/%d: %s", r+1, rounds, strings.Join(line, " "))
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\n%-18s %12s %12s %12s %10s %9s\n", "case", "min µs/op", "median", "max", "B/op", "allocs/op")
	for _, c := range cases {
		v := slices.Sorted(slices.Values(ns[c.name]))
		fmt.Fprintf(&out, "%-18s %12.1f %12.1f %12.1f %10d %9d\n", c.name, v[0]/1e3, median(v)/1e3, v[len(v)-1]/1e3, bytes[c.name], allocs[c.name])
	}
	fmt.Fprintf(&out, "\n%-46s %7s %7s %7s %9s %6s\n", fmt.Sprintf("ratio (%d rounds)", rounds), "min", "median", "max", "min/min", "goal")
	var failed []string
	for _, q := range ratios {
		v := slices.Sorted(slices.Values(per[q.name]))
		ofMins := slices.Min(ns[q.num]) / slices.Min(ns[q.den])
		goal := "-"
		if q.goal > 0 {
			goal = fmt.Sprintf("≤%.2f", q.goal)
			if median(v) > q.goal {
				failed = append(failed, fmt.Sprintf("%s: median %.3f > %.2f", q.name, median(v), q.goal))
			}
		}
		fmt.Fprintf(&out, "%-46s %7.3f %7.3f %7.3f %9.3f %6s\n", q.name, v[0], median(v), v[len(v)-1], ofMins, goal)
	}
	t.Log(out.String())
	if os.Getenv("SNPVTPM_ASSERT_RATIOS") == "1" {
		for _, f := range failed {
			t.Error(f)
		}
	}
}

// onlyRatios keeps the ratios whose name contains only and the cases
// they compare (SNPVTPM_RATIO_ONLY; the OpenSSL floor is then skipped).
func onlyRatios(cases []ratioCase, ratios []ratio, only string) ([]ratioCase, []ratio) {
	var keptRatios []ratio
	used := map[string]bool{}
	for _, q := range ratios {
		if strings.Contains(q.name, only) {
			keptRatios = append(keptRatios, q)
			used[q.num], used[q.den] = true, true
		}
	}
	var keptCases []ratioCase
	for _, c := range cases {
		if used[c.name] {
			keptCases = append(keptCases, c)
		}
	}
	return keptCases, keptRatios
}

// measure runs one case once: its nanoseconds per operation (of wall
// time, or with cpu of the process's CPU time: every operation the case's
// function ran, over the CPU time the process used meanwhile, GC included),
// and the benchmark result (zero for a direct measurement).
func measure(t *testing.T, c ratioCase, cpu bool) (float64, testing.BenchmarkResult) {
	t.Helper()
	if cpu {
		return measureCPU(t, c)
	}
	if c.direct != nil {
		v, err := c.direct()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		return v, testing.BenchmarkResult{}
	}
	res := testing.Benchmark(c.fn)
	if res.N == 0 {
		t.Fatalf("%s: benchmark failed", c.name)
	}
	return float64(res.T.Nanoseconds()) / float64(res.N), res
}

// measureCPU is measure in process CPU time.
func measureCPU(t *testing.T, c ratioCase) (float64, testing.BenchmarkResult) {
	t.Helper()
	ops := 0
	before, ok := processCPU()
	res := testing.Benchmark(func(b *testing.B) { c.fn(b); ops += b.N })
	after, _ := processCPU()
	if !ok {
		t.Fatal("SNPVTPM_RATIO_CPU=1: the process's CPU time is not available on this system")
	}
	if res.N == 0 || ops == 0 {
		t.Fatalf("%s: benchmark failed", c.name)
	}
	return float64(after-before) / float64(ops), res
}

// withOpenSSL adds the OpenSSL floor (`openssl speed`, run once per round)
// and its ratios when openssl is on PATH, and prints a notice otherwise.
func withOpenSSL(t *testing.T, cases []ratioCase, ratios []ratio) ([]ratioCase, []ratio) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("NOTICE: openssl is not on PATH: the OpenSSL floor and its ratios are skipped")
		return cases, ratios
	}
	seconds, err := opensslSeconds()
	if err != nil {
		t.Fatal(err)
	}
	var parts []opensslSpeed
	cases = append(cases, ratioCase{name: "openssl-floor", direct: func() (float64, error) {
		o, err := runOpenSSLSpeed(t.Context(), path, seconds)
		if err != nil {
			return 0, err
		}
		parts = append(parts, o)
		return o.floor(), nil
	}})
	t.Cleanup(func() {
		for i, o := range parts {
			t.Logf("openssl speed, round %d: P-384 verify %.1f µs, RSA-4096 %.1f µs, RSA-2048 %.1f µs", i+1, o.p384/1e3, o.rsa4096/1e3, o.rsa2048/1e3)
		}
	})
	return cases, append(ratios,
		ratio{"fresh / OpenSSL floor (real v1)", "fresh", "openssl-floor", goalFreshOverOpenSSL},
		ratio{"fast floor / OpenSSL floor", "fast-floor", "openssl-floor", 0},
		ratio{"OpenSSL floor / floor", "openssl-floor", "floor", 0},
	)
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
