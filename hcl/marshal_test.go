package hcl

import (
	"bytes"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// checkMarshalRoundTrip checks, for the real HCL report blob of fixture f
// (SNP and TDX, header versions 1 and 2, every padding size) and r, its
// parsed form, that Marshal(Parse(blob)) == blob, and that without padding
// the blob ends after the runtime data. TestParseGolden calls it.
func checkMarshalRoundTrip(t *testing.T, f fixture, blob []byte, r Report) {
	t.Helper()
	if r.Size != len(blob) || r.HeaderVersion != f.version {
		t.Errorf("Size %d version %d, want %d and %d", r.Size, r.HeaderVersion, len(blob), f.version)
	}
	out, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, blob) {
		t.Fatal("Marshal(Parse(blob)) != blob")
	}
	r.Size = 0
	short, err := r.Marshal()
	if err != nil || !bytes.Equal(short, blob[:RuntimeDataOffset+f.n]) {
		t.Fatalf("unpadded Marshal: %v", err)
	}
}

// TestMarshalRejects: Marshal refuses what it cannot write, with the field.
func TestMarshalRejects(t *testing.T) {
	snp := make([]byte, SNPReportSize)
	rd := []byte(`{"keys":[]}`)
	ok := Report{HeaderVersion: 1, RequestType: 2, IGVMVersion: 1, Type: ReportTypeSNP, HashType: HashTypeSHA256, Hardware: snp, RuntimeDataRaw: rd}
	tdxTail := make([]byte, HardwareReportSize)
	tdxTail[HardwareReportSize-1] = 1
	tests := []struct {
		name  string
		edit  func(r *Report)
		field string
		kind  error
	}{
		{"short SNP report", func(r *Report) { r.Hardware = snp[:100] }, "hardware_report", format.ErrSizeMismatch},
		{"TDX tail not zero", func(r *Report) { r.Type = ReportTypeTDX; r.Hardware = tdxTail }, "hardware_report", format.ErrSizeMismatch},
		{"VBS type", func(r *Report) { r.Type = ReportTypeVBS }, "report_type", ErrUnsupportedReportType},
		{"no runtime data", func(r *Report) { r.RuntimeDataRaw = nil }, "variable_data", format.ErrEmpty},
		{"runtime data too large", func(r *Report) { r.RuntimeDataRaw = make([]byte, MaxRuntimeDataSize+1) }, "variable_data", format.ErrTooLarge},
		{"size below content", func(r *Report) { r.Size = RuntimeDataOffset }, "size", format.ErrSizeMismatch},
		{"size over limit", func(r *Report) { r.Size = MaxReportSize + 1 }, "size", format.ErrSizeMismatch},
		{"negative size", func(r *Report) { r.Size = -1 }, "size", format.ErrSizeMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.edit(&r)
			b, err := r.Marshal()
			if b != nil || !testutil.IsFieldError(err, tc.field, tc.kind) {
				t.Fatalf("Marshal = %d bytes, %v; want field %q, %v", len(b), err, tc.field, tc.kind)
			}
		})
	}
	// The unedited report marshals and parses back.
	b, err := ok.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Parse(b); err != nil || !bytes.Equal(r.RuntimeDataRaw, rd) {
		t.Fatalf("Parse(Marshal(ok)): %v", err)
	}
}
