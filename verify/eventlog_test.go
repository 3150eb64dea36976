package verify_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-eventlog/tcg"

	"github.com/snp-vtpm/snp-vtpm/eventlog"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// gcePCRs returns testev's default PCRs with the SHA-256 values that
// pcrs.json gives for the real GCE log name.
func gcePCRs(t *testing.T, name string) [][]byte {
	t.Helper()
	var all map[string]struct {
		PCRs map[string]map[string]string `json:"pcrs"`
	}
	if err := json.Unmarshal(testutil.ReadFile(t, "eventlogs/pcrs.json"), &all); err != nil {
		t.Fatal(err)
	}
	pcrs := testev.DefaultPCRs()
	for k, v := range all[name].PCRs["sha256"] {
		i, _ := strconv.Atoi(k)
		b, err := hex.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		pcrs[i] = b
	}
	return pcrs
}

// withLog returns synthetic evidence quoting pcrs that carries log.
func withLog(log []byte) func(t *testing.T, ev *testev.Evidence) []byte {
	return func(t *testing.T, ev *testev.Evidence) []byte {
		e := *ev.Evidence
		e.EventLog = log
		return encode(t, &e)
	}
}

// TestEventLogReplay: a real GCE log carried in evidence whose quote
// signs its PCRs replays, and the policy's secure_boot, kernel_cmdline and
// event_log_pcrs hold or reject; a PCR that does not replay is a claim
// unless the policy names it.
func TestEventLogReplay(t *testing.T) {
	rhel := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	noSB := testutil.ReadFile(t, "eventlogs/gce-ubuntu-2104-no-secure-boot.bin")
	rhelPCRs := gcePCRs(t, "gce-rhel8-uefi.bin")
	bad7 := gcePCRs(t, "gce-rhel8-uefi.bin")
	bad7[7] = testev.DefaultPCRs()[7]
	pol := func(f func(p *verify.Policy)) func(o *verify.Config) {
		return func(o *verify.Config) { f(&o.Policy) }
	}
	strict := pol(func(p *verify.Policy) {
		p.SecureBoot = true
		p.KernelCmdline = `/\(hd0,gpt2\)/boot/vmlinuz-4\.18\.0-\S+ root=UUID=f3948fb4-cce7-4193-940a-c50052e93bf3 ro .*/`
		p.EventLogPCRs = []int{0, 2, 4, 7, 8, 9}
	})
	runSynth(t, []synthCase{
		{name: "rhel8 log replays", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			el := c.EventLog
			if el == nil || el.Error != "" {
				t.Fatalf("event_log %+v", el)
			}
			for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14} {
				if el.PCRs[i] != eventlog.Replayed {
					t.Errorf("PCR %d %s", i, el.PCRs[i])
				}
			}
			if el.PCRs[10] != eventlog.NotCovered {
				t.Errorf("PCR 10 %s", el.PCRs[10])
			}
			if el.State.SecureBoot == nil || !*el.State.SecureBoot || el.State.KernelCmdline == nil {
				t.Errorf("state %+v", el.State)
			}
		}},
		{name: "strict policy holds", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), opts: strict},
		{name: "exact cmdline", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), opts: pol(func(p *verify.Policy) {
			p.KernelCmdline = "(hd0,gpt2)/boot/vmlinuz-4.18.0-240.22.1.el8_3.x86_64 root=UUID=f3948fb4-cce7-4193-940a-c50052e93bf3 ro net.ifnames=0 biosdevname=0 scsi_mod.use_blk_mq=Y crashkernel=auto console=ttyS0,38400n8"
		})},
		{name: "other cmdline", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.KernelCmdline = "/.* init=/bin/sh/" }), want: verify.CheckEventLog},
		{name: "secure boot off", b: testev.Builder{PCRs: gcePCRs(t, "gce-ubuntu-2104-no-secure-boot.bin")}, data: withLog(noSB), opts: pol(func(p *verify.Policy) { p.SecureBoot = true }), want: verify.CheckEventLog},
		{name: "log of another boot", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(noSB), opts: pol(func(p *verify.Policy) { p.EventLogPCRs = []int{4, 8} }), want: verify.CheckEventLog},
		{name: "PCR 7 mismatch is a claim", b: testev.Builder{PCRs: bad7}, data: withLog(rhel), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.EventLog.PCRs[7] != eventlog.Mismatch || c.EventLog.PCRs[4] != eventlog.Replayed || c.EventLog.State.SecureBoot != nil {
				t.Errorf("event_log %+v", c.EventLog)
			}
		}},
		{name: "PCR 7 mismatch named", b: testev.Builder{PCRs: bad7}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.EventLogPCRs = []int{7} }), want: verify.CheckEventLog},
		{name: "PCR 7 mismatch secure boot", b: testev.Builder{PCRs: bad7}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.SecureBoot = true }), want: verify.CheckEventLog},
		{name: "db certificates pinned", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), opts: pol(func(p *verify.Policy) {
			p.SecureBootDBCerts = []verify.HexBytes{mustHex(t, msUEFICA2011), mustHex(t, msWinPCA2011)}
		})},
		{name: "db certificate absent", b: testev.Builder{PCRs: rhelPCRs}, data: withLog(rhel), opts: pol(func(p *verify.Policy) {
			p.SecureBootDBCerts = []verify.HexBytes{mustHex(t, msUEFICA2011), mustHex(t, msKEKCA2011)}
		}), want: verify.CheckEventLog},
		{name: "db certificate from PCR 7 mismatch", b: testev.Builder{PCRs: bad7}, data: withLog(rhel), opts: pol(func(p *verify.Policy) {
			p.SecureBootDBCerts = []verify.HexBytes{mustHex(t, msUEFICA2011)}
		}), want: verify.CheckEventLog},
		{name: "no log required", opts: strict, want: verify.CheckEventLog},
		{name: "garbage log is a claim", data: withLog([]byte("garbage")), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.EventLog == nil || c.EventLog.Error == "" {
				t.Errorf("event_log %+v", c.EventLog)
			}
		}},
		{name: "garbage log required", data: withLog([]byte("garbage")), opts: strict, want: verify.CheckEventLog},
		{name: "no PCR values", b: testev.Builder{PCRs: rhelPCRs, OmitPCRValues: true}, data: withLog(rhel), opts: strict, want: verify.CheckEventLog},
		// The log replays PCR 7 against the value the evidence supplies, but
		// the quote does not select PCR 7: nothing signs that value.
		{name: "PCR 7 not selected is unchecked", b: testev.Builder{PCRs: rhelPCRs, PCRSelect: without(seq(24), 7)}, data: withLog(rhel), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.EventLog.PCRs[7] != eventlog.Unchecked || c.EventLog.PCRs[4] != eventlog.Replayed || c.EventLog.State.SecureBoot != nil || c.EventLog.State.DB != nil {
				t.Errorf("event_log %+v", c.EventLog)
			}
		}},
		{name: "PCR 7 not selected secure boot", b: testev.Builder{PCRs: rhelPCRs, PCRSelect: without(seq(24), 7)}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.SecureBoot = true }), want: verify.CheckEventLog},
		{name: "PCR 7 not selected named", b: testev.Builder{PCRs: rhelPCRs, PCRSelect: without(seq(24), 7)}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.EventLogPCRs = []int{7} }), want: verify.CheckEventLog},
		{name: "PCR 7 not selected db certificates", b: testev.Builder{PCRs: rhelPCRs, PCRSelect: without(seq(24), 7)}, data: withLog(rhel), opts: pol(func(p *verify.Policy) {
			p.SecureBootDBCerts = []verify.HexBytes{mustHex(t, msUEFICA2011)}
		}), want: verify.CheckEventLog},
		{name: "SHA-1 bank, no PCR values", b: testev.Builder{PCRs: rhelPCRs, PCRBank: quote.AlgSHA1, OmitPCRValues: true}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.EventLogPCRs = []int{7} }), want: verify.CheckEventLog},
		{name: "PCR 8 not selected cmdline", b: testev.Builder{PCRs: rhelPCRs, PCRSelect: without(seq(24), 8)}, data: withLog(rhel), opts: pol(func(p *verify.Policy) { p.KernelCmdline = "/.*/" }), want: verify.CheckEventLog},
	})
}

