package hcl

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

func TestParseGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			blob := f.load(t)
			if len(blob) != f.size {
				t.Fatalf("fixture is %d bytes, want %d", len(blob), f.size)
			}
			r, err := Parse(blob)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if r.HeaderVersion != f.version || r.Type != f.typ || r.HashType != HashTypeSHA256 ||
				r.RequestType != 2 || r.Status != 0 || r.IGVMVersion != 1 {
				t.Errorf("header = v%d %v %v req %d status %d igvm %d", r.HeaderVersion, r.Type, r.HashType, r.RequestType, r.Status, r.IGVMVersion)
			}
			if len(r.RuntimeDataRaw) != f.n || int(r.ReportSize) != RuntimeDataOffset+f.n || int(r.DataSize) != IGVMHeaderSize+f.n {
				t.Errorf("sizes: n=%d report_size=%d data_size=%d, want n=%d", len(r.RuntimeDataRaw), r.ReportSize, r.DataSize, f.n)
			}
			if !bytes.Equal(r.RuntimeDataRaw, blob[RuntimeDataOffset:RuntimeDataOffset+f.n]) {
				t.Error("RuntimeDataRaw is not the n bytes at offset 1236")
			}
			if len(r.Hardware) != HardwareReportSize {
				t.Errorf("len(Hardware) = %d", len(r.Hardware))
			}
			switch f.typ {
			case ReportTypeSNP:
				if len(r.SNPReport) != SNPReportSize || r.TDReport != nil {
					t.Errorf("SNPReport %d bytes, TDReport %d bytes", len(r.SNPReport), len(r.TDReport))
				}
				if v := binary.LittleEndian.Uint32(r.SNPReport); v != f.snpVersion {
					t.Errorf("SNP report version %d, want %d", v, f.snpVersion)
				}
				if got := hex.EncodeToString(r.SNPReport[0x1A0:0x1A4]); got != f.chipPrefix {
					t.Errorf("chip_id starts %s, want %s", got, f.chipPrefix)
				}
				if !bytes.Equal(r.ReportData(), r.SNPReport[0x50:0x90]) {
					t.Error("ReportData is not SNP report[0x50:0x90]")
				}
			case ReportTypeTDX:
				if len(r.TDReport) != TDReportSize || r.SNPReport != nil {
					t.Errorf("TDReport %d bytes, SNPReport %d bytes", len(r.TDReport), len(r.SNPReport))
				}
				if !bytes.Equal(r.ReportData(), r.TDReport[128:192]) {
					t.Error("ReportData is not TDREPORT[128:192]")
				}
			}

			// Binding: sha256(runtime data) == report_data[0:32], [32:64] zero.
			if err := r.CheckBinding(); err != nil {
				t.Errorf("CheckBinding: %v", err)
			}
			sum := sha256.Sum256(blob[RuntimeDataOffset : RuntimeDataOffset+f.n])
			rd := r.ReportData()
			if !bytes.Equal(sum[:], rd[:32]) || !format.AllZero(rd[32:]) || !bytes.Equal(r.RuntimeDataDigest(), sum[:]) {
				t.Error("independent binding check failed")
			}

			d := r.RuntimeData
			ak, err := d.AK()
			if err != nil {
				t.Fatalf("AK: %v", err)
			}
			if ak.N.BitLen() != 2048 || ak.E != 65537 {
				t.Errorf("AK is %d bits, e=%d", ak.N.BitLen(), ak.E)
			}
			ek, err := d.EK()
			if f.hasEK {
				if err != nil || ek.N.BitLen() != 2048 {
					t.Errorf("EK: %v", err)
				}
				if ek.N.Cmp(ak.N) == 0 {
					t.Error("EK == AK")
				}
			} else if !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("EK err = %v, want ErrKeyNotFound", err)
			}
			if (d.UserData != nil) != f.hasUserData || (d.UserData != nil && len(d.UserData) != 64) {
				t.Errorf("UserData = %x", d.UserData)
			}
			if d.VMConfig == nil || d.VMConfig.VMUniqueID != f.vmID || d.VMConfig.CurrentTime != f.currentTime || !d.VMConfig.TPMEnabled {
				t.Errorf("VMConfig = %+v", d.VMConfig)
			}

			checkMarshalRoundTrip(t, f, blob, *r)

			// Parse copies: mutating the blob must not change the report.
			blob[RuntimeDataOffset] ^= 0xff
			blob[OffsetHardware+0x50] ^= 0xff
			if err := r.CheckBinding(); err != nil {
				t.Errorf("report aliases the blob: %v", err)
			}
		})
	}
}

