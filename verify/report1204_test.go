package verify_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

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