// without returns l without v.
func without(l []int, v int) []int {
	return slices.DeleteFunc(l, func(x int) bool { return x == v })
}

// TestEventLogRelabelledGRUB: a GRUB log whose unmeasured prefixes were
// rewritten (the booted kernel's command line labelled a command, a
// crafted command labelled the command line) replays to the quoted PCR 8
// and must not satisfy kernel_cmdline; the honest log does.
func TestEventLogRelabelledGRUB(t *testing.T) {
	const good, evil = "/vmlinuz root=/dev/sda1 ro quiet", "/vmlinuz root=/dev/sda1 ro init=/bin/sh"
	type ev struct{ data, measured string }
	build := func(events ...ev) ([]byte, [][]byte) {
		b := eventlog.NewBuilder(nil)
		for _, e := range events {
			b.MeasureDigest(8, tcg.Ipl, []byte(e.data), []byte(e.measured))
		}
		log, ext, err := b.Log()
		if err != nil {
			t.Fatal(err)
		}
		pcrs := testev.DefaultPCRs()
		pcrs[8] = eventlog.PCRs(ext)[8]
		return log, pcrs
	}
	honest, honestPCRs := build(ev{"grub_cmd: linux " + good, "linux " + good}, ev{"kernel_cmdline: " + good, good})
	forged, forgedPCRs := build(ev{"kernel_cmdline: " + good, good}, ev{"grub_cmd: linux " + evil, "linux " + evil}, ev{"grub_cmd: " + evil, evil})
	want := func(o *verify.Config) { o.Policy.KernelCmdline = good }
	runSynth(t, []synthCase{
		{name: "honest", b: testev.Builder{PCRs: honestPCRs}, data: withLog(honest), opts: want},
		{name: "relabelled", b: testev.Builder{PCRs: forgedPCRs}, data: withLog(forged), opts: want, want: verify.CheckEventLog},
		{name: "relabelled claims no command line", b: testev.Builder{PCRs: forgedPCRs}, data: withLog(forged), check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if c.EventLog.PCRs[8] != eventlog.Replayed {
				t.Fatalf("PCR 8 %s", c.EventLog.PCRs[8])
			}
			if c.EventLog.State.KernelCmdline != nil {
				t.Errorf("kernel command line %q claimed", *c.EventLog.State.KernelCmdline)
			}
		}},
	})
}

