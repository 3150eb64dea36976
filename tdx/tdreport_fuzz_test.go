package tdx_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// FuzzParseTDReport: ParseTDReport never panics, every rejection is a
// tdx *format.Error naming the TDREPORT (format.ErrMalformed) with no
// report, and an accepted
// report round-trips: Marshal gives back the input (every byte is Raw or
// a field written over it) and parses again to the same fields.
func FuzzParseTDReport(f *testing.F) {
	for _, file := range []string{"trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin", "azure-cvm-tooling/hcl-report-tdx.bin", "constellation/azure-tdx-hcl-report.bin"} {
		blob := testutil.ReadFile(f, file)
		f.Add(bytes.Clone(blob[32 : 32+tdx.TDReportSize]))
	}
	zero := make([]byte, tdx.TDReportSize)
	zero[tdx.OffsetReportType] = 0x81
	f.Add(zero)
	f.Add(zero[:tdx.TDReportSize-1])
	f.Add([]byte{0x81})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := tdx.ParseTDReport(b)
		if testutil.RejectedNil(t, r, err, format.ErrMalformed) {
			if fe, ok := err.(*format.Error); !ok || fe.Format != "tdx" || !strings.HasPrefix(fe.Field, "tdreport") {
				t.Fatalf("error %T is not a tdx *format.Error naming the TDREPORT: %v", err, err)
			}
			return
		}
		if !bytes.Equal(r.Raw, b) || !bytes.Equal(r.Marshal(), b) {
			t.Fatal("Marshal(ParseTDReport(b)) != b")
		}
		r2, err := tdx.ParseTDReport(r.Marshal())
		if err != nil || r2.Type != r.Type || r2.CPUSVN != r.CPUSVN || !sameFields(r2.Body.Fields(), r.Body.Fields()) {
			t.Fatalf("reparse differs: %v", err)
		}
	})
}

// sameFields reports whether two bodies' fields hold the same bytes.
func sameFields(a, b []tdx.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Bytes, b[i].Bytes) {
			return false
		}
	}
	return true
}
