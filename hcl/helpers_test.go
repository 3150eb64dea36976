package hcl

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// fixture describes one real HCL report and what it must contain.
type fixture struct {
	name        string
	load        func(t testing.TB) []byte
	size        int
	version     uint32
	typ         ReportType
	n           int
	hasEK       bool
	hasUserData bool
	vmID        string
	chipPrefix  string // SNP only: hex of chip_id[0:4]
	snpVersion  uint32 // SNP only
	currentTime int64
}

func fromFile(rel string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return testutil.ReadFile(t, rel) }
}

// fromEvidence extracts the HCL report from an evidence JSON file (v0 number
// array or v1 base64url), without depending on the evidence package.
func fromEvidence(rel string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		t.Helper()
		var w struct {
			Report    []int           `json:"report"`
			HCLReport json.RawMessage `json:"hcl_report"`
		}
		if err := json.Unmarshal(testutil.ReadFile(t, rel), &w); err != nil {
			t.Fatal(err)
		}
		ints := w.Report
		if len(w.HCLReport) > 0 {
			if w.HCLReport[0] == '"' {
				var s string
				if err := json.Unmarshal(w.HCLReport, &s); err != nil {
					t.Fatal(err)
				}
				b, err := base64.URLEncoding.DecodeString(s)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			if err := json.Unmarshal(w.HCLReport, &ints); err != nil {
				t.Fatal(err)
			}
		}
		b := make([]byte, len(ints))
		for i, v := range ints {
			b[i] = byte(v)
		}
		return b
	}
}

// from returns f for the same HCL report read by load, under name: one
// report stored in several files (copies, or the evidence that carries it).
func (f fixture) from(name string, load func(testing.TB) []byte) fixture {
	f.name, f.load = name, load
	return f
}

var fixtures = func() []fixture {
	const snpDir, tdxDir = "trustee-az-vtpm/az-snp-vtpm/", "trustee-az-vtpm/az-tdx-vtpm/"
	cvmToolingSNP := fixture{size: 2048, version: 1, typ: ReportTypeSNP, n: 583,
		vmID: "BAEFD3E1-184B-4C4C-AB88-0BDAD260505F", chipPrefix: "3a5d5b1d", snpVersion: 2, currentTime: 1678652405}
	trusteeSNP := fixture{size: 2600, version: 1, typ: ReportTypeSNP, n: 1110, hasEK: true, hasUserData: true,
		vmID: "26F8BC30-774E-4290-8E7A-535F3B672AEE", chipPrefix: "66a5a7b4", snpVersion: 3}
	trusteeTDX := fixture{size: 2600, version: 2, typ: ReportTypeTDX, n: 1201, hasEK: true, hasUserData: true,
		vmID: "6332533D-5649-4D02-8AA7-8F64B7C3EE21"}
	return []fixture{
		{name: "trustee-snp-hcl-report.bin", load: fromFile(snpDir + "hcl-report.bin"),
			size: 2600, version: 1, typ: ReportTypeSNP, n: 1110, hasEK: true, hasUserData: true,
			vmID: "911B0EF8-9DBA-48B0-B275-4E4DF2D39252", chipPrefix: "19752a44", snpVersion: 2},
		cvmToolingSNP.from("azure-cvm-tooling-hcl-report-snp.bin", fromFile("azure-cvm-tooling/hcl-report-snp.bin")),
		cvmToolingSNP.from("early-az-snp-vtpm-hcl-report.bin", fromFile("azure-cvm-tooling/early-az-snp-vtpm-0.2/hcl-report.bin")),
		{name: "azure-cvm-tooling-hcl-report-tdx.bin", load: fromFile("azure-cvm-tooling/hcl-report-tdx.bin"),
			size: 2600, version: 2, typ: ReportTypeTDX, n: 1202, hasEK: true, hasUserData: true,
			vmID: "D270E56B-F668-4990-A5BC-9B624576841D"},
		trusteeTDX.from("trustee-tdx-hcl-report.bin", fromFile(tdxDir+"hcl-report.bin")),
		{name: "constellation-tdx-hcl-report.bin", load: fromFile("constellation/azure-tdx-hcl-report.bin"),
			size: 2600, version: 2, typ: ReportTypeTDX, n: 1200, hasEK: true, hasUserData: true,
			vmID: "8C85CE00-A0EB-497B-87EF-CA9609E6C757"},
		{name: "ita-aztdx-hcl-report.bin", load: fromFile("ita-aztdx/hcl-report.bin"),
			size: 2600, version: 2, typ: ReportTypeTDX, n: 1200, hasEK: true, hasUserData: true,
			vmID: "D6DA8E8D-5410-4716-A0C7-2FA91EA4A866"},
		trusteeSNP.from("evidence-v0.json", fromEvidence(snpDir+"evidence-v0.json")),
		trusteeSNP.from("evidence-v1.json", fromEvidence(snpDir+"evidence-v1.json")),
		{name: "evidence-v2.json", load: fromEvidence(snpDir + "evidence-v2.json"),
			size: 2600, version: 1, typ: ReportTypeSNP, n: 1110, hasEK: true, hasUserData: true,
			vmID: "7DF7B373-B947-4AAA-96E5-C358F2A03D20", chipPrefix: "2e0e62a0", snpVersion: 3},
		{name: "evidence-genoa.json", load: fromEvidence(snpDir + "evidence-genoa.json"),
			size: 2600, version: 2, typ: ReportTypeSNP, n: 1200, hasEK: true, hasUserData: true,
			vmID: "390CBCF5-6C67-4D9B-98EF-C3F1699CC8FC", chipPrefix: "0506ffba", snpVersion: 3},
		{name: "signal-svr2-azure-hcl-report.bin", load: fromFile("signal-svr2/azure-hcl-report.bin"),
			size: 2600, version: 1, typ: ReportTypeSNP, n: 1110, hasEK: true, hasUserData: true,
			vmID: "C91FA7F9-86E1-4759-84FB-B87EB9BDCF26", chipPrefix: "a9a83b44", snpVersion: 2},
		trusteeTDX.from("tdx-evidence-v0.json", fromEvidence(tdxDir+"evidence-v0.json")),
		trusteeTDX.from("tdx-evidence-v1.json", fromEvidence(tdxDir+"evidence-v1.json")),
	}
}()
