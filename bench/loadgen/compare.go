package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// contender is one server of -servers: a label and a binary (or nullName).
type contender struct {
	name, bin string
}

// parseServers parses -servers: comma-separated entries, each "label=path",
// a path (labelled by its file name), "null" (the null server) or "self"
// (snp-vtpm built from this module into dir).
func parseServers(list, self string) ([]contender, error) {
	var cs []contender
	seen := map[string]bool{}
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		name, bin, ok := strings.Cut(e, "=")
		if !ok {
			name, bin = filepath.Base(e), e
		}
		switch bin {
		case "":
			return nil, fmt.Errorf("-servers: empty entry in %q", list)
		case "self":
			bin = self
		}
		if seen[name] {
			return nil, fmt.Errorf("-servers: label %q twice (use label=path)", name)
		}
		seen[name] = true
		cs = append(cs, contender{name: name, bin: bin})
	}
	if len(cs) < 2 {
		return nil, errors.New("-servers: name at least two servers to compare")
	}
	return cs, nil
}

// sample is one measured level of one server in one round.
type sample struct {
	perCore float64       // attestations per second of server CPU
	p99     time.Duration // 99th percentile latency
	errors  int
}

// compareRun is the samples of an interleaved comparison:
// samples[server][level][round].
type compareRun struct {
	servers []contender
	levels  []int
	samples [][][]sample
}

// compare runs every server in turn, rounds times, in an order rotating
// by one each round, each started afresh, warmed up and measured at every
// level; then it prints each round, the per-core rates and the ratios of
// every server to the first (min / median / max over the rounds, each
// ratio taken within one round).
func compare(w io.Writer, servers []contender, levels []int, rounds, n, nVMs, version int) error {
	dir, err := os.MkdirTemp("", "snp-vtpm-loadgen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	f, err := newFleet(nVMs, version)
	if err != nil {
		return err
	}
	cr := &compareRun{servers: servers, levels: levels, samples: make([][][]sample, len(servers))}
	for i := range cr.samples {
		cr.samples[i] = make([][]sample, len(levels))
	}
	fmt.Fprintf(w, "%d servers, %d rounds in rotating order; evidence v%d from %d VMs; %d attestations per level\n",
		len(servers), rounds, version, nVMs, n)
	for r := range rounds {
		for k := range servers {
			i := (k + r) % len(servers)
			row, err := measureServer(servers[i].bin, subdir(dir, fmt.Sprint(r, "-", i)), f, levels, n)
			if err != nil {
				return fmt.Errorf("%s: %w", servers[i].name, err)
			}
			fmt.Fprintf(w, "round %d %-10s", r+1, servers[i].name)
			for l, s := range row {
				cr.samples[i][l] = append(cr.samples[i][l], s)
				fmt.Fprintf(w, "  c=%d %.0f/core p99 %v", levels[l], s.perCore, s.p99.Round(10*time.Microsecond))
				if s.errors > 0 {
					fmt.Fprintf(w, " (%d errors)", s.errors)
				}
			}
			fmt.Fprintln(w)
		}
	}
	cr.print(w)
	return nil
}

// measureServer starts one server, warms it up (every VM attests once) and
// measures it at every level.
func measureServer(bin, dir string, f *fleet, levels []int, n int) ([]sample, error) {
	srv, err := startServer(bin, dir, "", slices.Max(levels))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	c := newClient(srv.url, slices.Max(levels))
	ctx := context.Background()
	bodies, err := prepare(ctx, c, f, len(f.vms))
	if err != nil {
		return nil, err
	}
	if _, err := fire(ctx, c, bodies, 4); err != nil {
		return nil, err
	}
	var out []sample
	for _, conc := range levels {
		row, err := measure(ctx, c, []*serverProc{srv}, f, n, conc, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, sample{perCore: float64(len(row.lat.ok)) / max(row.serverCPU.Seconds(), 0.01),
			p99: quantile(row.lat.ok, 0.99), errors: row.lat.errors})
	}
	return out, nil
}

// quantile is the p-quantile of sorted (0 when empty).
func quantile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(max(int(p*float64(len(sorted))+0.5)-1, 0), len(sorted)-1)]
}

// spread is the min, median and max of xs (not empty).
func spread(xs []float64) (lo, med, hi float64) {
	s := slices.Sorted(slices.Values(xs))
	med = s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[0], med, s[len(s)-1]
}

// print writes the per-core rates, p99 and the ratios to the first server.
func (cr *compareRun) print(w io.Writer) {
	fmt.Fprintf(w, "\n%-10s %6s %28s %10s\n", "server", "conc", "att/s/core min/median/max", "p99 median")
	for i, s := range cr.servers {
		for l, conc := range cr.levels {
			rates, p99s := cr.series(i, l)
			lo, med, hi := spread(rates)
			_, p99, _ := spread(p99s)
			fmt.Fprintf(w, "%-10s %6d %28s %10v\n", s.name, conc, fmt.Sprintf("%.0f / %.0f / %.0f", lo, med, hi),
				time.Duration(p99).Round(10*time.Microsecond))
		}
	}
	fmt.Fprintf(w, "\nper-core ratio to %s, within each round (min / median / max)\n", cr.servers[0].name)
	for i, s := range cr.servers[1:] {
		fmt.Fprintf(w, "%-10s", s.name)
		for l, conc := range cr.levels {
			lo, med, hi := spread(cr.ratios(i+1, 0, l))
			fmt.Fprintf(w, "  c=%d %.2f / %.2f / %.2f", conc, lo, med, hi)
		}
		fmt.Fprintln(w)
	}
}

// series returns server i's per-core rates and p99s (in ns) at level l.
func (cr *compareRun) series(i, l int) (rates, p99s []float64) {
	for _, s := range cr.samples[i][l] {
		rates = append(rates, s.perCore)
		p99s = append(p99s, float64(s.p99))
	}
	return rates, p99s
}

// ratios returns, round by round, server a's per-core rate at level l
// over server b's.
func (cr *compareRun) ratios(a, b, l int) []float64 {
	var rs []float64
	for r := range cr.samples[a][l] {
		rs = append(rs, cr.samples[a][l][r].perCore/cr.samples[b][l][r].perCore)
	}
	return rs
}

// compareMain is loadgen -servers: it builds "self" when named, then compares.
func compareMain(list, levelList string, rounds, n, nVMs, version int) error {
	levels, err := parseLevels(levelList)
	if err != nil {
		return err
	}
	if rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	if version != 1 && version != 2 {
		return errors.New("-version must be 1 or 2")
	}
	self := ""
	if strings.Contains(list, "self") {
		dir, bin, err := workDir("")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		self = bin
	}
	servers, err := parseServers(list, self)
	if err != nil {
		return err
	}
	return compare(os.Stdout, servers, levels, rounds, n, nVMs, version)
}
