package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/tdx/pcs"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// realReport is a real bare SNP report (or 1204-byte stored form) with the
// certificate that must verify it, and what it verifies to (claims) or is
// rejected as (want) (testdata/virtee-sev, go-sev-guest, constellation,
// teekit-gcp-sev, trustee-snp, signal-svr2, oak, azure-guest-attestation, genxt-confido, ccf-aci, ms-tav, py-snp-utils:
// see their SOURCES.md).
type realReport struct {
	name, report, cert string
	at                 time.Time
	policy             verify.Policy
	want               verify.Check // "" = verifies to claims
	claims             *wantClaims
}

// wantClaims are the claims a real report verifies to.
type wantClaims struct {
	product, key, chip, paravisor string
	tcb                           [4]uint8
	vmpl                          uint32
}

func realReports() []realReport {
	fixture, d2024, d2026 := testutil.FixtureTime(), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gcp := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	sep2024 := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	oakAt, mar2026 := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const virtee, gsg, azure, aws, gcpV5 = "virtee-sev/report-milan.bin", "go-sev-guest/attestation-debug.bin",
		"constellation/azure-snp-report-1204.bin", "constellation/aws-vlek-report.bin", "teekit-gcp-sev/report-v5-vmpl"
	const svr2, ccf, psu = "signal-svr2/", "ccf-aci/", "py-snp-utils/"
	azureClaims := &wantClaims{"Milan", "VCEK", "9e44aaef", "azure-hcl", [4]uint8{2, 0, 6, 93}, 0}
	gcpClaims := wantClaims{"Milan", "VCEK", "980cf7b6", "none", [4]uint8{4, 0, 27, 222}, 0}
	gcpVMPL1 := gcpClaims
	gcpVMPL1.vmpl = 1
	uncommitted := verify.Policy{AllowUncommittedTCB: true}
	return []realReport{
		{"virtee Milan report, KDS VCEK (DER)", virtee, "virtee-sev/vcek-milan.der", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "d49554ec", "none", [4]uint8{3, 0, 8, 115}, 0}},
		{"go-sev-guest debug report rejected", gsg, "go-sev-guest/vcek.der", fixture, verify.Policy{}, verify.CheckDebug, nil},
		{"go-sev-guest debug report with allow_debug", gsg, "go-sev-guest/vcek.der", fixture, verify.Policy{AllowDebug: true}, "",
			&wantClaims{"Milan", "VCEK", "3ac3fe21", "none", [4]uint8{2, 0, 5, 68}, 0}},
		{"Azure 1204-byte report, THIM VCEK", azure, "constellation/azure-vcek-thim.der", fixture, verify.Policy{}, "", azureClaims},
		{"Azure 1204-byte report, KDS VCEK (PEM)", azure, "constellation/azure-vcek-kds.pem", fixture, verify.Policy{}, "", azureClaims},
		{"Azure report with another chip's VCEK", azure, "virtee-sev/vcek-milan.der", fixture, verify.Policy{}, verify.CheckChipID, nil},
		{"AWS VLEK report: reported TCB below committed", aws, "constellation/aws-vlek.pem", fixture, verify.Policy{}, verify.CheckCommittedTCB, nil},
		{"AWS VLEK report with allow_uncommitted_tcb", aws, "constellation/aws-vlek.pem", fixture, uncommitted, "",
			&wantClaims{"Milan", "VLEK", "00000000", "none", [4]uint8{4, 0, 24, 217}, 0}},
		{"AWS VLEK report after the VLEK's year", aws, "constellation/aws-vlek.pem", d2026, uncommitted, verify.CheckCertValidity, nil},
		{"VLEK report whose signature does not verify", "constellation/vlek-report-bad-signature.bin", "constellation/vlek-2023.pem",
			d2024, verify.Policy{}, verify.CheckReportSignature, nil},
		{"trustee Azure report", "trustee-snp/test-report.bin", "trustee-snp/test-vcek.der", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "c38427a3", "azure-hcl", [4]uint8{3, 0, 8, 115}, 0}},
		{"trustee Azure report, edited VCEK (legacy hwID)", "trustee-snp/test-report.bin", "trustee-snp/test-vcek-invalid-legacy.der",
			fixture, verify.Policy{}, verify.CheckVCEKChain, nil},
		{"trustee Azure report, edited VCEK (new hwID)", "trustee-snp/test-report.bin", "trustee-snp/test-vcek-invalid-new.der",
			fixture, verify.Policy{}, verify.CheckVCEKChain, nil},
		{"trustee AWS VLEK report at VMPL 1", "trustee-snp/test-vlek-report.bin", "trustee-snp/test-vlek.der", fixture, uncommitted, verify.CheckVMPL, nil},
		{"trustee AWS VLEK report at VMPL 1, policy vmpl 1", "trustee-snp/test-vlek-report.bin", "trustee-snp/test-vlek.der", fixture,
			verify.Policy{VMPL: 1, AllowUncommittedTCB: true}, "", &wantClaims{"Milan", "VLEK", "00000000", "none", [4]uint8{4, 0, 24, 217}, 1}},
		{"GCP v5 report (VMPL 0)", gcpV5 + "0.bin", "teekit-gcp-sev/vcek.pem", gcp, verify.Policy{}, "", &gcpClaims},
		{"GCP v5 report at VMPL 1 rejected", gcpV5 + "1.bin", "teekit-gcp-sev/vcek.pem", gcp, verify.Policy{}, verify.CheckVMPL, nil},
		{"GCP v5 report at VMPL 1 with policy vmpl 1", gcpV5 + "1.bin", "teekit-gcp-sev/vcek.pem", gcp, verify.Policy{VMPL: 1}, "", &gcpVMPL1},
		{"GCP v5 report before its VCEK", gcpV5 + "0.bin", "teekit-gcp-sev/vcek.pem", fixture, verify.Policy{}, verify.CheckCertValidity, nil},
		{"GCP v5 report (X25519-bound) at VMPL 1 rejected", gcpV5 + "1-x25519.bin", "teekit-gcp-sev/vcek-x25519.pem", gcp, verify.Policy{},
			verify.CheckVMPL, nil},
		{"GCP v5 report (X25519-bound), policy vmpl 1", gcpV5 + "1-x25519.bin", "teekit-gcp-sev/vcek-x25519.pem", gcp, verify.Policy{VMPL: 1},
			"", &gcpVMPL1},
		{"GCP v5 report (X25519-bound) with the VCEK KDS issued three hours earlier", gcpV5 + "1-x25519.bin", "teekit-gcp-sev/vcek.pem", gcp,
			verify.Policy{VMPL: 1}, "", &gcpVMPL1},
		{"AWS VLEK report of 2023: reported TCB below committed", "constellation/aws-vlek-report-2023.bin", "constellation/vlek-2023.pem",
			d2024, verify.Policy{}, verify.CheckCommittedTCB, nil},
		{"AWS VLEK report of 2023 with allow_uncommitted_tcb", "constellation/aws-vlek-report-2023.bin", "constellation/vlek-2023.pem",
			d2024, uncommitted, "", &wantClaims{"Milan", "VLEK", "00000000", "none", [4]uint8{3, 0, 10, 115}, 0}},
		{"AWS VLEK report of 2024 with allow_uncommitted_tcb", "constellation/aws-vlek-report-2024.bin", "constellation/aws-vlek-2024.pem",
			sep2024, uncommitted, "", &wantClaims{"Milan", "VLEK", "00000000", "none", [4]uint8{3, 0, 21, 209}, 0}},
		{"AWS VLEK report of 2024 before its VLEK", "constellation/aws-vlek-report-2024.bin", "constellation/aws-vlek-2024.pem",
			d2024, uncommitted, verify.CheckCertValidity, nil},
		{"AWS VLEK report of 2024 with the 2023 VLEK", "constellation/aws-vlek-report-2024.bin", "constellation/vlek-2023.pem",
			d2024, uncommitted, verify.CheckVCEKTCB, nil},
		{"Azure report of a wip commit: its VCEK's chip and TCB, signature broken", "constellation/azure-snp-report-wip-2023.bin",
			"constellation/azure-vcek-wip-2023.der", fixture, verify.Policy{}, verify.CheckReportSignature, nil},
		{"2022 Azure HCL report (SNP v1), no VCEK to be had", "azure-guest-attestation/hcl-report-2022.bin", "", fixture,
			verify.Policy{}, verify.CheckVCEKMissing, nil},
		{"2022 Azure HCL report (SNP v1), another chip's VCEK", "azure-guest-attestation/hcl-report-2022.bin", svr2 + "azure-vcek.der",
			fixture, verify.Policy{}, verify.CheckChipID, nil},
		{"2024 Azure Genoa HCL report (SNP v2), no VCEK published", "genxt-confido/hcl-report.bin", "", fixture,
			verify.Policy{}, verify.CheckVCEKMissing, nil},
		{"2024 Azure Genoa HCL report (SNP v2), another Genoa chip's VCEK", "genxt-confido/hcl-report.bin",
			"trustee-az-vtpm/az-snp-vtpm/vcek-genoa.pem", fixture, verify.Policy{}, verify.CheckChipID, nil},
		{"Oak Turin report v5, KDS VCEK", "oak/turin-report.bin", "oak/turin-vcek.der", oakAt, verify.Policy{}, "",
			&wantClaims{"Turin", "VCEK", "3b42092f69c656d300", "none", [4]uint8{1, 0, 2, 71}, 0}},
		{"Oak Turin report, the day before KDS issued its VCEK", "oak/turin-report.bin", "oak/turin-vcek.der",
			time.Date(2025, 7, 16, 12, 0, 0, 0, time.UTC), verify.Policy{}, verify.CheckCertValidity, nil},
		{"Oak Turin report with the Genoa VCEK", "oak/turin-report.bin", "oak/genoa-vcek.der", oakAt, verify.Policy{}, verify.CheckProduct, nil},
		{"Oak Genoa report v5, KDS VCEK", "oak/genoa-report.bin", "oak/genoa-vcek.der", oakAt, verify.Policy{}, "",
			&wantClaims{"Genoa", "VCEK", "d2421d97", "none", [4]uint8{10, 0, 25, 84}, 0}},
		{"Oak Genoa report with a Milan VCEK", "oak/genoa-report.bin", "oak/milan-oc-vcek.der", oakAt, verify.Policy{}, verify.CheckProduct, nil},
		{"Oak Milan report v3 (Oak Containers)", "oak/milan-oc-report.bin", "oak/milan-oc-vcek.der", oakAt, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "a3fdc2c6", "none", [4]uint8{4, 0, 24, 219}, 0}},
		{"Oak Milan report v3 (Restricted Kernel)", "oak/milan-rk-report.bin", "oak/milan-rk-vcek.der", oakAt, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "6c65aee8", "none", [4]uint8{4, 0, 24, 219}, 0}},
		{"Oak Milan report with the other Oak chip's VCEK", "oak/milan-oc-report.bin", "oak/milan-rk-vcek.der", oakAt, verify.Policy{},
			verify.CheckChipID, nil},
		{"YAXI Genoa report v5 (2025-11), KDS VCEK chain", "yaxi-routex/genoa-v5-report.bin", "yaxi-routex/vcek-chain-genoa-v5.pem", d2026,
			verify.Policy{}, "", &wantClaims{"Genoa", "VCEK", "e0234bed", "none", [4]uint8{10, 0, 27, 88}, 0}},
		{"YAXI Genoa report v3 (2025-07), KDS VCEK chain", "yaxi-routex/genoa-v3-report.bin", "yaxi-routex/vcek-chain-genoa-v3.pem", d2026,
			verify.Policy{}, "", &wantClaims{"Genoa", "VCEK", "9dc99962", "none", [4]uint8{9, 0, 23, 72}, 0}},
		{"YAXI Genoa v5 report with the other Genoa chip's VCEK", "yaxi-routex/genoa-v5-report.bin", "yaxi-routex/vcek-chain-genoa-v3.pem",
			d2026, verify.Policy{}, verify.CheckChipID, nil},
		{"YAXI Genoa v3 report with Oak's Genoa VCEK", "yaxi-routex/genoa-v3-report.bin", "oak/genoa-vcek.der", d2026, verify.Policy{},
			verify.CheckChipID, nil},
		{"Signal Azure HCL report, its VCEK", svr2 + "azure-hcl-report.bin", svr2 + "azure-vcek.der", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "a9a83b44", "azure-hcl", [4]uint8{3, 0, 8, 115}, 0}},
		{"Signal Azure HCL report, Signal's other chip's VCEK", svr2 + "azure-hcl-report.bin", svr2 + "milan-vcek.der", fixture,
			verify.Policy{}, verify.CheckChipID, nil},
		{"Signal Milan report (no paravisor), its VCEK", svr2 + "milan-report.bin", svr2 + "milan-vcek.der", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "55bb3ecf", "none", [4]uint8{3, 0, 8, 168}, 0}},
		{"Signal Milan report before its VCEK was issued", svr2 + "milan-report.bin", svr2 + "milan-vcek.der",
			time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), verify.Policy{}, verify.CheckCertValidity, nil},
		{"Signal Milan report, Azure VCEK of another chip", svr2 + "milan-report.bin", svr2 + "azure-vcek.der", fixture,
			verify.Policy{}, verify.CheckChipID, nil},
		{"CCF ACI Milan report v3, KDS VCEK", ccf + "milan-report.bin", ccf + "milan-vcek.pem", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "4ffb5cb4", "unknown", [4]uint8{4, 0, 24, 219}, 0}},
		{"CCF ACI Genoa report v3, KDS VCEK", ccf + "genoa-report.bin", ccf + "genoa-vcek.pem", fixture, verify.Policy{}, "",
			&wantClaims{"Genoa", "VCEK", "b1e24a27", "unknown", [4]uint8{10, 0, 23, 84}, 0}},
		{"CCF ACI Milan report, the day before KDS issued its VCEK", ccf + "milan-report.bin", ccf + "milan-vcek.pem",
			time.Date(2025, 1, 27, 0, 0, 0, 0, time.UTC), verify.Policy{}, verify.CheckCertValidity, nil},
		{"CCF ACI Genoa report with the ACI Milan VCEK", ccf + "genoa-report.bin", ccf + "milan-vcek.pem", fixture, verify.Policy{},
			verify.CheckProduct, nil},
		{"CCF ACI Milan report v2 without its VCEK", ccf + "milan-v2-report.bin", "", fixture, verify.Policy{}, verify.CheckVCEKMissing, nil},
		{"CCF ACI Milan report v2, its KDS VCEK (CCF's npm test)", ccf + "milan-v2-report.bin", ccf + "milan-v2-vcek.pem", fixture, verify.Policy{}, "",
			&wantClaims{"Milan", "VCEK", "dc7e37cc", "unknown", [4]uint8{3, 0, 8, 115}, 0}},
		{"Microsoft TAV Turin report v5 (ACI), KDS VCEK", "ms-tav/turin-report.bin", "ms-tav/turin-vcek.pem", mar2026, verify.Policy{}, "",
			&wantClaims{"Turin", "VCEK", "59790fb1c39f35c1", "unknown", [4]uint8{1, 1, 4, 81}, 0}},
		{"Microsoft TAV Turin report, the day before KDS issued its VCEK", "ms-tav/turin-report.bin", "ms-tav/turin-vcek.pem",
			time.Date(2026, 2, 4, 0, 0, 0, 0, time.UTC), verify.Policy{}, verify.CheckCertValidity, nil},
		{"Microsoft TAV Turin report with Oak's Turin VCEK", "ms-tav/turin-report.bin", "oak/turin-vcek.der", mar2026, verify.Policy{},
			verify.CheckChipID, nil},
		{"CCF ACI Milan report, the VCEK KDS reissued in 2026 (Microsoft TAV)", ccf + "milan-report.bin", "ms-tav/milan-vcek-2026.pem", mar2026,
			verify.Policy{}, "", &wantClaims{"Milan", "VCEK", "4ffb5cb4", "unknown", [4]uint8{4, 0, 24, 219}, 0}},
		{"CCF ACI Genoa report, the VCEK KDS reissued in 2026 (Microsoft TAV)", ccf + "genoa-report.bin", "ms-tav/genoa-vcek-2026.pem", mar2026,
			verify.Policy{}, "", &wantClaims{"Genoa", "VCEK", "b1e24a27", "unknown", [4]uint8{10, 0, 23, 84}, 0}},
		{"CCF ACI Genoa report, the 2026 VCEK at a time before it was issued", ccf + "genoa-report.bin", "ms-tav/genoa-vcek-2026.pem", fixture,
			verify.Policy{}, verify.CheckCertValidity, nil},
		{"CCF ACI Milan report v2, the other ACI chip's VCEK", ccf + "milan-v2-report.bin", ccf + "milan-vcek.pem", fixture, verify.Policy{},
			verify.CheckChipID, nil},
		{"py-snp-utils Azure Genoa report v3 without a VCEK (none published)", psu + "azure-genoa-report-v3.bin", "", fixture, verify.Policy{},
			verify.CheckVCEKMissing, nil},
		{"py-snp-utils Azure Genoa report v3, Oak's Genoa VCEK", psu + "azure-genoa-report-v3.bin", "oak/genoa-vcek.der", oakAt, verify.Policy{},
			verify.CheckChipID, nil},
		{"py-snp-utils Azure Genoa report v3, a Milan VCEK", psu + "azure-genoa-report-v3.bin", "oak/milan-oc-vcek.der", oakAt, verify.Policy{},
			verify.CheckProduct, nil},
		{"py-snp-utils Milan report v5 without a VCEK (none published)", psu + "milan-report-v5.bin", "", fixture, verify.Policy{},
			verify.CheckVCEKMissing, nil},
		{"py-snp-utils Milan report v5, the GCP chip's VCEK", psu + "milan-report-v5.bin", "teekit-gcp-sev/vcek.pem", gcp, verify.Policy{},
			verify.CheckChipID, nil},
		{"py-snp-utils Milan report v5, a Genoa VCEK", psu + "milan-report-v5.bin", "oak/genoa-vcek.der", oakAt, verify.Policy{},
			verify.CheckProduct, nil},
	}
}

