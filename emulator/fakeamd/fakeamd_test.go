package fakeamd_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd"
	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

var oidDescription = asn1.ObjectIdentifier{2, 5, 4, 13}

// verifyTime is inside the fake chain's validity.
var verifyTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func certs(t *testing.T) (ark, ask, vcek *x509.Certificate) {
	t.Helper()
	ark, ask, vcek = fakeamd.ARK(), fakeamd.ASK(), fakeamd.VCEK()
	if ark == nil || ask == nil || vcek == nil {
		t.Fatal("an embedded certificate does not parse")
	}
	return ark, ask, vcek
}

func TestCertificateShapes(t *testing.T) {
	ark, ask, vcek := certs(t)
	tests := []struct {
		name    string
		cert    *x509.Certificate
		cn      string
		org     string
		issuer  string
		isCA    bool
		keyBits int // RSA bits, 0 for P-384
	}{
		{"ARK", ark, "ARK-Milan", fakeamd.Marker, "ARK-Milan", true, 4096},
		{"ASK", ask, "SEV-Milan", "Advanced Micro Devices", "ARK-Milan", true, 4096},
		{"VCEK", vcek, "SEV-VCEK", "Advanced Micro Devices", "SEV-Milan", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cert
			if c.Subject.CommonName != tc.cn || c.Issuer.CommonName != tc.issuer {
				t.Errorf("subject CN %q issuer CN %q, want %q %q", c.Subject.CommonName, c.Issuer.CommonName, tc.cn, tc.issuer)
			}
			if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != tc.org {
				t.Errorf("organization %q, want %q", c.Subject.Organization, tc.org)
			}
			marked := false
			for _, n := range c.Subject.Names {
				if n.Type.Equal(oidDescription) && n.Value == fakeamd.Marker {
					marked = true
				}
			}
			if !marked {
				t.Errorf("subject %v lacks the emulation marker", c.Subject)
			}
			if c.SignatureAlgorithm != x509.SHA384WithRSAPSS {
				t.Errorf("signature algorithm %v, want SHA384-RSAPSS", c.SignatureAlgorithm)
			}
			if c.IsCA != tc.isCA {
				t.Errorf("IsCA = %v", c.IsCA)
			}
			if !c.NotBefore.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !c.NotAfter.Equal(time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("validity %v..%v", c.NotBefore, c.NotAfter)
			}
			switch k := c.PublicKey.(type) {
			case *rsa.PublicKey:
				if k.N.BitLen() != tc.keyBits {
					t.Errorf("RSA key is %d bits, want %d", k.N.BitLen(), tc.keyBits)
				}
			case *ecdsa.PublicKey:
				if tc.keyBits != 0 || k.Curve != elliptic.P384() {
					t.Errorf("unexpected ECDSA key on %v", k.Curve.Params().Name)
				}
			default:
				t.Errorf("unexpected key type %T", k)
			}
		})
	}
	if vcek.SerialNumber.Sign() != 0 {
		t.Errorf("VCEK serial %v, want 0", vcek.SerialNumber)
	}
}

func TestChainVerifies(t *testing.T) {
	ark, ask, vcek := certs(t)
	if err := ark.CheckSignatureFrom(ark); err != nil {
		t.Errorf("ARK is not self-signed: %v", err)
	}
	if err := ask.CheckSignatureFrom(ark); err != nil {
		t.Errorf("ASK is not signed by ARK: %v", err)
	}
	if err := vcek.CheckSignatureFrom(ask); err != nil {
		t.Errorf("VCEK is not signed by ASK: %v", err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ark)
	inter.AddCert(ask)
	if _, err := vcek.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: verifyTime}); err != nil {
		t.Errorf("VCEK chain: %v", err)
	}
	// The fake chain must not verify against AMD's real roots.
	real := trust.DefaultRootCerts["Milan"]
	if real == nil {
		t.Fatal("no embedded AMD Milan roots")
	}
	if _, err := vcek.Verify(*real.X509Options(verifyTime, abi.VcekReportSigner)); err == nil {
		t.Error("fake VCEK verifies against AMD's real Milan roots")
	}
}

