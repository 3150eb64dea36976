package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestAuditLine: the audit line names the resource, chip, VM, measurement
// and token id, and whether the VM was the emulated CVM (a release to
// evidence anyone can forge, with --trust-emulated, must not read like
// one to a real VM), and costs nothing (no allocation) when INFO is
// dropped.
func TestAuditLine(t *testing.T) {
	claims := &verify.Claims{ChipID: []byte{0xc1, 0x1f}, Measurement: []byte{0x0a, 0x0b},
		VMConfig: &hcl.VMConfiguration{VMUniqueID: "vm-1"}}
	for _, emulated := range []bool{false, true} {
		var buf strings.Builder
		s := &Server{log: slog.New(slog.NewTextHandler(&buf, nil))}
		c := *claims
		c.Emulated = emulated
		s.audit(context.Background(), "db", &c, "jti-1")
		for _, want := range []string{`msg="secret released"`, "resource=db", "chip_id=c11f", "vm_unique_id=vm-1", "measurement=0a0b", "jti=jti-1", fmt.Sprintf("emulated=%v", emulated)} {
			if !strings.Contains(buf.String(), want) {
				t.Errorf("audit line %q lacks %q", buf.String(), want)
			}
		}
	}
	// A TDX CVM's measurement is its MRTD (Claims.Measurement is empty
	// there): the line named none.
	var tdxBuf strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&tdxBuf, nil))}
	s.audit(context.Background(), "db", &verify.Claims{Platform: verify.PlatformTDX, TDX: &verify.TDXClaims{MRTD: []byte{0x4d, 0x54}}}, "jti-2")
	if !strings.Contains(tdxBuf.String(), "measurement=4d54") {
		t.Errorf("TDX audit line %q lacks measurement=4d54 (the MRTD)", tdxBuf.String())
	}
	var buf strings.Builder
	quiet := &Server{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if n := testing.AllocsPerRun(100, func() { quiet.audit(context.Background(), "db", claims, "jti-1") }); n != 0 {
		t.Errorf("audit with INFO dropped: %v allocations, want 0", n)
	}
}
