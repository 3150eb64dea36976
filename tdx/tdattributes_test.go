package tdx_test

import (
	"encoding/binary"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// TestUnderDebug: every bit of TDATTRIBUTES 7:0 (the TDX 1.0 "TD under
// debug" group: DEBUG, future debug flags, and in TDX 1.5 host profiling)
// makes the TD under debug; Debug is bit 0 alone; the other attributes
// (SEPT_VE_DISABLE, PKS, KL, PERFMON, ...) do not.
func TestUnderDebug(t *testing.T) {
	tests := []struct {
		name       string
		attrs      uint64
		debug, tud bool
	}{
		{"none", 0, false, false},
		{"Azure's SEPT_VE_DISABLE", 1 << 28, false, false},
		{"DEBUG", 1, true, true},
		{"DEBUG and SEPT_VE_DISABLE", 1<<28 | 1, true, true},
		{"reserved TUD bit 1", 1 << 1, false, true},
		{"reserved TUD bit 3", 1 << 3, false, true},
		{"HGS+ profiling (bit 4)", 1 << 4, false, true},
		{"PERF_PROF (bit 5)", 1 << 5, false, true},
		{"PMT_PROF (bit 6)", 1 << 6, false, true},
		{"bit 7", 1 << 7, false, true},
		{"bit 8 (SEC group)", 1 << 8, false, false},
		{"ICSSD (bit 16)", 1 << 16, false, false},
		{"PKS and KL", 1<<30 | 1<<31, false, false},
		{"PERFMON (bit 63)", 1 << 63, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b tdx.Body
			binary.LittleEndian.PutUint64(b.TDAttributes[:], tt.attrs)
			if b.Debug() != tt.debug || b.UnderDebug() != tt.tud {
				t.Fatalf("TDATTRIBUTES %#x: Debug %v UnderDebug %v, want %v %v", tt.attrs, b.Debug(), b.UnderDebug(), tt.debug, tt.tud)
			}
		})
	}
}