func TestChainPEM(t *testing.T) {
	askDER, arkDER, err := kds.ParseProductCertChain(fakeamd.ChainPEM())
	if err != nil {
		t.Fatalf("ChainPEM is not in KDS cert_chain form: %v", err)
	}
	if !bytes.Equal(askDER, fakeamd.ASKDER()) || !bytes.Equal(arkDER, fakeamd.ARKDER()) {
		t.Error("ChainPEM is not ASK then ARK")
	}
	c, err := trust.ParseCert(fakeamd.VCEKPEM())
	if err != nil || !bytes.Equal(c.Raw, fakeamd.VCEKDER()) {
		t.Errorf("VCEKPEM does not hold the VCEK: %v", err)
	}
	// Callers cannot corrupt the embedded copy.
	d := fakeamd.VCEKDER()
	d[0] ^= 0xFF
	if bytes.Equal(d, fakeamd.VCEKDER()) {
		t.Error("VCEKDER returns a shared slice")
	}
}

// TestChain: Chain is the fake ASK and ARK, marked emulated (not pinned)
// with ChainSource, and the fake VCEK verifies under it alone.
func TestChain(t *testing.T) {
	c, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Emulated || c.Pinned || c.Source != fakeamd.ChainSource || !c.ASK.Equal(fakeamd.ASK()) || !c.ARK.Equal(fakeamd.ARK()) {
		t.Errorf("chain %+v, want the fake ASK and ARK, emulated, source %q", c, fakeamd.ChainSource)
	}
	v, err := snp.ParseVCEK(fakeamd.VCEKDER())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := (&snp.Roots{}).Add(c).VerifyVCEK(v, verifyTime); err != nil || got != c {
		t.Errorf("the fake VCEK under Chain: %v", err)
	}
}

func TestVCEKExtensions(t *testing.T) {
	_, _, vcek := certs(t)
	exts, err := kds.VcekCertificateExtensions(vcek)
	if err != nil {
		t.Fatalf("VcekCertificateExtensions: %v", err)
	}
	chip := fakeamd.ChipID()
	if !bytes.Equal(exts.HWID, chip[:]) {
		t.Errorf("hwID %x, want chip id %x", exts.HWID, chip)
	}
	if uint64(exts.TCBVersion) != fakeamd.ReportedTCB() {
		t.Errorf("VCEK TCB %#x, want %#x", uint64(exts.TCBVersion), fakeamd.ReportedTCB())
	}
	parts := kds.DecomposeTCBVersion(exts.TCBVersion)
	if parts.BlSpl != 4 || parts.TeeSpl != 0 || parts.SnpSpl != 24 || parts.UcodeSpl != 219 {
		t.Errorf("TCB parts %+v, want bl 4 tee 0 snp 24 ucode 219", parts)
	}
	if exts.ProductName != "Milan-B0" {
		t.Errorf("productName %q", exts.ProductName)
	}
	if fakeamd.TCBM() != "DB18000000000004" {
		t.Errorf("TCBM = %s", fakeamd.TCBM())
	}
}

func TestKeysMatchCertificates(t *testing.T) {
	ark, ask, vcek := certs(t)
	arkKey, askKey, vcekKey := fakekeys.ARKKey(), fakekeys.ASKKey(), fakekeys.VCEKKey()
	if arkKey == nil || askKey == nil || vcekKey == nil {
		t.Fatal("an embedded key does not parse")
	}
	tests := []struct {
		name string
		pub  any
		key  crypto.Signer
	}{
		{"ARK", ark.PublicKey, arkKey},
		{"ASK", ask.PublicKey, askKey},
		{"VCEK", vcek.PublicKey, vcekKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eq, ok := tc.pub.(interface{ Equal(x crypto.PublicKey) bool })
			if !ok || !eq.Equal(tc.key.Public()) {
				t.Error("private key does not match the certificate")
			}
		})
	}
	if arkKey.PublicKey.Equal(&askKey.PublicKey) {
		t.Error("ARK and ASK share a key")
	}
}