// The AK (HCLAkPub) of a real HCL report verifies the TPM quote captured
// with it (RSASSA-PKCS1-v1_5 SHA-256), and the EK does not.
//
// Note: trustee's tpm-quote.msg/.sig pair does NOT verify with the AK of
// hcl-report.bin (nor with any key in testdata); the matching quote is
// tpm-quote-v1.json (the same quote as quote.bin).
func TestAKVerifiesQuote(t *testing.T) {
	tests := []struct {
		report, quote string
		verifies      bool
	}{
		{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", "trustee-az-vtpm/az-snp-vtpm/tpm-quote-v1.json", true},
		{"trustee-az-vtpm/az-tdx-vtpm/hcl-report.bin", "trustee-az-vtpm/az-tdx-vtpm/tpm-quote-v1.json", true},
		{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", "trustee-az-vtpm/az-snp-vtpm/tpm-quote.msg", false},
		{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", "trustee-az-vtpm/az-tdx-vtpm/tpm-quote-v1.json", false},
	}
	for _, tc := range tests {
		ak, ek := runtimeKeys(t, tc.report)
		var msg, sig []byte
		if strings.HasSuffix(tc.quote, ".msg") {
			msg = testutil.ReadFile(t, tc.quote)
			sig = testutil.ReadFile(t, strings.TrimSuffix(tc.quote, ".msg")+".sig")
		} else {
			var q struct{ Signature, Message string }
			if err := json.Unmarshal(testutil.ReadFile(t, tc.quote), &q); err != nil {
				t.Fatal(err)
			}
			msg, _ = hex.DecodeString(q.Message)
			sig, _ = hex.DecodeString(q.Signature)
		}
		digest := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(ak, crypto.SHA256, digest[:], sig); (err == nil) != tc.verifies {
			t.Errorf("%s AK on %s: %v, want verifies=%v", tc.report, tc.quote, err, tc.verifies)
		}
		if rsa.VerifyPKCS1v15(ek, crypto.SHA256, digest[:], sig) == nil {
			t.Errorf("%s: quote %s verifies with the EK", tc.report, tc.quote)
		}
	}
}

func TestParseVarData(t *testing.T) {
	b := testutil.ReadFile(t, "azure-cvm-tooling/var-data.bin")
	d, err := ParseRuntimeData(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 2 || d.Keys[0].Kid != KidAK || d.Keys[1].Kid != KidEK {
		t.Fatalf("keys = %+v", d.Keys)
	}
	if d.Keys[0].Kty != "RSA" || len(d.Keys[0].KeyOps) != 1 || d.Keys[0].KeyOps[0] != "sign" || d.Keys[1].KeyOps[0] != "encrypt" {
		t.Errorf("key metadata = %+v", d.Keys)
	}
	for _, get := range []func() (*rsa.PublicKey, error){d.AK, d.EK} {
		k, err := get()
		if err != nil || k.N.BitLen() != 2048 {
			t.Errorf("key: %v", err)
		}
	}
	if !bytes.Equal(d.UserData, make([]byte, 64)) {
		t.Errorf("user-data = %x, want 64 zero bytes", d.UserData)
	}
	if d.VMConfig == nil || d.VMConfig.CurrentTime != 0 || d.VMConfig.VMUniqueID == "" {
		t.Errorf("vm-configuration = %+v", d.VMConfig)
	}
}

func TestReportTypeHashTypeStrings(t *testing.T) {
	for v, want := range map[ReportType]string{0: "Invalid", 1: "VBS", 2: "SNP", 3: "TVM", 4: "TDX", 9: "ReportType(9)"} {
		if v.String() != want {
			t.Errorf("%d: %q", v, v.String())
		}
	}
	for v, want := range map[HashType]string{0: "Invalid", 1: "SHA-256", 2: "SHA-384", 3: "SHA-512", 7: "HashType(7)"} {
		if v.String() != want {
			t.Errorf("%d: %q", v, v.String())
		}
	}
	for h, size := range map[HashType]int{0: 0, 1: 32, 2: 48, 3: 64, 4: 0} {
		if h.Size() != size || len(h.Sum([]byte("x"))) != size || (h.New() == nil) != (size == 0) || h.Valid() != (size != 0) {
			t.Errorf("%v: size %d", h, h.Size())
		}
		if size != 0 {
			hh := h.New()
			hh.Write([]byte("x"))
			if !bytes.Equal(hh.Sum(nil), h.Sum([]byte("x"))) {
				t.Errorf("%v: New and Sum disagree", h)
			}
		}
	}
}

func snpBlob(t testing.TB) []byte {
	return testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin")
}

func put32(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func TestParseTruncated(t *testing.T) {
	for _, f := range []fixture{fixtures[0], fixtures[3]} {
		blob := f.load(t)
		end := RuntimeDataOffset + f.n
		for l := 0; l <= len(blob); l++ {
			r, err := Parse(blob[:l])
			switch {
			case l < RuntimeDataOffset:
				if !errors.Is(err, format.ErrTruncated) {
					t.Fatalf("%s[:%d]: err = %v, want format.ErrTruncated", f.name, l, err)
				}
			case l < end:
				if !errors.Is(err, format.ErrExceedsBlob) {
					t.Fatalf("%s[:%d]: err = %v, want format.ErrExceedsBlob", f.name, l, err)
				}
			default: // cutting only padding leaves a valid report
				if err != nil || len(r.RuntimeDataRaw) != f.n {
					t.Fatalf("%s[:%d]: %v", f.name, l, err)
				}
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	blob := snpBlob(t)
	n := uint32(1110)
	tdx := testutil.ReadFile(t, "azure-cvm-tooling/hcl-report-tdx.bin")
	set := func(off int, b byte) []byte { c := bytes.Clone(blob); c[off] = b; return c }
	withJSON := func(js string) []byte {
		c := bytes.Clone(blob)
		clear(c[RuntimeDataOffset:])
		copy(c[RuntimeDataOffset:], js)
		c = put32(c, OffsetVarDataSize, uint32(len(js)))
		c = put32(c, OffsetReportSize, uint32(RuntimeDataOffset+len(js)))
		return put32(c, OffsetDataSize, uint32(IGVMHeaderSize+len(js)))
	}
	tests := []struct {
		name  string
		blob  []byte
		field string
		err   error
	}{
		{"empty", nil, "blob", format.ErrTruncated},
		{"too large", make([]byte, MaxReportSize+1), "blob", format.ErrTooLarge},
		{"bad magic", set(0, 'X'), "magic", format.ErrBadMagic},
		{"header version 0", put32(blob, OffsetHeaderVersion, 0), "version", format.ErrUnsupportedVersion},
		{"header version 3", put32(blob, OffsetHeaderVersion, 3), "version", format.ErrUnsupportedVersion},
		{"request type 1", put32(blob, OffsetRequestType, 1), "request_type", format.ErrUnexpectedValue},
		{"status 1", put32(blob, OffsetStatus, 1), "status", format.ErrUnexpectedValue},
		{"reserved", set(OffsetReserved+11, 1), "reserved", format.ErrNonZero},
		{"igvm version 2", put32(blob, OffsetIGVMVersion, 2), "igvm_version", format.ErrUnsupportedVersion},
		{"report type invalid", put32(blob, OffsetReportType, 0), "report_type", ErrUnsupportedReportType},
		{"report type VBS", put32(blob, OffsetReportType, 1), "report_type", ErrUnsupportedReportType},
		{"report type TVM", put32(blob, OffsetReportType, 3), "report_type", ErrUnsupportedReportType},
		{"report type 5", put32(blob, OffsetReportType, 5), "report_type", ErrUnsupportedReportType},
		{"report type max", put32(blob, OffsetReportType, 0xffffffff), "report_type", ErrUnsupportedReportType},
		{"hash type 0", put32(blob, OffsetHashType, 0), "report_data_hash_type", ErrUnsupportedHashType},
		{"hash type 4", put32(blob, OffsetHashType, 4), "report_data_hash_type", ErrUnsupportedHashType},
		{"hash type SHA-384", put32(blob, OffsetHashType, uint32(HashTypeSHA384)), "report_data_hash_type", ErrUnsupportedHashType},
		{"hash type SHA-512", put32(blob, OffsetHashType, uint32(HashTypeSHA512)), "report_data_hash_type", ErrUnsupportedHashType},
		{"hash type max", put32(blob, OffsetHashType, 0xffffffff), "report_data_hash_type", ErrUnsupportedHashType},
		{"tdx hash type SHA-384", func() []byte {
			c := bytes.Clone(tdx)
			binary.LittleEndian.PutUint32(c[OffsetHashType:], uint32(HashTypeSHA384))
			return c
		}(), "report_data_hash_type", ErrUnsupportedHashType},
		{"var size 0", put32(blob, OffsetVarDataSize, 0), "variable_data_size", format.ErrEmpty},
		{"var size max", put32(blob, OffsetVarDataSize, 0xffffffff), "variable_data_size", format.ErrExceedsBlob},
		{"var size past end", put32(blob, OffsetVarDataSize, uint32(len(blob)-RuntimeDataOffset+1)), "variable_data_size", format.ErrExceedsBlob},
		{"var size +1", put32(blob, OffsetVarDataSize, n+1), "report_size", format.ErrSizeMismatch},
		{"var size -1", put32(blob, OffsetVarDataSize, n-1), "report_size", format.ErrSizeMismatch},
		{"report size +1", put32(blob, OffsetReportSize, RuntimeDataOffset+n+1), "report_size", format.ErrSizeMismatch},
		{"report size -1", put32(blob, OffsetReportSize, RuntimeDataOffset+n-1), "report_size", format.ErrSizeMismatch},
		{"report size max", put32(blob, OffsetReportSize, 0xffffffff), "report_size", format.ErrSizeMismatch},
		{"data size +1", put32(blob, OffsetDataSize, IGVMHeaderSize+n+1), "data_size", format.ErrSizeMismatch},
		{"data size -1", put32(blob, OffsetDataSize, IGVMHeaderSize+n-1), "data_size", format.ErrSizeMismatch},
		{"data size max", put32(blob, OffsetDataSize, 0xffffffff), "data_size", format.ErrSizeMismatch},
		{"padding first byte", set(RuntimeDataOffset+int(n), ' '), "padding", format.ErrNonZero},
		{"padding last byte", set(len(blob)-1, 1), "padding", format.ErrNonZero},
		{"tdx hardware tail", func() []byte { c := bytes.Clone(tdx); c[OffsetHardware+TDReportSize+5] = 1; return c }(), "hardware_report", format.ErrNonZero},
		{"json NUL inside", set(RuntimeDataOffset+100, 0), "runtime_data", format.ErrBadJSON},
		{"json trailing garbage", withJSON(`{"keys":[]} x`), "runtime_data", format.ErrBadJSON},
		{"json null", withJSON(`null`), "runtime_data", format.ErrBadJSON},
		{"json array", withJSON(`[]`), "runtime_data", format.ErrBadJSON},
		{"json keys not array", withJSON(`{"keys":{}}`), "runtime_data", format.ErrBadJSON},
		{"user-data bad hex", withJSON(`{"keys":[],"user-data":"` + strings.Repeat("zz", 64) + `"}`), "runtime_data.user-data", ErrBadUserData},
		{"user-data short", withJSON(`{"keys":[],"user-data":"00"}`), "runtime_data.user-data", ErrBadUserData},
		{"user-data not string", withJSON(`{"keys":[],"user-data":1}`), "runtime_data", format.ErrBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.blob); !testutil.IsFormatError(err, "hcl", tc.field, tc.err) {
				t.Errorf("err = %v, want hcl: %s: %v", err, tc.field, tc.err)
			}
		})
	}
}

func TestFormatErrorMessage(t *testing.T) {
	blob := snpBlob(t)[:2048]
	_, err := Parse(put32(blob, OffsetVarDataSize, 2000))
	if got, want := err.Error(), "hcl: variable_data_size: exceeds blob (2000 > 812)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckBindingErrors(t *testing.T) {
	blob := snpBlob(t)
	good, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(r *Report)
		err    error
	}{
		{"digest byte", func(r *Report) { r.Hardware[0x50] ^= 1 }, ErrBindingMismatch},
		{"digest last byte", func(r *Report) { r.Hardware[0x50+31] ^= 1 }, ErrBindingMismatch},
		{"tail non-zero", func(r *Report) { r.Hardware[0x50+63] = 1 }, ErrBindingMismatch},
		{"runtime data", func(r *Report) { r.RuntimeDataRaw = append(r.RuntimeDataRaw, ' ') }, ErrBindingMismatch},
		{"hash type SHA-384", func(r *Report) { r.HashType = HashTypeSHA384 }, ErrUnsupportedHashType},
		{"hash type SHA-512", func(r *Report) { r.HashType = HashTypeSHA512 }, ErrUnsupportedHashType},
		{"invalid hash type", func(r *Report) { r.HashType = 0 }, ErrUnsupportedHashType},
		{"report type", func(r *Report) { r.Type = ReportTypeVBS }, ErrUnsupportedReportType},
		{"short hardware", func(r *Report) { r.Hardware = r.Hardware[:0x60] }, ErrUnsupportedReportType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := Parse(blob)
			tc.mutate(r)
			err := r.CheckBinding()
			if !testutil.IsFieldError(err, "binding", tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
	if err := good.CheckBinding(); err != nil {
		t.Error(err)
	}
}

func TestBuildRoundTrip(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			blob := f.load(t)
			r, err := Parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			hw := r.Hardware
			if r.Type == ReportTypeTDX {
				hw = r.TDReport
			}
			out, err := Build(r.Type, hw, r.RuntimeDataRaw, len(blob))
			if err != nil {
				t.Fatal(err)
			}
			// Build writes header version 1 for SNP and 2 for TDX; Genoa
			// SNP reports carry 2. Everything else must be identical.
			want := put32(blob, OffsetHeaderVersion, map[ReportType]uint32{ReportTypeSNP: 1, ReportTypeTDX: 2}[r.Type])
			if !bytes.Equal(out, want) {
				t.Fatal("Build(Parse(blob)) differs from blob")
			}
			min, err := Build(r.Type, r.Hardware, r.RuntimeDataRaw, 0)
			if err != nil || len(min) != RuntimeDataOffset+f.n {
				t.Fatalf("minimal Build: %d bytes, %v", len(min), err)
			}
			r2, err := Parse(min)
			if err != nil || r2.CheckBinding() != nil || !bytes.Equal(r2.RuntimeDataRaw, r.RuntimeDataRaw) {
				t.Fatalf("Parse(minimal Build): %v", err)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	hw := make([]byte, SNPReportSize)
	js := []byte(`{"keys":[]}`)
	tdxBad := make([]byte, HardwareReportSize)
	tdxBad[HardwareReportSize-1] = 1
	tests := []struct {
		name string
		typ  ReportType
		hw   []byte
		rd   []byte
		size int
		err  error
	}{
		{"VBS", ReportTypeVBS, hw, js, 0, ErrUnsupportedReportType},
		{"short SNP", ReportTypeSNP, hw[:100], js, 0, format.ErrSizeMismatch},
		{"TDX 1184 with tail", ReportTypeTDX, tdxBad, js, 0, format.ErrSizeMismatch},
		{"TDX wrong size", ReportTypeTDX, hw[:1000], js, 0, format.ErrSizeMismatch},
		{"empty runtime data", ReportTypeSNP, hw, nil, 0, format.ErrEmpty},
		{"huge runtime data", ReportTypeSNP, hw, make([]byte, MaxRuntimeDataSize+1), 0, format.ErrTooLarge},
		{"size too small", ReportTypeSNP, hw, js, RuntimeDataOffset + len(js) - 1, format.ErrSizeMismatch},
		{"size too large", ReportTypeSNP, hw, js, MaxReportSize + 1, format.ErrSizeMismatch},
		{"negative size", ReportTypeSNP, hw, js, -1, format.ErrSizeMismatch},
	}
	for _, tc := range tests {
		if _, err := Build(tc.typ, tc.hw, tc.rd, tc.size); !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
		}
	}
	if b, err := Build(ReportTypeTDX, make([]byte, HardwareReportSize), js, 2048); err != nil || len(b) != 2048 {
		t.Errorf("TDX 1184 zero tail: %v", err)
	}
}

// TestCheckBindingTDX checks that a TDX HCL report's REPORTDATA binds the
// runtime data by the same rule as SNP: SHA-256, then 32 zero bytes.
func TestCheckBindingTDX(t *testing.T) {
	blob := testutil.ReadFile(t, "azure-cvm-tooling/hcl-report-tdx.bin")
	tests := []struct {
		name   string
		mutate func(r *Report)
		err    error
	}{
		{"digest byte", func(r *Report) { r.Hardware[tdReportDataOffset] ^= 1 }, ErrBindingMismatch},
		{"tail non-zero", func(r *Report) { r.Hardware[tdReportDataOffset+32] = 1 }, ErrBindingMismatch},
		{"tail last byte", func(r *Report) { r.Hardware[tdReportDataOffset+63] = 0x80 }, ErrBindingMismatch},
		{"hash type SHA-512", func(r *Report) { r.HashType = HashTypeSHA512 }, ErrUnsupportedHashType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.CheckBinding(); err != nil {
				t.Fatalf("real TDX report: %v", err)
			}
			tc.mutate(r)
			if err := r.CheckBinding(); !errors.Is(err, tc.err) {
				t.Errorf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

// runtimeKeys parses the HCL report in testdata file and returns the AK
// and EK of its runtime data.
func runtimeKeys(t *testing.T, file string) (ak, ek *rsa.PublicKey) {
	t.Helper()
	r, err := Parse(testutil.ReadFile(t, file))
	if err != nil {
		t.Fatal(err)
	}
	if ak, err = r.RuntimeData.AK(); err != nil {
		t.Fatal(err)
	}
	if ek, err = r.RuntimeData.EK(); err != nil {
		t.Fatal(err)
	}
	return ak, ek
}
