package verify_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestNewRejectsBadConfig: New refuses a configuration that cannot be
// meant, naming the field; such an error is not a verdict (ErrRejected).
func TestNewRejectsBadConfig(t *testing.T) {
	d := make(verify.HexBytes, 48)
	d[0] = 1
	cases := []struct {
		name string
		cfg  verify.Config
		want string
	}{
		{"vmpl above 3", verify.Config{Policy: verify.Policy{VMPL: 4}}, "policy: vmpl: 4"},
		{"vmpl negative", verify.Config{Policy: verify.Policy{VMPL: -1}}, "policy: vmpl: -1"},
		{"contradicting paravisor policy", verify.Config{Policy: verify.Policy{AllowAnyParavisor: true, IDKeyDigests: []verify.HexBytes{d}}}, "allow_any_paravisor"},
		{"short measurement", verify.Config{Policy: verify.Policy{Measurements: []verify.HexBytes{{1}}}}, "measurements[0]"},
		{"PCR index", verify.Config{Policy: verify.Policy{PCRs: map[int]verify.HexBytes{24: make([]byte, 32)}}}, `pcrs["24"]`},
		{"unknown product", verify.Config{Policy: verify.Policy{Products: []string{"Naples"}}}, "products[0]"},
		{"negative cache entries", verify.Config{Cache: verify.CacheConfig{Entries: -1}}, "cache bounds"},
		{"negative cache bytes", verify.Config{Cache: verify.CacheConfig{Bytes: -5}}, "cache bounds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify.New(tc.cfg)
			if err == nil || v != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error naming %q", v, err, tc.want)
			}
			if errors.Is(err, verify.ErrRejected) {
				t.Errorf("a configuration error matches ErrRejected: %v", err)
			}
		})
	}
	for _, vmpl := range []int{0, 1, 2, 3} {
		if _, err := verify.New(verify.Config{Policy: verify.Policy{VMPL: vmpl}}); err != nil {
			t.Errorf("vmpl %d: %v", vmpl, err)
		}
	}
}

// TestParsePolicyVMPL: the vmpl field is read from JSON and checked, the
// error naming it.
func TestParsePolicyVMPL(t *testing.T) {
	p, err := verify.ParsePolicy([]byte(`{"vmpl":2}`))
	if err != nil || p.VMPL != 2 {
		t.Fatalf("ParsePolicy = %+v, %v", p, err)
	}
	for _, in := range []string{`{"vmpl":4}`, `{"vmpl":-1}`, `{"vmpl":"1"}`, `{"vmpl":1.5}`} {
		if _, err := verify.ParsePolicy([]byte(in)); err == nil || !strings.Contains(err.Error(), "vmpl") {
			t.Errorf("%s: err = %v, want one naming vmpl", in, err)
		}
	}
}

// TestVMPLPolicy: a bare SNP report may come from any VMPL up to the
// policy's vmpl; an HCL report and evidence always need VMPL 0, whatever
// the policy says. Every report here is validly signed.
func TestVMPLPolicy(t *testing.T) {
	ctx := context.Background()
	for vmpl := range 4 {
		ev := (&testev.Builder{Version: 1, VMPL: uint32(vmpl)}).MustBuild()
		for pol := range 4 {
			v := newVerifier(t, verify.Config{Roots: testev.Roots(), Policy: verify.Policy{VMPL: pol}})
			c, err := v.Report(ctx, ev.Report, ev.VCEKDER)
			if vmpl <= pol {
				if err != nil || c.VMPL != uint32(vmpl) {
					t.Errorf("bare report at VMPL %d, policy vmpl %d: claims %v, err %v", vmpl, pol, c, err)
				}
			} else {
				wantCheck(t, err, verify.CheckVMPL)
			}
			_, err = v.Report(ctx, ev.Evidence.HCLReport, ev.VCEKDER)
			if vmpl == 0 {
				if err != nil {
					t.Errorf("HCL report at VMPL 0, policy vmpl %d: %v", pol, err)
				}
			} else {
				wantCheck(t, err, verify.CheckVMPL)
			}
			_, err = v.Evidence(ctx, ev.JSON, ev.Nonce)
			if vmpl == 0 {
				if err != nil {
					t.Errorf("evidence at VMPL 0, policy vmpl %d: %v", pol, err)
				}
			} else {
				wantCheck(t, err, verify.CheckVMPL)
			}
		}
	}
}