func signedReport(t *testing.T, opts ...fakeamd.ReportOption) ([]byte, [64]byte) {
	t.Helper()
	var rd [64]byte
	copy(rd[:], "report data of the test")
	r := fakeamd.NewReport(rd, opts...)
	if err := snp.SignReport(r, fakekeys.VCEKKey()); err != nil {
		t.Fatalf("SignReport: %v", err)
	}
	return r, rd
}

func TestReportFields(t *testing.T) {
	r, rd := signedReport(t)
	p, err := abi.ReportToProto(r)
	if err != nil {
		t.Fatalf("ReportToProto: %v", err)
	}
	chip := fakeamd.ChipID()
	m := fakeamd.DefaultMeasurement()
	idKey := fakeamd.IDKeyDigest()
	checks := []struct {
		name string
		ok   bool
	}{
		{"version 3", p.Version == 3},
		{"policy", p.Policy == 0x3001F},
		{"vmpl 0", p.Vmpl == 0},
		{"signature algo", p.SignatureAlgo == 1},
		{"report data", bytes.Equal(p.ReportData, rd[:])},
		{"measurement", bytes.Equal(p.Measurement, m[:])},
		{"chip id", bytes.Equal(p.ChipId, chip[:])},
		{"reported tcb", p.ReportedTcb == fakeamd.ReportedTCB()},
		{"committed tcb", p.CommittedTcb == fakeamd.ReportedTCB()},
		{"launch tcb", p.LaunchTcb == fakeamd.ReportedTCB()},
		{"current tcb newer", p.CurrentTcb == fakeamd.CurrentTCB() && p.CurrentTcb > p.CommittedTcb},
		{"cpuid milan", p.GetCpuid1EaxFms() != 0 && kds.ProductLineFromFms(p.GetCpuid1EaxFms()) == "Milan"},
		{"id key digest", bytes.Equal(p.IdKeyDigest, idKey[:])},
		{"author key digest zero", bytes.Equal(p.AuthorKeyDigest, make([]byte, 48))},
		{"family id", string(p.FamilyId) == "snp-vtpm-emu-fam"},
		{"image id", string(p.ImageId) == "snp-vtpm-emu-img"},
		{"firmware", p.CurrentMajor == 1 && p.CurrentMinor == 55 && p.CurrentBuild == 21 && p.CommittedMajor == 1},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: wrong in %v", c.name, p)
		}
	}
	if c := r[snp.OffsetCPUID:]; c[0] != 0x19 || c[1] != 0x01 || c[2] != 1 {
		t.Errorf("CPUID bytes %x", c[:3])
	}
}

func TestReportOptions(t *testing.T) {
	var m [48]byte
	m[0] = 9
	r := fakeamd.DefaultReport([64]byte{}, fakeamd.WithMeasurement(m), fakeamd.WithVMPL(2),
		fakeamd.WithPolicy(0xB001F), fakeamd.WithCurrentTCB(fakeamd.ReportedTCB()), nil)
	if raw := fakeamd.NewReport([64]byte{}, fakeamd.WithMeasurement(m)); raw[snp.OffsetMeasurement] != 9 || len(raw) != snp.ReportSize {
		t.Error("NewReport does not marshal the options")
	}
	if r.Measurement != m || r.VMPL != 2 || r.Policy != 0xB001F || uint64(r.CurrentTCB) != fakeamd.ReportedTCB() {
		t.Error("options not applied")
	}
}

