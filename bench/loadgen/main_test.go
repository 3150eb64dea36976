package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/server"
)

// TestMain lets the test binary serve the null server when startNull
// re-executes it, as loadgen's main does.
func TestMain(m *testing.M) {
	if os.Getenv(nullEnv) == "1" {
		if err := serveNull(os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestNullHandler: the null server answers the client loadgen uses, with
// a challenge of the right size and an attestation answer with a
// ciphertext, for every one of the requests measure sends.
func TestNullHandler(t *testing.T) {
	h, err := nullHandler()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	f, err := newFleet(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	row, err := measure(context.Background(), newClient(ts.URL, 4), nil, f, 12, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(row.lat.ok) != 12 || row.lat.errors != 0 {
		t.Fatalf("%d answers, %d errors (first: %v), want 12 and 0", len(row.lat.ok), row.lat.errors, row.lat.firstErr)
	}
	// A body beyond serve's bound is refused, as serve refuses it.
	var ar server.AttestResponse
	big := bytes.Repeat([]byte(" "), server.DefaultMaxBodyBytes+1)
	if err := newClient(ts.URL, 1).Post(context.Background(), server.PathAttest, big, &ar); err == nil {
		t.Fatal("null server accepted a body larger than serve's bound")
	}
}

// TestNullProcess: startNull runs the null server as a process of its own
// whose CPU time measure reads; stop ends it.
func TestNullProcess(t *testing.T) {
	srv, err := startNull()
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFleet(1, 1)
	if err != nil {
		srv.stop()
		t.Fatal(err)
	}
	row, err := measure(context.Background(), newClient(srv.url, 2), []*serverProc{srv}, f, 20, 2, nil)
	srv.stop()
	if err != nil {
		t.Fatal(err)
	}
	if len(row.lat.ok) != 20 || row.serverCPU < 0 {
		t.Fatalf("%d answers, server CPU %v", len(row.lat.ok), row.serverCPU)
	}
	if srv.cmd.ProcessState == nil || !srv.cmd.ProcessState.Exited() {
		t.Fatalf("null server not stopped: %v", srv.cmd.ProcessState)
	}
}

// TestCompare runs two null servers against each other, two rounds: the
// report lists both rounds of both and their ratios.
func TestCompare(t *testing.T) {
	var out strings.Builder
	cs := []contender{{"a", nullName}, {"b", nullName}}
	if err := compare(&out, cs, []int{1, 3}, 2, 10, 2, 1); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"round 1 a", "round 1 b", "round 2 a", "round 2 b", "per-core ratio to a", "\nb           c=1 "} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func TestParseServers(t *testing.T) {
	cs, err := parseServers("old=/tmp/x/snp-vtpm, /usr/bin/snp, null,new=self", "/built")
	if err != nil {
		t.Fatal(err)
	}
	want := []contender{{"old", "/tmp/x/snp-vtpm"}, {"snp", "/usr/bin/snp"}, {"null", "null"}, {"new", "/built"}}
	if len(cs) != len(want) {
		t.Fatalf("got %v, want %v", cs, want)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, cs[i], want[i])
		}
	}
	for _, bad := range []string{"null", "a=null,a=self", "a=,b=null", ""} {
		if _, err := parseServers(bad, "/built"); err == nil {
			t.Errorf("parseServers(%q) accepted", bad)
		}
	}
}

func TestSpread(t *testing.T) {
	for _, c := range []struct {
		in          []float64
		lo, med, hi float64
	}{
		{[]float64{3, 1, 2}, 1, 2, 3},
		{[]float64{4, 1, 3, 2}, 1, 2.5, 4},
		{[]float64{5}, 5, 5, 5},
	} {
		lo, med, hi := spread(c.in)
		if lo != c.lo || med != c.med || hi != c.hi {
			t.Errorf("spread(%v) = %v %v %v, want %v %v %v", c.in, lo, med, hi, c.lo, c.med, c.hi)
		}
	}
	if q := quantile([]time.Duration{1, 2, 3, 4}, 0.5); q != 2 {
		t.Errorf("median of 1..4 = %v, want 2", q)
	}
}
