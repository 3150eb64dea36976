package hcl

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestRealSignalAKCertificate: Signal's Azure SNP CVM capture
// (testdata/signal-svr2) holds the HCL report and the AK certificate read
// from NV index 0x01C101D0 (a DER certificate, then zero padding to 4096
// bytes). The AK that Parse finds in the runtime data (kid HCLAkPub) is the
// key that certificate, issued by "Global Virtual TPM CA - 01", certifies;
// the runtime data's other key (HCLEkPub) is not.
func TestRealSignalAKCertificate(t *testing.T) {
	ak, ek := runtimeKeys(t, "signal-svr2/azure-hcl-report.bin")
	nv := testutil.ReadFile(t, "signal-svr2/azure-akcert-nv.bin")
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(nv, &raw)
	if err != nil || len(nv) != 4096 || !format.AllZero(rest) {
		t.Fatalf("NV content: %v (%d bytes, %d after the DER)", err, len(nv), len(rest))
	}
	cert, err := x509.ParseCertificate(raw.FullBytes)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(testutil.ReadFile(t, "signal-svr2/azure-vtpm-ca-01.der"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(ca); err != nil || ca.Subject.CommonName != "Global Virtual TPM CA - 01" {
		t.Errorf("AK certificate not signed by %q: %v", ca.Subject.CommonName, err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(ak) || pub.Equal(ek) {
		t.Errorf("AK certificate key (%T) is not the runtime data's HCLAkPub", cert.PublicKey)
	}
	if !bytes.Contains([]byte(cert.Subject.CommonName), []byte(".ConfidentialVM.Azure.Microsoft")) {
		t.Errorf("AK certificate subject %q", cert.Subject.CommonName)
	}
}

// TestRealAzureGuestAttestation2022: the HCL report in Microsoft's
// guest-attestation client tests (testdata/azure-guest-attestation, an
// April 2022 Azure SNP CVM: SNP report version 1, the 583-byte runtime data
// of that time) parses, header and fields as they are; but its REPORT_DATA
// is not SHA-256 of its runtime data (nor of the spans around it tried:
// with the IGVM header, the padding, SHA-384/512),
// so CheckBinding rejects it: whatever REPORT_DATA signs, it is not these
// runtime data.
func TestRealAzureGuestAttestation2022(t *testing.T) {
	blob := testutil.ReadFile(t, "azure-guest-attestation/hcl-report-2022.bin")
	r, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != 2048 || r.HeaderVersion != 1 || r.Type != ReportTypeSNP || len(r.RuntimeDataRaw) != 583 ||
		binary.LittleEndian.Uint32(r.SNPReport) != 1 || hex.EncodeToString(r.SNPReport[0x1A0:0x1A4]) != "b0b52846" {
		t.Fatalf("%d bytes, header v%d %v, runtime data %d bytes, SNP v%d, chip %x", len(blob), r.HeaderVersion, r.Type,
			len(r.RuntimeDataRaw), binary.LittleEndian.Uint32(r.SNPReport), r.SNPReport[0x1A0:0x1A4])
	}
	d := r.RuntimeData
	if d.VMConfig == nil || d.VMConfig.VMUniqueID != "A288F91E-4404-4A9D-8901-6F7BCF2B5D61" || d.VMConfig.CurrentTime != 1649797958 {
		t.Errorf("vm-configuration %+v", d.VMConfig)
	}
	if _, err := d.AK(); err != nil {
		t.Errorf("AK: %v", err)
	}
	if _, err := d.EK(); err == nil {
		t.Error("a 2022 runtime data with an EK")
	}
	if err := r.CheckBinding(); !errors.Is(err, ErrBindingMismatch) {
		t.Errorf("CheckBinding = %v, want %v", err, ErrBindingMismatch)
	}
}

// TestRealGenoaAzureHCLReportSHA1Quote: genxnetwork's capture of an Azure
// Genoa CVM (testdata/genxt-confido, Nov 2024): an HCL report with header
// version 2 whose SNP report is version 2 (no CPUID fields: the product is
// known only from the VCEK), bound runtime data of the newer schema, and a
// TPM quote over the SHA-1 bank (PCRs 0-23) that the runtime data's
// HCLAkPub signs, carrying the 32-byte nonce as its extraData.
func TestRealGenoaAzureHCLReportSHA1Quote(t *testing.T) {
	r, err := Parse(testutil.ReadFile(t, "genxt-confido/hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if r.HeaderVersion != 2 || r.Type != ReportTypeSNP || r.HashType != HashTypeSHA256 || len(r.RuntimeDataRaw) != 1200 ||
		binary.LittleEndian.Uint32(r.SNPReport) != 2 || hex.EncodeToString(r.SNPReport[0x1A0:0x1A8]) != "2ba5395d906e01b3" {
		t.Fatalf("header v%d %v %v, runtime data %d bytes, SNP v%d, chip %x", r.HeaderVersion, r.Type, r.HashType,
			len(r.RuntimeDataRaw), binary.LittleEndian.Uint32(r.SNPReport), r.SNPReport[0x1A0:0x1A8])
	}
	if err := r.CheckBinding(); err != nil {
		t.Fatalf("CheckBinding: %v", err)
	}
	c := r.RuntimeData.VMConfig
	if c == nil || c.VMUniqueID != "C51D54DD-F03C-4F2C-ABE3-1F8DAB21E836" || c.TPMPersisted == nil || !*c.TPMPersisted || !c.SecureBoot || c.CurrentTime != 0 {
		t.Errorf("vm-configuration %+v", c)
	}
	ak, err := r.RuntimeData.AK()
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(testutil.ReadFile(t, "genxt-confido/nonce.b64"))))
	if err != nil {
		t.Fatal(err)
	}
	q := &quote.Quote{Message: testutil.ReadFile(t, "genxt-confido/quote.msg"), Signature: testutil.ReadFile(t, "genxt-confido/quote.sig")}
	res, err := quote.Verify(q, ak, nonce)
	if err != nil {
		t.Fatalf("quote: %v", err)
	}
	if sel := res.Attest.Selection; len(sel) != 1 || sel[0].Hash != quote.AlgSHA1 || len(sel[0].PCRs) != 24 {
		t.Errorf("selection %+v, want the SHA-1 bank, PCRs 0-23", sel)
	}
	if ek, _ := r.RuntimeData.EK(); ek == nil || quote.VerifySignature(ek, q.Message, q.Signature) == nil {
		t.Error("the quote verifies with HCLEkPub, or no EK")
	}
	if _, err := quote.Verify(q, ak, nonce[1:]); !errors.Is(err, quote.ErrNonce) {
		t.Errorf("another nonce: %v, want %v", err, quote.ErrNonce)
	}
}

// TestRealTPMPersistedAbsentIsNotFalse: "tpm-persisted" read from real
// runtime data is nil when absent (trustee's Milan HCL report, header
// version 1), false when the host states false (a TDX host in
// hyodar-azure-tdx) and true when it states true; re-encoded, a stated
// false is written and an absent member stays absent. The field was a
// bool, so absent read as false ("tpm persisted off").
func TestRealTPMPersistedAbsentIsNotFalse(t *testing.T) {
	r, err := Parse(testutil.ReadFile(t, "trustee-az-vtpm/az-snp-vtpm/hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rd   *RuntimeData
		want string // "" for absent
	}{
		{"trustee hcl-report.bin", r.RuntimeData, ""},
		{"hyodar example", parseRuntimeFile(t, "hyodar-azure-tdx/example-runtime-data.json"), "false"},
		{"hyodar buildernet", parseRuntimeFile(t, "hyodar-azure-tdx/buildernet-runtime-data.json"), "true"},
	} {
		vc := tc.rd.VMConfig
		switch {
		case vc == nil:
			t.Errorf("%s: no vm-configuration", tc.name)
		case tc.want == "" && vc.TPMPersisted != nil:
			t.Errorf("%s: tpm-persisted absent, read as %v", tc.name, *vc.TPMPersisted)
		case tc.want != "" && (vc.TPMPersisted == nil || strconv.FormatBool(*vc.TPMPersisted) != tc.want):
			t.Errorf("%s: tpm-persisted %v, want %s", tc.name, vc.TPMPersisted, tc.want)
		}
		b, err := tc.rd.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(b), `"tpm-persisted":`+tc.want)
		if tc.want == "" {
			has = !strings.Contains(string(b), "tpm-persisted")
		}
		if !has {
			t.Errorf("%s: re-encoded %s", tc.name, b)
		}
	}
}

func parseRuntimeFile(t *testing.T, name string) *RuntimeData {
	t.Helper()
	rd, err := ParseRuntimeData(testutil.ReadFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}