// certDER returns the first certificate of a fixture: DER as is, PEM
// decoded; nil for "" (no certificate given).
func certDER(t *testing.T, rel string) []byte {
	t.Helper()
	if rel == "" {
		return nil
	}
	b := testutil.ReadFile(t, rel)
	if strings.HasSuffix(rel, ".pem") {
		return testutil.PEMBlocks(t, b, "CERTIFICATE")[0]
	}
	return b
}

// TestRealBareReports: real SNP reports from other projects (Milan, Genoa
// and Turin; VLEK-signed AWS reports; Azure's 1204-byte stored form and HCL
// reports; GCP's version 5 at VMPL 0 and 1) verify to their claims, or are
// rejected by the check that names the real cause.
func TestRealBareReports(t *testing.T) {
	for _, rr := range realReports() {
		t.Run(rr.name, func(t *testing.T) {
			claims, err := reportWith(context.Background(), testutil.ReadFile(t, rr.report), certDER(t, rr.cert),
				verify.Config{Now: rr.at, Policy: rr.policy})
			if rr.want != "" {
				var verr *verify.Error
				if !errors.As(err, &verr) || verr.Check != rr.want || !errors.Is(err, verify.ErrRejected) {
					t.Fatalf("got %v (claims %v), want a rejection by %s", err, claims != nil, rr.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("real report rejected: %v", err)
			}
			w, tcb := rr.claims, claims.ReportedTCB
			if claims.Product != w.product || claims.SigningKey != w.key || claims.Paravisor != w.paravisor ||
				!strings.HasPrefix(hex.EncodeToString(claims.ChipID), w.chip) || claims.VMPL != w.vmpl ||
				[4]uint8{tcb.Bootloader, tcb.TEE, tcb.SNP, tcb.Microcode} != w.tcb {
				t.Errorf("claims %s %s chip %x paravisor %s vmpl %d tcb %+v, want %+v",
					claims.Product, claims.SigningKey, []byte(claims.ChipID), claims.Paravisor, claims.VMPL, tcb, *w)
			}
		})
	}
}

// TestRealAzureTDXFiles: Microsoft's cvm-attestation-tools TD quotes (v4,
// and v5 with a TDX 1.5 body) verify alone under Intel's root with Azure's
// paravisor MRTD; a v5 quote whose body size does not match its type is
// tdx-quote-format; the HCL TDX reports of
// cvm-attestation-tools and constellation are of other VMs than that quote
// (tdx-binding), and without a quote an HCL TDX report is not verifiable.
func TestRealAzureTDXFiles(t *testing.T) {
	q4 := testutil.ReadFile(t, "azure-cvm-attestation-tools/td-quote-v4.bin")
	v := newVerifier(t, tdxOpts())
	claims, err := v.TDXReport(context.Background(), nil, q4)
	if err != nil {
		t.Fatalf("Azure TD quote v4 rejected: %v", err)
	}
	if claims.Paravisor != "azure-hcl" || claims.TDX == nil {
		t.Fatalf("claims paravisor %q tdx %+v", claims.Paravisor, claims.TDX)
	}
	if claims.TDX.TEETCBSVN2 != nil || claims.TDX.MRServiceTD != nil {
		t.Errorf("v4 claims: TDX 1.5 fields %x %x", claims.TDX.TEETCBSVN2, claims.TDX.MRServiceTD)
	}
	if j, err := json.Marshal(claims.TDX); err != nil || bytes.Contains(j, []byte("tee_tcb_svn2")) || bytes.Contains(j, []byte("mr_servicetd")) {
		t.Errorf("v4 claims JSON %s: %v", j, err)
	}
	q5 := testutil.ReadFile(t, "azure-cvm-attestation-tools/td-quote-v5.bin")
	claims, err = v.TDXReport(context.Background(), nil, q5)
	if err != nil {
		t.Fatalf("Azure TD quote v5 rejected: %v", err)
	}
	if x := claims.TDX; claims.Paravisor != "azure-hcl" || hex.EncodeToString(x.TEETCBSVN2) != "0d010400000000000000000000000000" ||
		len(x.MRServiceTD) != 48 || hex.EncodeToString(x.MRTD[:4]) != "273828c4" {
		t.Fatalf("v5 claims: paravisor %q tdx %+v", claims.Paravisor, x)
	}
	badSize := bytes.Clone(q5)
	badSize[50] = 0x48 // body size 584 (0x248) for body type 3
	cases := []struct {
		name      string
		hcl       string
		quote     []byte
		want      verify.Check
		wantInErr string
	}{
		{"quote v5, body type 3 of size 584", "", badSize, verify.CheckTDXQuoteFormat, "body_size"},
		{"cvm-attestation-tools HCL report, another VM's quote", "azure-cvm-attestation-tools/tdx-hcl-report.bin", q4, verify.CheckTDXBinding, "TEE_TCB_SVN"},
		{"constellation HCL report, another VM's quote", "constellation/azure-tdx-hcl-report.bin", q4, verify.CheckTDXBinding, "TEE_TCB_SVN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hcl []byte
			if c.hcl != "" {
				hcl = testutil.ReadFile(t, c.hcl)
			}
			_, err := v.TDXReport(context.Background(), hcl, c.quote)
			var verr *verify.Error
			if !errors.As(err, &verr) || verr.Check != c.want || !strings.Contains(err.Error(), c.wantInErr) {
				t.Fatalf("got %v, want %s naming %q", err, c.want, c.wantInErr)
			}
		})
	}
	// The cvm-attestation-tools HCL report's MRTD is not a default (its
	// runtime data has a zero vmUniqueId; nothing signs a TDREPORT offline).
	hclTools := testutil.ReadFile(t, "azure-cvm-attestation-tools/tdx-hcl-report.bin")
	td, err := tdx.ParseTDReport(hclTools[hcl.OffsetHardware : hcl.OffsetHardware+tdx.TDReportSize])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range verify.DefaultTDXParavisors() {
		if p.Digest == td.Body.MRTD {
			t.Errorf("MRTD %x of an unsigned HCL report is trusted by default", td.Body.MRTD)
		}
	}
	for _, f := range []string{"azure-cvm-attestation-tools/tdx-hcl-report.bin", "constellation/azure-tdx-hcl-report.bin"} {
		_, err := v.Report(context.Background(), testutil.ReadFile(t, f), nil)
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != verify.CheckReportType {
			t.Errorf("%s without its TD quote: %v, want %s", f, err, verify.CheckReportType)
		}
	}
}

// cmcpEvidence assembles the parts of a real 2026 Azure SEV-SNP CVM capture
// (testdata/cmcp-azure-cvm: SNP report, runtime data, TPM quote, VCEK
// chain) into evidence: the HCL wrapper is unsigned, so building it around
// the real report and runtime data loses nothing the verifier checks. The
// quote signs PCR 16, whose value the capture does not carry.
func cmcpEvidence(t *testing.T) (*evidence.Evidence, []byte) {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(testutil.ReadFile(t, "cmcp-azure-cvm/cmcp-evidence.json"), &doc); err != nil {
		t.Fatal(err)
	}
	part := func(name string) []byte { // a base64 member
		var b []byte
		if err := json.Unmarshal(doc[name], &b); err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", name, err)
		}
		return b
	}
	c := struct{ SNPReport, RuntimeData, QuoteMsg, QuoteSig, VCEKChainPEM []byte }{
		part("snp_report"), part("runtime_data"), part("quote_msg"), part("quote_sig"), part("vcek_chain_pem")}
	blob, err := hcl.Build(hcl.ReportTypeSNP, c.SNPReport, c.RuntimeData, 2600)
	if err != nil {
		t.Fatal(err)
	}
	// quote_sig is a TPMT_SIGNATURE: RSASSA (0x0014), SHA-256 (0x000b), a
	// 2-byte size, then the signature.
	if len(c.QuoteSig) != 6+256 || !bytes.Equal(c.QuoteSig[:6], []byte{0, 0x14, 0, 0x0b, 1, 0}) {
		t.Fatalf("quote_sig header %x", c.QuoteSig[:6])
	}
	ev := &evidence.Evidence{Version: 1, HCLReport: blob, VCEK: testutil.PEMBlocks(t, c.VCEKChainPEM, "CERTIFICATE")[0],
		Quote: quote.Quote{Message: c.QuoteMsg, Signature: c.QuoteSig[6:]}}
	nonce, err := hex.DecodeString(strings.TrimSpace(string(testutil.ReadFile(t, "cmcp-azure-cvm/nonce.hex"))))
	if err != nil {
		t.Fatal(err)
	}
	return ev, nonce
}

