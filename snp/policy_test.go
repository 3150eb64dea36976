package snp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
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
