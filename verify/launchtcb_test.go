package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// bumped returns the copies of t with one component raised by one: the
// minimums that t is one below in exactly that component.
func bumped(t snp.TCBParts, turin bool) map[string]snp.TCBParts {
	out := map[string]snp.TCBParts{}
	for name, f := range map[string]func(p *snp.TCBParts){
		"bootloader": func(p *snp.TCBParts) { p.Bootloader++ },
		"tee":        func(p *snp.TCBParts) { p.TEE++ },
		"snp":        func(p *snp.TCBParts) { p.SNP++ },
		"microcode":  func(p *snp.TCBParts) { p.Microcode++ },
		"fmc":        func(p *snp.TCBParts) { p.FMC++ },
	} {
		if name == "fmc" && !turin {
			continue
		}
		m := t
		f(&m)
		out[name] = m
	}
	return out
}

// TestMinLaunchTCBReal: the real AWS VLEK report, whose LAUNCH_TCB
// (microcode 219) is above its REPORTED_TCB (217), meets a
// min_launch_tcb of its launch TCB, which as min_tcb it would not: the
// check reads LAUNCH_TCB. One below the minimum in any component is
// check minimum-launch-tcb.
func TestMinLaunchTCBReal(t *testing.T) {
	var rr realReport
	for _, r := range realReports() {
		if r.name == "AWS VLEK report with allow_uncommitted_tcb" {
			rr = r
		}
	}
	if rr.report == "" {
		t.Fatal("no AWS VLEK fixture")
	}
	run := func(pol verify.Policy) (*verify.Claims, error) {
		pol.AllowUncommittedTCB = true
		return reportWith(context.Background(), testutil.ReadFile(t, rr.report), certDER(t, rr.cert), verify.Config{Now: rr.at, Policy: pol})
	}
	c, err := run(verify.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	launch := c.LaunchTCB
	if launch == c.ReportedTCB || c.ReportVersion < 2 {
		t.Fatalf("fixture: launch TCB %s, reported %s, version %d: want a v2+ report whose TCBs differ", launch, c.ReportedTCB, c.ReportVersion)
	}
	if _, err := run(verify.Policy{MinLaunchTCB: &launch}); err != nil {
		t.Errorf("min_launch_tcb = its launch TCB: %v", err)
	}
	_, err = run(verify.Policy{MinTCB: &launch})
	wantCheck(t, err, verify.CheckMinTCB)
	for name, min := range bumped(launch, false) {
		t.Run(name, func(t *testing.T) {
			_, err := run(verify.Policy{MinLaunchTCB: &min})
			if wantCheck(t, err, verify.CheckMinLaunchTCB); !strings.Contains(err.Error(), "launch TCB "+launch.String()) {
				t.Errorf("err = %v, want it to name the launch TCB", err)
			}
		})
	}
}

// TestMinLaunchTCBSynthetic: a guest launched under older firmware than
// the host now reports (LAUNCH_TCB below REPORTED_TCB) passes min_tcb
// but not a min_launch_tcb above its launch TCB, in any component (fmc
// on Turin); at its launch TCB it passes. A version 1 report carries no
// LAUNCH_TCB, so any minimum above 0 rejects it, saying why.
func TestMinLaunchTCBSynthetic(t *testing.T) {
	for _, p := range []snp.Product{snp.Milan, snp.Turin} {
		reported := testev.DefaultTCB(p)
		launch := reported
		launch.SNP--
		if p == snp.Turin {
			launch.FMC--
		}
		ev := (&testev.Builder{Product: p, LaunchTCB: &launch}).MustBuild()
		run := func(pol verify.Policy) (*verify.Claims, error) {
			return verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots(), Policy: pol})
		}
		c, err := run(verify.Policy{MinTCB: &reported})
		if err != nil {
			t.Fatalf("%s: min_tcb = reported: %v", p, err)
		}
		if c.LaunchTCB != launch {
			t.Fatalf("%s: claims launch TCB %s, want %s", p, c.LaunchTCB, launch)
		}
		if _, err := run(verify.Policy{MinTCB: &reported, MinLaunchTCB: &launch}); err != nil {
			t.Errorf("%s: min_launch_tcb = launch TCB: %v", p, err)
		}
		_, err = run(verify.Policy{MinTCB: &reported, MinLaunchTCB: &reported})
		wantCheck(t, err, verify.CheckMinLaunchTCB)
		for name, min := range bumped(launch, p == snp.Turin) {
			_, err := run(verify.Policy{MinLaunchTCB: &min})
			if err == nil {
				t.Errorf("%s: launch TCB one below min_launch_tcb in %s accepted", p, name)
				continue
			}
			wantCheck(t, err, verify.CheckMinLaunchTCB)
		}
	}

	v1 := (&testev.Builder{ReportVersion: 1}).MustBuild()
	cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{AllowUncommittedTCB: true, MinLaunchTCB: &snp.TCBParts{}}}
	if _, err := verify.Evidence(context.Background(), v1.JSON, v1.Nonce, cfg); err != nil {
		t.Errorf("version 1 report, min_launch_tcb all 0: %v", err)
	}
	cfg.Policy.MinLaunchTCB = &snp.TCBParts{SNP: 1}
	_, err := verify.Evidence(context.Background(), v1.JSON, v1.Nonce, cfg)
	if wantCheck(t, err, verify.CheckMinLaunchTCB); !strings.Contains(err.Error(), "carries no launch TCB") {
		t.Errorf("err = %v, want it to say a version 1 report has no launch TCB", err)
	}
}
