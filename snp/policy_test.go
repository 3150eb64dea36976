package snp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestGuestPolicyABI: ParseReport checks GUEST_POLICY against AMD's ABI
// for the report's version: bit 17 (reserved, must be one) set, and every
// bit the ABI leaves reserved clear. Bits 21 to 24 (ABI rev. 1.55) and 25
// (rev. 1.58) are reserved in version 1 reports only; bits 63:26 in every
// version. Rejections match ErrGuestPolicy and ErrReportFormat.
func TestGuestPolicyABI(t *testing.T) {
	const azure = 0x3001F // every real Azure report in testdata/
	tests := []struct {
		name   string
		policy uint64
		ok     [6]bool // index: report version 1..5
	}{
		{"Azure policy", azure, [6]bool{1: true, 2: true, 3: true, 4: true, 5: true}},
		{"AWS and GCP policy", 0x30000, [6]bool{1: true, 2: true, 3: true, 4: true, 5: true}},
		{"debug, single socket, migration agent", azure | snp.PolicyDebug | snp.PolicySingle | snp.PolicyMigrateMA, [6]bool{1: true, 2: true, 3: true, 4: true, 5: true}},
		{"bit 17 clear", azure &^ snp.PolicyReservedMBO, [6]bool{}},
		{"zero", 0, [6]bool{}},
		{"only bit 17", snp.PolicyReservedMBO, [6]bool{1: true, 2: true, 3: true, 4: true, 5: true}},
		{"CXL_ALLOW", azure | snp.PolicyCXLAllow, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"MEM_AES_256_XTS", azure | snp.PolicyMemAES256XTS, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"RAPL_DIS", azure | snp.PolicyRAPLDis, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"CIPHERTEXT_HIDING", azure | snp.PolicyCiphertextHiding, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"PAGE_SWAP_DISABLE", azure | snp.PolicyPageSwapDisable, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"every defined bit", snp.PolicyDefined, [6]bool{2: true, 3: true, 4: true, 5: true}},
		{"bit 26", azure | 1<<26, [6]bool{}},
		{"bit 40", azure | 1<<40, [6]bool{}},
		{"bit 63", azure | 1<<63, [6]bool{}},
		{"all ones", ^uint64(0), [6]bool{}},
	}
	for v := uint32(1); v <= snp.MaxReportVersion; v++ {
		raw := (&testev.Builder{ReportVersion: v}).MustBuild().Report
		for _, tc := range tests {
			t.Run(fmt.Sprintf("v%d %s", v, tc.name), func(t *testing.T) {
				b := append([]byte(nil), raw...)
				binary.LittleEndian.PutUint64(b[snp.OffsetPolicy:], tc.policy)
				r, err := snp.ParseReport(b)
				if tc.ok[v] {
					if err != nil || r.Policy != tc.policy {
						t.Fatalf("policy 0x%x rejected: %v", tc.policy, err)
					}
					return
				}
				if !errors.Is(err, snp.ErrGuestPolicy) || !errors.Is(err, snp.ErrReportFormat) {
					t.Fatalf("policy 0x%x: err = %v, want ErrGuestPolicy", tc.policy, err)
				}
			})
		}
	}
}

// TestPolicyBitPositions pins the bit positions to AMD's ABI table
// GUEST_POLICY, independently of the package's own masks.
func TestPolicyBitPositions(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"ABI_MINOR", snp.PolicyABIMinor, 0xFF}, {"ABI_MAJOR", snp.PolicyABIMajor, 0xFF00},
		{"SMT", snp.PolicySMT, 1 << 16}, {"reserved, must be one", snp.PolicyReservedMBO, 1 << 17},
		{"MIGRATE_MA", snp.PolicyMigrateMA, 1 << 18}, {"DEBUG", snp.PolicyDebug, 1 << 19},
		{"SINGLE_SOCKET", snp.PolicySingle, 1 << 20}, {"CXL_ALLOW", snp.PolicyCXLAllow, 1 << 21},
		{"MEM_AES_256_XTS", snp.PolicyMemAES256XTS, 1 << 22}, {"RAPL_DIS", snp.PolicyRAPLDis, 1 << 23},
		{"CIPHERTEXT_HIDING", snp.PolicyCiphertextHiding, 1 << 24}, {"PAGE_SWAP_DISABLE", snp.PolicyPageSwapDisable, 1 << 25},
		{"defined, version 1", snp.PolicyDefinedV1, 1<<21 - 1}, {"defined, versions 2 to 5", snp.PolicyDefined, 1<<26 - 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = 0x%x, want 0x%x", c.name, c.got, c.want)
		}
	}
}

// TestCheckTCBs: a report TCB_VERSION (current, reported, committed,
// launch) with a byte set that its product line's layout reserves (2 to 5
// on Milan and Genoa, 4 to 6 on Turin) is ErrTCBReserved; the bytes that
// hold a part are not.
func TestCheckTCBs(t *testing.T) {
	reserved := map[snp.Product][8]bool{
		snp.Milan: {2: true, 3: true, 4: true, 5: true},
		snp.Genoa: {2: true, 3: true, 4: true, 5: true},
		snp.Turin: {4: true, 5: true, 6: true},
	}
	offsets := map[string]int{"CURRENT_TCB": snp.OffsetCurrentTCB, "REPORTED_TCB": snp.OffsetReportedTCB,
		"COMMITTED_TCB": snp.OffsetCommittedTCB, "LAUNCH_TCB": snp.OffsetLaunchTCB}
	for _, p := range snp.Products() {
		raw := (&testev.Builder{Product: p}).MustBuild().Report
		r, err := snp.ParseReport(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckTCBs(p); err != nil {
			t.Fatalf("%s: the builder's report: %v", p, err)
		}
		for name, off := range offsets {
			for i := range 8 {
				b := append([]byte(nil), raw...)
				b[off+i] ^= 0x40
				r, err := snp.ParseReport(b)
				if err != nil {
					t.Fatal(err)
				}
				err = r.CheckTCBs(p)
				if reserved[p][i] != (err != nil) || (err != nil && (!errors.Is(err, snp.ErrTCBReserved) || !errors.Is(err, snp.ErrReportFormat))) {
					t.Errorf("%s %s byte %d: %v, reserved %v", p, name, i, err, reserved[p][i])
				}
			}
		}
	}
}

// TestRealReportsABI: every real report of testdata/ passes the ABI checks
// of this file (its guest policy at parse, its TCBs in its product line's
// layout: from CPUID, else from its certificate, else Milan's, which
// Genoa shares).
func TestRealReportsABI(t *testing.T) {
	for _, f := range realReportSeeds {
		b := testutil.ReadFile(t, f.file)
		if strings.Contains(f.file, "hcl-report") {
			b = b[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
		}
		r, err := snp.ParseReport(b)
		if err != nil {
			t.Errorf("%s: %v", f.file, err)
			continue
		}
		p, ok, err := r.ProductFromCPUID()
		if !ok || err != nil {
			p = snp.Milan
			if f.vcek != "" {
				der := testutil.ReadFile(t, f.vcek)
				if strings.HasSuffix(f.vcek, ".pem") {
					der = testutil.PEMBlocks(t, der, "CERTIFICATE")[0]
				}
				v, err := snp.ParseVCEK(der)
				if err != nil {
					t.Fatalf("%s: %v", f.vcek, err)
				}
				p = v.Product
			}
		}
		if err := r.CheckTCBs(p); err != nil {
			t.Errorf("%s (%s): %v", f.file, p, err)
		}
	}
}