// TestVerifierStats: Stats counts the work each cache saved and what it
// holds; a disabled cache reports nothing and holds nothing.
func TestVerifierStats(t *testing.T) {
	ctx := context.Background()
	data := v1Data(t)
	nonce := []byte("challenge")
	v := newVerifier(t, fixedOpts())
	if s := v.Stats(); s != (verify.Stats{}) {
		t.Fatalf("a new Verifier's stats are %+v", s)
	}
	for range 3 {
		if _, err := v.Evidence(ctx, data, nonce); err != nil {
			t.Fatal(err)
		}
	}
	s := v.Stats()
	for name, c := range map[string]verify.CacheStats{"vceks": s.VCEKs, "reports": s.Reports, "hcl": s.HCLReports, "evidence": s.Evidence} {
		if c.Entries == 0 || c.Bytes == 0 || c.Hits == 0 || c.Misses == 0 {
			t.Errorf("%s: %+v, want entries, bytes, hits and misses after three verifications", name, c)
		}
	}
	if s.Reports.Hits != 2 || s.HCLReports.Hits != 2 {
		t.Errorf("report hits %d, HCL hits %d; want 2 each (the 2nd and 3rd verification)", s.Reports.Hits, s.HCLReports.Hits)
	}
	// A rejected document adds misses, never entries.
	ev := decode(t, data)
	ev.HCLReport[hcl.OffsetHardware+snp.OffsetMeasurement+2] ^= 1
	if _, err := v.Evidence(ctx, encode(t, ev), nonce); err == nil {
		t.Fatal("tampered evidence verified")
	}
	after := v.Stats()
	if after.Reports.Entries != s.Reports.Entries || after.HCLReports.Entries != s.HCLReports.Entries || after.HCLReports.Misses <= s.HCLReports.Misses {
		t.Errorf("after a rejection: %+v, before %+v", after, s)
	}

	cfg := fixedOpts()
	cfg.Cache.Disable = true
	off := newVerifier(t, cfg)
	for range 2 {
		if _, err := off.Evidence(ctx, data, nonce); err != nil {
			t.Fatal(err)
		}
	}
	if s := off.Stats(); s != (verify.Stats{}) {
		t.Errorf("disabled cache: stats %+v", s)
	}
}

// TestCacheBounds: Config.Cache bounds every cache in entries and bytes.
func TestCacheBounds(t *testing.T) {
	ctx := context.Background()
	v := newVerifier(t, verify.Config{Roots: testev.Roots(), Cache: verify.CacheConfig{Entries: 2}})
	for range 5 {
		ev := (&testev.Builder{Version: 1, VCEK: testev.VCEKTemplate{}}).MustBuild()
		if _, err := v.Evidence(ctx, ev.JSON, ev.Nonce); err != nil {
			t.Fatal(err)
		}
	}
	s := v.Stats()
	for name, c := range map[string]verify.CacheStats{"vceks": s.VCEKs, "reports": s.Reports, "hcl": s.HCLReports, "evidence": s.Evidence} {
		if c.Entries == 0 || c.Entries > 2 {
			t.Errorf("%s holds %d entries, want 1..2", name, c.Entries)
		}
	}
	small := newVerifier(t, verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Bytes: 1000}})
	if _, err := small.Evidence(ctx, v1Data(t), []byte("challenge")); err != nil {
		t.Fatal(err)
	}
	s = small.Stats()
	for name, c := range map[string]verify.CacheStats{"vceks": s.VCEKs, "reports": s.Reports, "hcl": s.HCLReports, "evidence": s.Evidence} {
		if c.Bytes > 1000 {
			t.Errorf("%s holds %d bytes, bound 1000", name, c.Bytes)
		}
	}
}

// TestNewCopiesConfig: changing the Config (and the policy's slices and
// TCB minimums) after
// New changes nothing in the Verifier.
func TestNewCopiesConfig(t *testing.T) {
	var m [48]byte
	m[0] = 0x42
	ev := (&testev.Builder{Version: 1, Measurement: &m}).MustBuild()
	launch := testev.DefaultTCB(snp.Milan)
	cfg := verify.Config{Roots: testev.Roots(), Policy: verify.Policy{Measurements: []verify.HexBytes{append(verify.HexBytes(nil), m[:]...)}, Products: []string{"Milan"}, MinLaunchTCB: &launch}}
	v := newVerifier(t, cfg)
	cfg.Policy.Measurements[0][0] ^= 1
	cfg.Policy.Products[0] = "Genoa"
	launch.SNP++
	cfg.Roots = nil
	if _, err := v.Evidence(context.Background(), ev.JSON, ev.Nonce); err != nil {
		t.Fatalf("the caller's changes reached the Verifier: %v", err)
	}
	got := v.Config()
	got.Policy.Measurements[0][0] ^= 1
	got.Policy.MinLaunchTCB.Microcode++
	if _, err := v.Evidence(context.Background(), ev.JSON, ev.Nonce); err != nil {
		t.Fatalf("changing Config()'s result reached the Verifier: %v", err)
	}
}

