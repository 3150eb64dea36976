package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestStoredReportSizes: Report takes a 1184-byte SNP report, 1204 bytes
// (with the IGVM request header) or an HCL report; a blob of another size
// fails as an HCL report (hcl-report-format, the format kind kept), and
// the error says which sizes are taken and which it has.
func TestStoredReportSizes(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	r := ev.Report
	cfg := verify.Config{Roots: testev.Roots()}
	if _, err := reportWith(context.Background(), r, ev.VCEKDER, cfg); err != nil {
		t.Fatalf("the 1184-byte report: %v", err)
	}
	for _, tc := range []struct {
		name string
		blob []byte
		kind error
	}{
		{"empty", []byte{}, format.ErrTruncated},
		{"cut by one byte", r[:len(r)-1], format.ErrTruncated},
		{"one byte more", append(append([]byte(nil), r...), 0), format.ErrTruncated},
		{"behind a 32-byte response header", append(make([]byte, 32), r...), format.ErrTruncated},
		{"padded to 4000 bytes", append(append([]byte(nil), r...), make([]byte, 4000-len(r))...), format.ErrBadMagic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reportWith(context.Background(), tc.blob, ev.VCEKDER, cfg)
			wantCheck(t, err, verify.CheckHCLFormat)
			if !errors.Is(err, tc.kind) {
				t.Errorf("%v is not %v", err, tc.kind)
			}
			if want := "a stored report is a 1184-byte SNP report"; !strings.Contains(err.Error(), want) {
				t.Errorf("%v does not say %q", err, want)
			}
		})
	}
}