// TestRealCMCPAzureCVM: the 2026 Azure CVM capture verifies end to end
// (pinned Milan chain, Azure's paravisor, runtime data, quote signature,
// its 64-byte nonce quoted as its SHA-256), with PCR values absent; another
// nonce is quote-nonce, and a PCR policy cannot pass without PCR values.
func TestRealCMCPAzureCVM(t *testing.T) {
	ev, nonce := cmcpEvidence(t)
	at := time.Date(2026, 7, 21, 0, 0, 0, 0, time.UTC)
	claims, err := decodedWith(context.Background(), ev, nonce, verify.Config{Now: at})
	if err != nil {
		t.Fatalf("real Azure evidence rejected: %v", err)
	}
	if claims.Product != "Milan" || claims.Paravisor != "azure-hcl" || !claims.NonceChecked || claims.PCRs != nil ||
		!strings.HasPrefix(hex.EncodeToString(claims.ChipID), "a858face") || claims.VMConfig == nil ||
		claims.VMConfig.VMUniqueID != "9C3FD75B-2961-4CDA-B7A5-81BCDEF499F2" {
		t.Errorf("claims %s %s nonce %v pcrs %v chip %x vm %+v", claims.Product, claims.Paravisor, claims.NonceChecked,
			claims.PCRs, []byte(claims.ChipID), claims.VMConfig)
	}
	for _, c := range []struct {
		name  string
		nonce []byte
		cfg   verify.Config
		want  verify.Check
	}{
		{"other nonce", append(bytes.Clone(nonce[:63]), nonce[63]^1), verify.Config{Now: at}, verify.CheckNonce},
		{"PCR policy without PCR values", nonce, verify.Config{Now: at, Policy: verify.Policy{PCRs: map[int]verify.HexBytes{16: make([]byte, 32)}}}, verify.CheckPCRPolicy},
	} {
		_, err := decodedWith(context.Background(), ev, c.nonce, c.cfg)
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}

// TestRealRejectionMessages: what a user reads for real mismatches: the
// product line named once (and the VCEK's own product name only when it
// says more, as Milan-B0 does), and a VCEK that KDS issued after the
// report was made explained as such.
func TestRealRejectionMessages(t *testing.T) {
	oakAt := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		report, cert string
		at           time.Time
		want, not    string
	}{
		{"oak/turin-report.bin", "oak/genoa-vcek.der", oakAt, "report CPUID names Turin but the VCEK is for Genoa", "(Genoa)"},
		{"oak/genoa-report.bin", "oak/milan-oc-vcek.der", oakAt, "the VCEK is for Milan (Milan-B0)", ""},
		{"oak/turin-report.bin", "oak/turin-vcek.der", time.Date(2025, 7, 16, 0, 0, 0, 0, time.UTC),
			"AMD KDS dates a VCEK from when it was fetched", "VLEK"},
		{"signal-svr2/milan-report.bin", "signal-svr2/milan-vcek.der", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC),
			"SEV-VCEK valid 2023-06-13T18:55:55Z to 2030-06-13T18:55:55Z", "KDS"},
	} {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, c.report), certDER(t, c.cert), verify.Config{Now: c.at})
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.not != "" && strings.Contains(err.Error(), c.not)) {
			t.Errorf("%s with %s: %v, want %q without %q", c.report, c.cert, err, c.want, c.not)
		}
	}
}