func TestReportIdentityOptions(t *testing.T) {
	var id, author [48]byte
	id[0], author[47] = 1, 2
	fam, img := [16]byte{3}, [16]byte{15: 4}
	r := fakeamd.DefaultReport([64]byte{}, fakeamd.WithIDKeyDigest(id), fakeamd.WithAuthorKeyDigest(author),
		fakeamd.WithFamilyID(fam), fakeamd.WithImageID(img), fakeamd.WithGuestSVN(7))
	if r.IDKeyDigest != id || r.AuthorKeyDigest != author || r.FamilyID != fam || r.ImageID != img || r.GuestSVN != 7 {
		t.Errorf("identity options not applied: %+v", r)
	}
	if !r.AuthorKeyEnabled() {
		t.Errorf("an author key digest without AUTHOR_KEY_EN: SIGNER_INFO 0x%x", r.SignerInfo)
	}
	if r := fakeamd.DefaultReport([64]byte{}, fakeamd.WithAuthorKeyDigest(author), fakeamd.WithAuthorKeyDigest([48]byte{})); r.AuthorKeyEnabled() || r.AuthorKeyDigest != ([48]byte{}) {
		t.Errorf("zero author key digest: AUTHOR_KEY_EN %v, digest %x", r.AuthorKeyEnabled(), r.AuthorKeyDigest)
	}
}

// TestIDKeyDigestDerivation derives the emulated paravisor's ID key digest
// from its documented seed: the P-384 key of scalar SHA-384(IDKeySeed), in
// AMD's 0x404-byte public key format, hashed with SHA-384.
func TestIDKeyDigestDerivation(t *testing.T) {
	scalar := sha512.Sum384([]byte(fakeamd.IDKeySeed))
	k, err := ecdh.P384().NewPrivateKey(scalar[:])
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKey().Bytes() // 04 || X || Y, big-endian
	s := make([]byte, 0x404)
	binary.LittleEndian.PutUint32(s, 2) // curve P-384
	for i := range 48 {
		s[4+i] = pub[48-i]    // Qx little-endian
		s[4+72+i] = pub[96-i] // Qy little-endian
	}
	if want, got := sha512.Sum384(s), fakeamd.IDKeyDigest(); got != want {
		t.Fatalf("IDKeyDigest() = %x, derivation gives %x", got, want)
	}
	if fakeamd.IDKeyDigest() == ([48]byte{}) {
		t.Fatal("zero digest")
	}
}