// Microsoft's UEFI CA certificates (SHA-256 of the DER) in the real logs.
const (
	msKEKCA2011  = "a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503"
	msUEFICA2011 = "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507"
	msWinPCA2011 = "e8e95f0733a55e8bad7be0a1413ee23c51fcea64b3c8fa6a786935fddcc71961"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventLogPolicy: the policy members parse and are validated, and a
// bare report fails closed on them.
func TestEventLogPolicy(t *testing.T) {
	p, err := verify.ParsePolicy([]byte(`{"secure_boot":true,"kernel_cmdline":"/ro .*/","event_log_pcrs":[0,7]}`))
	if err != nil || !p.SecureBoot || p.KernelCmdline != "/ro .*/" || len(p.EventLogPCRs) != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	for bad, field := range map[string]string{
		`{"event_log_pcrs":[24]}`:                                                  "event_log_pcrs[0]",
		`{"event_log_pcrs":[-1]}`:                                                  "event_log_pcrs[0]",
		`{"kernel_cmdline":"/(/"}`:                                                 "kernel_cmdline",
		`{"secure_boot":1}`:                                                        "secure_boot",
		`{"secure_boot_db_certs":["` + msUEFICA2011[:62] + `"]}`:                   "secure_boot_db_certs[0]: 31 bytes",
		`{"secure_boot_db_certs":["` + strings.Repeat("0", 64) + `"]}`:             "secure_boot_db_certs[0]: the zero digest",
		`{"secure_boot_db_certs":["` + msUEFICA2011 + `","` + msUEFICA2011 + `"]}`: "secure_boot_db_certs[1]: repeats",
	} {
		if _, err := verify.ParsePolicy([]byte(bad)); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want an error naming %s", bad, err, field)
		}
	}
	cfg := fixedOpts()
	cfg.Policy.SecureBoot = true
	c, err := reportWith(context.Background(), testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin"),
		testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0], cfg)
	wantOutcome(t, c, err, verify.CheckEventLog)
}