// TestRealNonAzureTDXQuote: Project Oak's TD quote (testdata/oak, a genuine
// Intel TD that is not an Azure CVM) passes Intel's chain and signatures and
// is rejected as paravisor-identity, naming its MRTD; with that MRTD
// trusted by policy (and no collateral getter: no TCB evaluation) it
// verifies, its MRTD in the claims.
func TestRealNonAzureTDXQuote(t *testing.T) {
	q := testutil.ReadFile(t, "oak/tdx-quote.bin")
	const mrtd = "7b5ee9a304d036f963dbd194c329cb2524817ee91bcf1cff23efe88a25af827c11e04cbf264ae401e5b17fc2e18736be"
	_, err := newVerifier(t, tdxOpts()).TDXReport(context.Background(), nil, q)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckParavisorIdentity || !strings.Contains(err.Error(), mrtd) {
		t.Fatalf("got %v, want %s naming MRTD %s", err, verify.CheckParavisorIdentity, mrtd[:16])
	}
	m, _ := hex.DecodeString(mrtd)
	cfg := tdxOpts()
	cfg.Policy.TDXMRTDs = []verify.HexBytes{m}
	claims, err := newVerifier(t, cfg).TDXReport(context.Background(), nil, q)
	if err != nil {
		t.Fatalf("with its MRTD trusted: %v", err)
	}
	if claims.TDX == nil || hex.EncodeToString(claims.TDX.MRTD[:]) != mrtd || claims.Paravisor != "policy" {
		t.Errorf("claims paravisor %q tdx %+v", claims.Paravisor, claims.TDX)
	}
}

