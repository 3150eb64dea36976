package fakeamd_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/verify/trust"

	collcerts "github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
)

// TestCRLs (emu30b): the fake ARK's VCEK CRL and VLEK CRL are shaped like
// AMD's and pass the checks collateral applies to AMD's (complete CRLs,
// issued and signed by the ARK, RSASSA-PSS SHA-384, current until 2045),
// under the fake ARK only, never under AMD's Milan ARK; their issuer says
// emulated; the VCEK CRL lists the revoked fake VCEK only (not the fake
// VCEK, ASK or ARK), the VLEK CRL nothing; they are two documents.
func TestCRLs(t *testing.T) {
	ark, ask, vcek := certs(t)
	amdARK := trust.DefaultRootCerts["Milan"].ProductCerts.Ark
	lists := map[string]*x509.RevocationList{}
	for name, der := range map[string][]byte{"VCEK CRL": fakeamd.VCEKCRLDER(), "VLEK CRL": fakeamd.VLEKCRLDER()} {
		l, err := collcerts.ParseCRL(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(l.RawIssuer, ark.RawSubject) || !strings.Contains(l.Issuer.String(), fakeamd.Marker) {
			t.Errorf("%s: issuer %q is not the fake ARK's or does not say %q", name, l.Issuer, fakeamd.Marker)
		}
		if err := l.CheckSignatureFrom(ark); err != nil {
			t.Errorf("%s: not signed by the fake ARK: %v", name, err)
		}
		if l.CheckSignatureFrom(amdARK) == nil {
			t.Errorf("%s verifies under AMD's Milan ARK", name)
		}
		if l.SignatureAlgorithm != x509.SHA384WithRSAPSS || !l.ThisUpdate.Equal(ark.NotBefore) || !l.NextUpdate.Equal(ark.NotAfter) || l.Number.Cmp(big.NewInt(1)) != 0 {
			t.Errorf("%s: %v, %v..%v, number %v", name, l.SignatureAlgorithm, l.ThisUpdate, l.NextUpdate, l.Number)
		}
		lists[name] = l
	}
	vcekCRL, vlekCRL := lists["VCEK CRL"], lists["VLEK CRL"]
	if n := len(vcekCRL.RevokedCertificateEntries); n != 1 || vcekCRL.RevokedCertificateEntries[0].SerialNumber.Cmp(big.NewInt(fakeamd.RevokedVCEKSerial)) != 0 {
		t.Errorf("the VCEK CRL lists %d entries, want the revoked VCEK's serial only", n)
	}
	for _, c := range []*x509.Certificate{ark, ask, vcek} {
		if c.SerialNumber.Cmp(big.NewInt(fakeamd.RevokedVCEKSerial)) == 0 {
			t.Errorf("%q has the revoked serial", c.Subject.CommonName)
		}
	}
	if len(vlekCRL.RevokedCertificateEntries) != 0 {
		t.Errorf("the VLEK CRL lists %d entries, want none", len(vlekCRL.RevokedCertificateEntries))
	}
	if bytes.Equal(vcekCRL.RawTBSRevocationList, vlekCRL.RawTBSRevocationList) {
		t.Error("the VCEK CRL and the VLEK CRL are one document")
	}
}

// TestRevokedVCEK (emu30b): the revoked fake VCEK is the fake VCEK
// (subject, issuer, validity, key, AMD extensions) under another serial,
// signed by the fake ASK, so that a report the emulator signs verifies
// with it up to the revocation check.
func TestRevokedVCEK(t *testing.T) {
	_, ask, vcek := certs(t)
	r := fakeamd.RevokedVCEK()
	if r == nil || !bytes.Equal(r.Raw, fakeamd.RevokedVCEKDER()) {
		t.Fatal("the embedded revoked VCEK does not parse")
	}
	if err := r.CheckSignatureFrom(ask); err != nil {
		t.Errorf("not signed by the fake ASK: %v", err)
	}
	if r.SerialNumber.Cmp(big.NewInt(fakeamd.RevokedVCEKSerial)) != 0 || vcek.SerialNumber.Sign() != 0 {
		t.Errorf("serials %v (revoked), %v (VCEK)", r.SerialNumber, vcek.SerialNumber)
	}
	if !bytes.Equal(r.RawSubject, vcek.RawSubject) || !bytes.Equal(r.RawIssuer, vcek.RawIssuer) ||
		!r.NotBefore.Equal(vcek.NotBefore) || !r.NotAfter.Equal(vcek.NotAfter) ||
		!bytes.Equal(r.RawSubjectPublicKeyInfo, vcek.RawSubjectPublicKeyInfo) || !fakekeys.VCEKKey().PublicKey.Equal(r.PublicKey) {
		t.Error("the revoked VCEK is not the fake VCEK under another serial")
	}
	if len(r.Extensions) != len(vcek.Extensions) {
		t.Fatalf("%d extensions, the VCEK %d", len(r.Extensions), len(vcek.Extensions))
	}
	for i, e := range r.Extensions {
		if !e.Id.Equal(vcek.Extensions[i].Id) || !bytes.Equal(e.Value, vcek.Extensions[i].Value) || e.Critical != vcek.Extensions[i].Critical {
			t.Errorf("extension %v differs from the VCEK's", e.Id)
		}
	}
	block, rest := pem.Decode(fakeamd.RevokedVCEKPEM())
	if block == nil || len(rest) != 0 || !bytes.Equal(block.Bytes, fakeamd.RevokedVCEKDER()) {
		t.Error("RevokedVCEKPEM is not one PEM block of RevokedVCEKDER")
	}
}
