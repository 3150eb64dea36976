package hcl

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestRealSignalAKCertificate: Signal's Azure SNP CVM capture
// (testdata/signal-svr2) holds the HCL report and the AK certificate read
// from NV index 0x01C101D0 (a DER certificate, then zero padding to 4096
// bytes). The AK that Parse finds in the runtime data (kid HCLAkPub) is the
// key that certificate, issued by "Global Virtual TPM CA - 01", certifies;
// the runtime data's other key (HCLEkPub) is not.
func TestRealSignalAKCertificate(t *testing.T) {
	r, err := Parse(testutil.ReadFile(t, "signal-svr2/azure-hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := r.RuntimeData.AK()
	if err != nil {
		t.Fatal(err)
	}
	ek, err := r.RuntimeData.EK()
	if err != nil {
		t.Fatal(err)
	}
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