func TestReportSignature(t *testing.T) {
	_, _, vcek := certs(t)
	r, _ := signedReport(t)
	if err := verify.SnpReportSignature(r, vcek); err != nil {
		t.Fatalf("SnpReportSignature: %v", err)
	}
	tampered := bytes.Clone(r)
	tampered[snp.OffsetReportData] ^= 1
	if err := verify.SnpReportSignature(tampered, vcek); err == nil {
		t.Error("a tampered report verifies")
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(r)
	if err := snp.SignReport(other, otherKey); err != nil {
		t.Fatal(err)
	}
	if err := verify.SnpReportSignature(other, vcek); err == nil {
		t.Error("a report signed by another key verifies")
	}
}

func attestation(t *testing.T, r []byte) *spb.Attestation {
	t.Helper()
	p, err := abi.ReportToProto(r)
	if err != nil {
		t.Fatal(err)
	}
	return &spb.Attestation{Report: p, CertificateChain: &spb.CertificateChain{
		VcekCert: fakeamd.VCEKDER(), AskCert: fakeamd.ASKDER(), ArkCert: fakeamd.ARKDER(),
	}}
}

func TestSnpAttestationWithFakeRoots(t *testing.T) {
	r, _ := signedReport(t)
	fakeRoots := map[string][]*trust.AMDRootCerts{"Milan": {{
		ProductLine:  "Milan",
		ProductCerts: &trust.ProductCerts{Ark: fakeamd.ARK(), Ask: fakeamd.ASK()},
	}}}
	opts := &verify.Options{DisableCertFetching: true, Now: verifyTime, TrustedRoots: fakeRoots}
	if err := verify.SnpAttestation(attestation(t, r), opts); err != nil {
		t.Fatalf("SnpAttestation with the fake roots: %v", err)
	}
	chip := fakeamd.ChipID()
	vmpl := 0
	vopts := &validate.Options{
		GuestPolicy:               abi.SnpPolicy{SMT: true, ABIMajor: 0, ABIMinor: 31},
		ChipID:                    chip[:],
		VMPL:                      &vmpl,
		PermitProvisionalFirmware: true,
		MinimumTCB:                kds.TCBParts{BlSpl: 4, SnpSpl: 24, UcodeSpl: 219},
	}
	if err := validate.SnpAttestation(attestation(t, r), vopts); err != nil {
		t.Fatalf("validate.SnpAttestation: %v", err)
	}
	// AMD's real roots must reject the emulated chain.
	if err := verify.SnpAttestation(attestation(t, r), &verify.Options{DisableCertFetching: true, Now: verifyTime}); err == nil {
		t.Error("the emulated attestation verifies against AMD's real roots")
	}
	// A report of another chip no longer matches the VCEK.
	var other [64]byte
	other[0] = 1
	r2, _ := signedReport(t, fakeamd.WithChipID(other))
	if err := validate.SnpAttestation(attestation(t, r2), vopts); err == nil {
		t.Error("a report with another chip id validates")
	}
}

func TestSignReportErrors(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		report []byte
		key    *ecdsa.PrivateKey
		isSize bool
	}{
		{"short", make([]byte, 100), fakekeys.VCEKKey(), true},
		{"long", make([]byte, snp.ReportSize+1), fakekeys.VCEKKey(), true},
		{"nil key", make([]byte, snp.ReportSize), nil, false},
		{"P-256 key", make([]byte, snp.ReportSize), p256, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := snp.SignReport(tc.report, tc.key)
			if err == nil {
				t.Fatal("SignReport succeeded")
			}
			if !errors.Is(err, snp.ErrSign) || errors.Is(err, snp.ErrReportFormat) != tc.isSize {
				t.Fatalf("error %v: want ErrSign, ErrReportFormat = %v", err, tc.isSize)
			}
		})
	}
}

// TestFakeKeyIn: a chain holding the fake ARK's or ASK's public key, in
// any of its certificates, is named by FakeKeyIn however it was issued
// (fakeamd's own, re-issued under other names); AMD's pinned chains and
// chains of other keys are not.
func TestFakeKeyIn(t *testing.T) {
	fakeARK, fakeASK, other := fakekeys.ARKKey(), fakekeys.ASKKey(), testev.OtherRSAKey()
	reissued := func(ark, ask, asvk *rsa.PrivateKey) *snp.Chain {
		c, err := testev.NewChain(snp.Milan, ark, ask, asvk)
		if err != nil {
			t.Fatal(err)
		}
		return c.SNPChain()
	}
	own, err := fakeamd.Chain()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		chain *snp.Chain
		want  string
	}{
		{"fakeamd.Chain", own, "ARK"},
		{"re-issued with both fake keys", reissued(fakeARK, fakeASK, nil), "ARK"},
		{"fake ASK key under another ARK", reissued(other, fakeASK, nil), "ASK"},
		{"fake ASK key as the ASVK", reissued(other, other, fakeASK), "ASVK"},
		{"testev's private chain", testev.PrivateChain(snp.Milan).SNPChain(), ""},
		{"other keys", reissued(other, other, other), ""},
		{"AMD's pinned Milan chain", snp.DefaultRoots().Chains(snp.Milan)[0], ""},
		{"nil", nil, ""},
	} {
		if got := fakeamd.FakeKeyIn(tc.chain); got != tc.want {
			t.Errorf("%s: FakeKeyIn = %q, want %q", tc.name, got, tc.want)
		}
	}
	if !fakeamd.IsFakeKey(&fakeARK.PublicKey) || !fakeamd.IsFakeKey(&fakeASK.PublicKey) || fakeamd.IsFakeKey(&other.PublicKey) || fakeamd.IsFakeKey(nil) {
		t.Error("IsFakeKey does not tell the fake ARK and ASK keys from others")
	}
}
