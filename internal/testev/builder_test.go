package testev_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// TestDefaultsVerify checks that the defaults of every product line and
// both evidence versions build evidence that the verifier accepts with the
// private roots, and that the parts are what the builder documents.
func TestDefaultsVerify(t *testing.T) {
	for _, p := range snp.Products() {
		for _, v := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/v%d", p, v), func(t *testing.T) {
				ev := (&testev.Builder{Product: p, Version: v}).MustBuild()
				claims, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: testev.Roots()})
				if err != nil {
					t.Fatalf("default evidence rejected: %v", err)
				}
				if claims.Product != string(p) || claims.ReportedTCB != testev.DefaultTCB(p) || claims.EvidenceVersion != v {
					t.Errorf("claims %s %+v v%d", claims.Product, claims.ReportedTCB, claims.EvidenceVersion)
				}
				if claims.FreshReport != (v == 2) {
					t.Errorf("FreshReport %v for v%d", claims.FreshReport, v)
				}
				if len(claims.PCRs) != 24 {
					t.Errorf("%d PCRs", len(claims.PCRs))
				}
				if len(ev.Evidence.HCLReport) != testev.DefaultHCLSize {
					t.Errorf("HCL blob %d bytes", len(ev.Evidence.HCLReport))
				}
			})
		}
	}
}

// TestNotAMD checks that the private chain is not trusted by default.
func TestNotAMD(t *testing.T) {
	ev := (&testev.Builder{}).MustBuild()
	_, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{})
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckVCEKChain {
		t.Fatalf("err = %v, want %s", err, verify.CheckVCEKChain)
	}
}

func TestParts(t *testing.T) {
	ev := (&testev.Builder{Product: snp.Turin, EKFirst: true}).MustBuild()
	v, err := snp.ParseVCEK(ev.VCEKDER)
	if err != nil {
		t.Fatal(err)
	}
	if v.Cert.SerialNumber.Sign() != 0 || v.Cert.Subject.CommonName != "SEV-VCEK" || v.Cert.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		t.Errorf("VCEK serial %v CN %q alg %v", v.Cert.SerialNumber, v.Cert.Subject.CommonName, v.Cert.SignatureAlgorithm)
	}
	if len(v.HWID) != 8 || v.TCB != testev.DefaultTCB(snp.Turin) {
		t.Errorf("Turin VCEK hwID %d bytes, TCB %v", len(v.HWID), v.TCB)
	}
	h, err := hcl.Parse(ev.Evidence.HCLReport)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.CheckBinding(); err != nil {
		t.Fatal(err)
	}
	if h.RuntimeData.Keys[0].Kid != hcl.KidEK || h.RuntimeData.Keys[1].Kid != hcl.KidAK {
		t.Errorf("key order %s, %s", h.RuntimeData.Keys[0].Kid, h.RuntimeData.Keys[1].Kid)
	}
	ak, err := h.RuntimeData.AK()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := quote.Verify(&ev.Evidence.Quote, ak, ev.Nonce); err != nil {
		t.Fatal(err)
	}
	r, err := snp.ParseReport(ev.Report)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPUIDFamily != 0x1A || r.CurrentTCB.Parts(snp.Turin).Microcode != testev.DefaultTCB(snp.Turin).Microcode+1 {
		t.Errorf("CPUID family %#x, current TCB %v", r.CPUIDFamily, r.CurrentTCB.Parts(snp.Turin))
	}
}

// TestIdentityKnobs checks the report identity fields: Azure's v3 paravisor
// ID key by default, and each knob applied.
func TestIdentityKnobs(t *testing.T) {
	e := (&testev.Builder{}).MustBuild()
	az := testev.AzureIDKeyDigest()
	if r := parseReport(t, e.Report); r.IDKeyDigest != az || r.AuthorKeyDigest != ([48]byte{}) || r.AuthorKeyEnabled() {
		t.Errorf("default ID/author key digests %x %x, AUTHOR_KEY_EN %v", r.IDKeyDigest, r.AuthorKeyDigest, r.AuthorKeyEnabled())
	}
	id, author := [48]byte{1}, [48]byte{47: 2}
	fam, img := [16]byte{3}, [16]byte{15: 4}
	svn := uint32(9)
	e = (&testev.Builder{IDKeyDigest: &id, AuthorKeyDigest: &author, FamilyID: &fam, ImageID: &img, GuestSVN: &svn}).MustBuild()
	if r := parseReport(t, e.Report); r.IDKeyDigest != id || r.AuthorKeyDigest != author || r.FamilyID != fam || r.ImageID != img || r.GuestSVN != 9 {
		t.Errorf("knobs not applied: %+v", r)
	} else if !r.AuthorKeyEnabled() || r.SignerKey() != snp.SigningKeyVCEK {
		t.Errorf("an author key digest without AUTHOR_KEY_EN (as firmware writes it): SIGNER_INFO 0x%x", r.SignerInfo)
	}
	if aci := testev.ACIIDKeyDigest(); aci == az || aci == ([48]byte{}) {
		t.Error("ACI digest")
	}
}

// parseReport parses a built report with snp.ParseReport.
func parseReport(t *testing.T, raw []byte) *snp.Report {
	t.Helper()
	r, err := snp.ParseReport(raw)
	if err != nil {
		t.Fatalf("ParseReport: %v", err)
	}
	return r
}

// TestEmulated: evidence of Emulated verifies with the emulated chain
// trusted, with claims that say emulated and name the emulated paravisor,
// and is rejected under AMD's roots alone (vcek-chain).
func TestEmulated(t *testing.T) {
	ev := testev.Emulated(testev.Builder{}).MustBuild()
	fake, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{Roots: snp.DefaultRoots().Add(fake)})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Emulated || c.Paravisor != verify.ParavisorEmulated {
		t.Errorf("emulated %v, paravisor %q", c.Emulated, c.Paravisor)
	}
	_, err = verify.Evidence(context.Background(), ev.JSON, ev.Nonce, verify.Config{})
	var verr *verify.Error
	if !errors.As(err, &verr) || verr.Check != verify.CheckVCEKChain {
		t.Errorf("under AMD's roots: %v, want vcek-chain", err)
	}
}
