package amdcert_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// TestEmulatedChainIsAnInstance: the emulator's committed VCEK carries
// exactly the extensions amdcert issues for the emulated chip, and a chain
// amdcert issues with the committed keys parses and verifies in package snp
// (VCEK and VLEK).
func TestEmulatedChainIsAnInstance(t *testing.T) {
	c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Milan, ARKKey: fakekeys.ARKKey(), ASKKey: fakekeys.ASKKey(),
		ASVKKey: fakekeys.ASKKey(), Marker: fakeamd.Marker, ARKOrganization: fakeamd.Marker,
		NotBefore: fakeamd.VCEK().NotBefore, NotAfter: fakeamd.VCEK().NotAfter})
	if err != nil {
		t.Fatal(err)
	}
	chip := fakeamd.ChipID()
	tcb := snp.TCBParts{Bootloader: fakeamd.BlSPL, TEE: fakeamd.TeeSPL, SNP: fakeamd.SnpSPL, Microcode: fakeamd.UcodeSPL}
	der, err := c.Issue(amdcert.KeyTemplate{Key: &fakekeys.VCEKKey().PublicKey, ProductName: fakeamd.ProductName, HWID: chip[:], HWIDOctetString: true, TCB: tcb})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	committed := fakeamd.VCEK()
	if !slices.EqualFunc(issued.Extensions, committed.Extensions, func(a, b pkix.Extension) bool {
		return a.Id.Equal(b.Id) && string(a.Value) == string(b.Value) && a.Critical == b.Critical
	}) {
		t.Errorf("extensions differ:\nissued    %v\ncommitted %v", issued.Extensions, committed.Extensions)
	}
	if issued.Subject.String() != committed.Subject.String() {
		t.Errorf("subject %s, committed %s", issued.Subject, committed.Subject)
	}
	sc, err := snp.ParseChainPEM(c.PEM())
	if err != nil || sc.ASVK == nil {
		t.Fatalf("ParseChainPEM: %v", err)
	}
	roots := (&snp.Roots{}).Add(sc)
	vlekDER, err := c.Issue(amdcert.KeyTemplate{Key: &fakekeys.VCEKKey().PublicKey, VLEK: true, ProductName: "Milan-B0", TCB: tcb})
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string][]byte{"VCEK": der, "VLEK": vlekDER} {
		v, err := snp.ParseVCEK(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.KeyName() != name {
			t.Errorf("%s parsed as %s", name, v.KeyName())
		}
		if _, err := roots.VerifyVCEK(v, committed.NotBefore.AddDate(1, 0, 0)); err != nil {
			t.Errorf("%s chain: %v", name, err)
		}
	}
}

// TestIssueRejects: no key, or a VLEK from a chain without an ASVK.
func TestIssueRejects(t *testing.T) {
	c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Genoa, ARKKey: fakekeys.ARKKey(), ASKKey: fakekeys.ASKKey()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Issue(amdcert.KeyTemplate{}); !errors.Is(err, amdcert.ErrSpec) {
		t.Errorf("no key: %v", err)
	}
	if _, err := c.Issue(amdcert.KeyTemplate{Key: &fakekeys.VCEKKey().PublicKey, VLEK: true}); !errors.Is(err, amdcert.ErrSpec) {
		t.Errorf("VLEK without ASVK: %v", err)
	}
	if _, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Genoa}); !errors.Is(err, amdcert.ErrSpec) {
		t.Errorf("no keys: %v", err)
	}
}

// TestIssueSerialOmitCritical: the serial, the left-out and the critical
// extensions of a KeyTemplate are those issued.
func TestIssueSerialOmitCritical(t *testing.T) {
	c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Milan, ARKKey: fakekeys.ARKKey(), ASKKey: fakekeys.ASKKey(),
		NotBefore: fakeamd.VCEK().NotBefore, NotAfter: fakeamd.VCEK().NotAfter})
	if err != nil {
		t.Fatal(err)
	}
	der, err := c.Issue(amdcert.KeyTemplate{Key: &fakekeys.VCEKKey().PublicKey, ProductName: "Milan-B0", HWID: make([]byte, 64),
		Serial: 42, Omit: []asn1.ObjectIdentifier{snp.OIDSnpSPL()}, Critical: []asn1.ObjectIdentifier{snp.OIDBlSPL()}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SerialNumber.Int64() != 42 {
		t.Errorf("serial %v, want 42", cert.SerialNumber)
	}
	amd := slices.DeleteFunc(slices.Clone(cert.Extensions), func(e pkix.Extension) bool {
		return len(e.Id) < 7 || !slices.Equal(e.Id[:7], []int{1, 3, 6, 1, 4, 1, 3704})
	})
	if len(amd) != 10 {
		t.Errorf("%d AMD extensions, want 10 (a Milan VCEK's 11 less snpSPL)", len(amd))
	}
	for _, e := range amd {
		if e.Id.Equal(snp.OIDSnpSPL()) {
			t.Error("snpSPL not left out")
		}
		if e.Critical != e.Id.Equal(snp.OIDBlSPL()) {
			t.Errorf("extension %v critical %v", e.Id, e.Critical)
		}
	}
}