// TestRealNotAReport: the files that sit next to real reports (VCEKs, AK
// certificates, chains, evidence, JWKS, TD quotes), given where a report is
// expected, are hcl-report-format and the error says what they look like;
// a real report's own errors carry no such hint.
func TestRealNotAReport(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"signal-svr2/azure-akcert-nv.bin", "starts like DER"},
		{"oak/genoa-vcek.der", "starts like DER"},
		{"yaxi-routex/vcek-chain-genoa-v5.pem", "PEM text"},
		{"constellation/aws-vlek.pem", "PEM text"},
		{"trustee-az-vtpm/az-snp-vtpm/evidence-v1.json", "is JSON"},
		{"maa/sharedeus2-jwks.json", "is JSON"},
		{"oak/tdx-quote.bin", "starts like a TD quote"},
		{"azure-cvm-attestation-tools/td-quote-v5.bin", "starts like a TD quote"},
	} {
		_, err := reportWith(context.Background(), testutil.ReadFile(t, c.file), nil, verify.Config{Now: testutil.FixtureTime()})
		var verr *verify.Error
		if !errors.As(err, &verr) || verr.Check != verify.CheckHCLFormat || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s saying it %s", c.file, err, verify.CheckHCLFormat, c.want)
		}
		// One hint: what the file is, not also the sizes of a report.
		if strings.Contains(err.Error(), "a stored report is") {
			t.Errorf("%s: %v: both hints", c.file, err)
		}
	}
	_, err := reportWith(context.Background(), testutil.ReadFile(t, "virtee-sev/report-milan.bin"), certDER(t, "oak/genoa-vcek.der"),
		verify.Config{Now: testutil.FixtureTime()})
	if err == nil || strings.Contains(err.Error(), "not a report") {
		t.Errorf("a real report with another product's VCEK: %v", err)
	}
}