// TestKernelCmdlineAnchored: a kernel_cmdline expression matches the
// whole command line only. One that closes the anchoring group itself
// ("/x)|(.*/" compiled to ^(?:x)|(.*)$, which matched every command line)
// is refused by New; an alternation is anchored as a whole.
func TestKernelCmdlineAnchored(t *testing.T) {
	rhel := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	ev := (&testev.Builder{PCRs: gcePCRs(t, "gce-rhel8-uefi.bin")}).MustBuild()
	data := withLog(rhel)(t, ev)
	for _, tc := range []struct {
		re      string
		refused bool
		want    verify.Check
	}{
		{`/nothing-like-it)|(.*/`, true, ""},
		{`/nothing-like-it)|(?:.* init=/bin/sh/`, true, ""},
		{`/nothing-like-it|.*crashkernel=auto.*/`, false, ""},
		{`/nothing-like-it|crashkernel=auto/`, false, verify.CheckEventLog},
		{`/.*crashkernel=auto|nothing-like-it/`, false, verify.CheckEventLog},
	} {
		cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{KernelCmdline: tc.re}}
		v, err := verify.New(cfg)
		if tc.refused {
			if pe, ok := errors.AsType[*verify.PolicyError](err); !ok || pe.Pointer != "/kernel_cmdline" {
				t.Errorf("%s: New: %v, want a *PolicyError at /kernel_cmdline", tc.re, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: New: %v", tc.re, err)
		}
		c, err := v.Evidence(context.Background(), data, ev.Nonce)
		if tc.want == "" && err != nil {
			t.Errorf("%s: rejected: %v", tc.re, err)
		} else if tc.want != "" {
			wantOutcome(t, c, err, tc.want)
		}
	}
}

// TestCmdlineMatcherForms: kernel_cmdline "/RE/" is a regular expression
// from two characters on ("//" matches only the empty command line), and
// any other string, "/" included, is matched exactly.
func TestCmdlineMatcherForms(t *testing.T) {
	for _, tc := range []struct {
		want, line string
		match      bool
	}{
		{"//", "", true},
		{"//", "//", false},
		{"/", "/", true},
		{"/", "", false},
		{"/ro/", "ro", true},
		{"/ro/", "/ro/", false},
		{"/ro", "/ro", true},
		{"ro/", "ro/", true},
		{"ro", "ro quiet", false},
	} {
		m, err := verify.CmdlineMatcherForTest(tc.want)
		if err != nil {
			t.Fatalf("%q: %v", tc.want, err)
		}
		if got := m(tc.line); got != tc.match {
			t.Errorf("kernel_cmdline %q on %q: match %v, want %v", tc.want, tc.line, got, tc.match)
		}
	}
}

// TestNoEventLogNoClaim: evidence that carries no event log has no
// event_log claim (nil, not an empty replay or an error), whatever
// policy that asks nothing of the log.
func TestNoEventLogNoClaim(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	if ev.Evidence.EventLog != nil {
		t.Fatal("the synthetic evidence carries a log")
	}
	claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	if claims.EventLog != nil {
		t.Errorf("EventLog = %+v, want nil", claims.EventLog)
	}
}

// TestEventLogWithoutPCRValues: a log carried by evidence without PCR
// values is not replayed against nothing: the claim says why (Error), with
// no PCR verdicts and no state, even where the log's own PCRs would have
// replayed.
func TestEventLogWithoutPCRValues(t *testing.T) {
	rhel := testutil.ReadFile(t, "eventlogs/gce-rhel8-uefi.bin")
	ev := (&testev.Builder{PCRs: gcePCRs(t, "gce-rhel8-uefi.bin"), OmitPCRValues: true}).MustBuild()
	claims, err := verify.Evidence(context.Background(), withLog(rhel)(t, ev), ev.Nonce, verify.Config{Roots: ev.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	el := claims.EventLog
	if el == nil || !strings.Contains(el.Error, "no PCR values") || el.PCRs != nil || el.State.SecureBoot != nil || el.State.KernelCmdline != nil {
		t.Fatalf("EventLog = %+v, want the error of no PCR values and nothing replayed", el)
	}
}