// report1204 returns the 1204 bytes stored by tools that save the SNP
// report with the IGVM request header: HCL report bytes 32..1236.
func report1204(blob []byte) []byte {
	return bytes.Clone(blob[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize+hcl.IGVMHeaderSize])
}

// TestReport1204Real: the real trustee HCL report cut to 1204 bytes verifies
// with its VCEK as a bare report (same claims as the 1184-byte report);
// insane header fields are rejected as hcl-format.
func TestReport1204Real(t *testing.T) {
	blob := testutil.ReadFile(t, testutil.SNPDir+"hcl-report.bin")
	vcek := testutil.PEMBlocks(t, testutil.ReadFile(t, testutil.SNPDir+"vcek.pem"), "CERTIFICATE")[0]
	raw := report1204(blob)
	c, err := reportWith(context.Background(), raw, vcek, fixedOpts())
	if err != nil {
		t.Fatalf("1204-byte real report: %v", err)
	}
	bare, err := reportWith(context.Background(), raw[:snp.ReportSize], vcek, fixedOpts())
	if err != nil {
		t.Fatal(err)
	}
	if c.Product != bare.Product || !bytes.Equal(c.ChipID, bare.ChipID) || c.EvidenceVersion != -1 || c.SigningKey != "VCEK" {
		t.Errorf("claims differ: %+v vs %+v", c, bare)
	}
	put := func(off int, v uint32) []byte {
		b := bytes.Clone(raw)
		binary.LittleEndian.PutUint32(b[snp.ReportSize+off:], v)
		return b
	}
	n := binary.LittleEndian.Uint32(raw[snp.ReportSize+16:])
	for name, b := range map[string][]byte{
		"igvm version 2":          put(4, 2),
		"report type TDX":         put(8, uint32(hcl.ReportTypeTDX)),
		"report type 0":           put(8, 0),
		"hash type SHA-384":       put(12, uint32(hcl.HashTypeSHA384)),
		"data size off by one":    put(0, hcl.IGVMHeaderSize+n+1),
		"variable data size zero": put(16, 0),
		"variable data size huge": put(16, 0xFFFFFFFF),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := reportWith(context.Background(), b, vcek, fixedOpts())
			wantCheck(t, err, verify.CheckHCLFormat)
		})
	}
	// The report inside is still checked: a flipped byte breaks the signature.
	b := bytes.Clone(raw)
	b[snp.OffsetMeasurement] ^= 1
	_, err = reportWith(context.Background(), b, vcek, fixedOpts())
	wantCheck(t, err, verify.CheckReportSignature)
}

// TestReport1204Synthetic: synthetic 1204-byte reports follow the same
// rules (a VLEK-signed one included).
func TestReport1204Synthetic(t *testing.T) {
	for _, b := range []testev.Builder{{}, {Product: snp.Turin}, {VCEK: testev.VCEKTemplate{VLEK: true}}} {
		ev := b.MustBuild()
		if _, err := reportWith(context.Background(), report1204(ev.Evidence.HCLReport), ev.VCEKDER, verify.Config{Roots: testev.Roots()}); err != nil {
			t.Errorf("%s: %v", ev.Product, err)
		}
	}
}

// TestReportVersion1Policy: a version 1 report (no COMMITTED_TCB) is
// rejected by default with committed-tcb naming the version, and verifies
// when the policy allows uncommitted TCBs.
func TestReportVersion1Policy(t *testing.T) {
	ev := (&testev.Builder{ReportVersion: 1}).MustBuild()
	_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
	wantCheck(t, err, verify.CheckCommittedTCB)
	opts := verify.Config{Roots: testev.Roots()}
	opts.Policy.AllowUncommittedTCB = true
	c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, opts)
	if err != nil || c.ReportVersion != 1 || c.Product != "Milan" {
		t.Fatalf("version 1 with allow_uncommitted_tcb: %v", err)
	}
}