// TestRealAzureTDXQuoteDCAPQVL: Phala dcap-qvl's Azure TD quote v5
// (testdata/intel-collateral, PCK from 2026-01-23) verifies alone under
// Intel's root with Azure's paravisor MRTD; with Intel's Feb 2026 collateral
// for its FMSPC it is rejected by tdx-tcb-status, the platform being below
// every TCB level Intel lists.
func TestRealAzureTDXQuoteDCAPQVL(t *testing.T) {
	q := testutil.ReadFile(t, "intel-collateral/azure-tdx-quote-v5-dcapqvl.bin")
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	claims, err := newVerifier(t, verify.Config{Now: at}).TDXReport(context.Background(), nil, q)
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if x := claims.TDX; claims.Paravisor != "azure-hcl" || x == nil || hex.EncodeToString(x.MRTD[:4]) != "273828c4" ||
		hex.EncodeToString(x.TEETCBSVN2) != "0d010300000000000000000000000000" || x.TCBStatus != verify.TCBNotEvaluated {
		t.Fatalf("claims: paravisor %q tdx %+v", claims.Paravisor, x)
	}
	coll := testutil.Must(pcs.LoadDir(os.DirFS(filepath.Join(testutil.Dir(), "intel-collateral/pcs-90c06f000000"))))(t)
	_, err = newVerifier(t, verify.Config{Now: at, TDXCollateral: coll}).TDXReport(context.Background(), nil, q)
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXTCBStatus || !errors.Is(err, pcs.ErrTCBLevel) {
		t.Fatalf("with collateral: %v, want %s (%v)", err, verify.CheckTDXTCBStatus, pcs.ErrTCBLevel)
	}
	_, err = newVerifier(t, verify.Config{Now: testutil.TDXFixtureTime()}).TDXReport(context.Background(), nil, q)
	if !errors.As(err, &verr) || verr.Check != verify.CheckTDXPCKChain {
		t.Errorf("before its PCK: %v, want %s", err, verify.CheckTDXPCKChain)
	}
}
