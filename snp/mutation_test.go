package snp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

// Tests added by the mutation testing of the SEV-SNP checks (mutation29a):
// each kills a mutation of a check that no other test of the module noticed.

// TestVerifyVCEKSignatureAlgorithm: a VCEK is accepted only when the ASK
// signed it with RSASSA-PSS SHA-384, AMD's algorithm; the same ASK key
// signing the same certificate with another algorithm (PKCS #1 v1.5, PSS
// with SHA-256) is ErrChain, although the signature itself verifies.
func TestVerifyVCEKSignatureAlgorithm(t *testing.T) {
	c := testev.PrivateChain(snp.Milan)
	good, err := snp.ParseVCEK(issue(t, testev.VCEKTemplate{}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		alg x509.SignatureAlgorithm
		ok  bool
	}{
		{x509.SHA384WithRSAPSS, true},
		{x509.SHA384WithRSA, false},
		{x509.SHA256WithRSA, false},
		{x509.SHA256WithRSAPSS, false},
		{x509.SHA512WithRSAPSS, false},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(0), Subject: good.Cert.Subject,
				NotBefore: good.Cert.NotBefore, NotAfter: good.Cert.NotAfter,
				SignatureAlgorithm: tc.alg, ExtraExtensions: good.Cert.Extensions,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ASK, good.Cert.PublicKey, c.ASKKey)
			if err != nil {
				t.Fatal(err)
			}
			v, err := snp.ParseVCEK(der)
			if err != nil {
				t.Fatal(err)
			}
			// The ASK did sign it: only the algorithm is wrong.
			if err := c.ASK.CheckSignature(v.Cert.SignatureAlgorithm, v.Cert.RawTBSCertificate, v.Cert.Signature); err != nil {
				t.Fatal(err)
			}
			_, err = c.Roots().VerifyVCEK(v, now)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, snp.ErrChain)) {
				t.Errorf("VerifyVCEK = %v, want accepted %v (else ErrChain)", err, tc.ok)
			}
		})
	}
}

// TestChipIDComparedWhole: the VCEK's hwID must equal every byte of the
// report's CHIP_ID (the first 8 on Turin, whose other 56 must be zero): a
// VCEK of a chip whose id differs in any one byte does not bind.
func TestChipIDComparedWhole(t *testing.T) {
	for _, tc := range []struct {
		p    snp.Product
		flip int // the CHIP_ID byte that differs from the hwID
	}{
		{snp.Milan, 0}, {snp.Milan, 7}, {snp.Milan, 8}, {snp.Milan, 31}, {snp.Milan, 32}, {snp.Milan, 63},
		{snp.Genoa, 8}, {snp.Genoa, 63},
		{snp.Turin, 0}, {snp.Turin, 7}, {snp.Turin, 8}, {snp.Turin, 63},
	} {
		t.Run(fmt.Sprintf("%s byte %d", tc.p, tc.flip), func(t *testing.T) {
			chip := testev.DefaultChipID(tc.p)
			r, v, err := signed(t, testev.Builder{Product: tc.p})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckBinding(r); err != nil {
				t.Fatalf("the chip's own VCEK: %v", err)
			}
			other := *r
			other.ChipID = chip
			other.ChipID[tc.flip] ^= 0x01
			if err := v.CheckBinding(&other); !errors.Is(err, snp.ErrChipID) {
				t.Errorf("CHIP_ID differing in byte %d bound: %v", tc.flip, err)
			}
		})
	}
}

// reservedByABI returns whether byte off of a version v report is reserved,
// from AMD's ATTESTATION_REPORT table (ABI rev. 1.58) written out here
// rather than derived from the package's layout code: SIGNER_INFO's upper
// word 0x4C..0x50; after CPUID (0x188..0x18B, version 3 on) up to CHIP_ID;
// the byte after each firmware version (0x1EB, 0x1EF); everything after
// LAUNCH_TCB (version 2 on) or CHIP_ID (version 1) up to the signature,
// less the mitigation vectors of version 5; the signature area after R
// and S.
func reservedByABI(v uint32, off int) bool {
	in := func(lo, hi int) bool { return off >= lo && off < hi }
	switch {
	case in(0x4C, 0x50), in(0x330, 0x4A0):
		return true
	case in(0x188, 0x1A0):
		return v < 3 || off >= 0x18B
	case in(0x1E0, 0x2A0):
		switch {
		case v == 1:
			return true
		case off == 0x1EB, off == 0x1EF:
			return true
		case in(0x1E0, 0x1F8):
			return false
		case v >= 5:
			return off >= 0x208
		}
		return true
	}
	return false
}

// TestReservedBytesEvery: every reserved byte of every report version,
// set alone to 1, 0x80 or 0xFF, is rejected as a reserved byte; the ranges
// come from reservedByABI, not from the parser's own table.
func TestReservedBytesEvery(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 4, 5} {
		raw := (&testev.Builder{ReportVersion: v}).MustBuild().Report
		n := 0
		for off := range snp.ReportSize {
			if !reservedByABI(v, off) {
				continue
			}
			n++
			for _, x := range []byte{1, 0x80, 0xFF} {
				b := append([]byte(nil), raw...)
				b[off] = x
				_, err := snp.ParseReport(b)
				if !errors.Is(err, snp.ErrReportFormat) || !strings.Contains(err.Error(), "reserved bytes") {
					t.Errorf("version %d byte 0x%03x = %#x: err = %v, want reserved bytes rejected", v, off, x, err)
				}
			}
		}
		// Guard the table itself: 4 + (0x4A0-0x330) bytes in every version.
		want := map[uint32]int{1: 4 + 0x18 + 0xC0 + 0x170, 2: 4 + 0x18 + 2 + 0xA8 + 0x170, 3: 4 + 0x15 + 2 + 0xA8 + 0x170, 4: 4 + 0x15 + 2 + 0xA8 + 0x170, 5: 4 + 0x15 + 2 + 0x98 + 0x170}[v]
		if n != want {
			t.Errorf("version %d: %d reserved bytes by the ABI table, want %d", v, n, want)
		}
	}
}

// TestChainCheckValidityEachCertificate: CheckValidity checks the VCEK,
// the intermediate that signs it and the ARK, each on its own: any one of
// them outside its validity at the verification time is ErrValidity, and
// a VLEK without an ASVK is ErrChain.
func TestChainCheckValidityEachCertificate(t *testing.T) {
	v, err := snp.ParseVCEK(issue(t, testev.VCEKTemplate{}))
	if err != nil {
		t.Fatal(err)
	}
	now := v.Cert.NotBefore.Add(24 * time.Hour)
	valid := func(cn string) *x509.Certificate {
		c := &x509.Certificate{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
		c.Subject.CommonName = cn
		return c
	}
	expired, notYet := valid("expired"), valid("not yet valid")
	expired.NotAfter = now.Add(-time.Minute)
	notYet.NotBefore = now.Add(time.Minute)
	vlek := *v
	vlek.SigningKey = snp.SigningKeyVLEK
	for _, tc := range []struct {
		name     string
		ark, ask *x509.Certificate
		asvk     *x509.Certificate
		v        *snp.VCEK
		want     error // nil: valid
	}{
		{"all valid", valid("ARK"), valid("ASK"), nil, v, nil},
		{"ARK expired", expired, valid("ASK"), nil, v, snp.ErrValidity},
		{"ARK not yet valid", notYet, valid("ASK"), nil, v, snp.ErrValidity},
		{"ASK expired", valid("ARK"), expired, nil, v, snp.ErrValidity},
		{"ASK not yet valid", valid("ARK"), notYet, nil, v, snp.ErrValidity},
		{"VLEK: ASVK valid", valid("ARK"), expired, valid("ASVK"), &vlek, nil},
		{"VLEK: ASVK expired", valid("ARK"), valid("ASK"), expired, &vlek, snp.ErrValidity},
		{"VLEK: no ASVK", valid("ARK"), valid("ASK"), nil, &vlek, snp.ErrChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &snp.Chain{Product: snp.Milan, ARK: tc.ark, ASK: tc.ask, ASVK: tc.asvk}
			err := c.CheckValidity(tc.v, now)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("CheckValidity = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestParseVCEKKeyAndUsage: ParseVCEK takes only an ECDSA P-384 key
// whose keyUsage, when present, allows digital signatures; a Turin VCEK
// must carry fmcSPL. Everything else about the certificates is AMD's.
func TestParseVCEKKeyAndUsage(t *testing.T) {
	c := testev.PrivateChain(snp.Milan)
	good, err := snp.ParseVCEK(issue(t, testev.VCEKTemplate{}))
	if err != nil {
		t.Fatal(err)
	}
	reissue := func(pub any, usage x509.KeyUsage) []byte {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(0), Subject: good.Cert.Subject, KeyUsage: usage,
			NotBefore: good.Cert.NotBefore, NotAfter: good.Cert.NotAfter,
			SignatureAlgorithm: x509.SHA384WithRSAPSS, ExtraExtensions: good.Cert.Extensions,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ASK, pub, c.ASKKey)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	key := func(curve elliptic.Curve) any {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	turin, err := testev.PrivateChain(snp.Turin).IssueVCEK(testev.VCEKTemplate{HWID: make([]byte, 8), OmitFMC: true, TCB: testev.DefaultTCB(snp.Turin)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"P-384, no keyUsage", reissue(good.Cert.PublicKey, 0), true},
		{"P-384, digitalSignature", reissue(good.Cert.PublicKey, x509.KeyUsageDigitalSignature), true},
		{"P-384, certSign only", reissue(good.Cert.PublicKey, x509.KeyUsageCertSign), false},
		{"P-384, keyAgreement only", reissue(good.Cert.PublicKey, x509.KeyUsageKeyAgreement), false},
		{"P-256", reissue(key(elliptic.P256()), 0), false},
		{"P-521", reissue(key(elliptic.P521()), 0), false},
		{"RSA", reissue(&c.ASKKey.PublicKey, 0), false},
		{"Turin without fmcSPL", turin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := snp.ParseVCEK(tc.der)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, snp.ErrVCEKFormat)) {
				t.Errorf("ParseVCEK = %v, want accepted %v (else ErrVCEKFormat)", err, tc.ok)
			}
		})
	}
}

// TestParseReportExactSize: ParseReport takes exactly 1184 bytes: a
// genuine report with a byte more (or a second report appended) or a
// byte less is ErrReportFormat, never a report whose Raw holds more than
// was signed.
func TestParseReportExactSize(t *testing.T) {
	raw := (&testev.Builder{}).MustBuild().Report
	if _, err := snp.ParseReport(raw); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{raw[:snp.ReportSize-1], append(append([]byte(nil), raw...), 0), append(append([]byte(nil), raw...), raw...), nil} {
		if r, err := snp.ParseReport(b); !errors.Is(err, snp.ErrReportFormat) {
			t.Errorf("%d bytes: report %v, err = %v, want ErrReportFormat", len(b), r != nil, err)
		}
	}
}

// TestParseVCEKRequiredExtensionsAndSize: a VCEK lacking any of
// productName, blSPL, teeSPL, snpSPL or ucodeSPL is ErrVCEKFormat (a
// missing SPL would read as 0), as is a well-formed VCEK whose DER exceeds
// MaxVCEKSize; an SPL outside 0..255 or followed by a byte is
// ErrVCEKFormat.
func TestParseVCEKRequiredExtensionsAndSize(t *testing.T) {
	c := testev.PrivateChain(snp.Milan)
	chip := testev.DefaultChipID(snp.Milan)
	issueWith := func(kt amdcert.KeyTemplate) []byte {
		kt.Key, kt.ProductName, kt.HWID, kt.TCB = &testev.VCEKKey(snp.Milan).PublicKey, "Milan-B0", chip[:], testev.DefaultTCB(snp.Milan)
		der, err := c.Issue(kt)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	if _, err := snp.ParseVCEK(issueWith(amdcert.KeyTemplate{})); err != nil {
		t.Fatal(err)
	}
	for _, id := range []asn1.ObjectIdentifier{snp.OIDProductName(), snp.OIDBlSPL(), snp.OIDTeeSPL(), snp.OIDSnpSPL(), snp.OIDUcodeSPL()} {
		if _, err := snp.ParseVCEK(issueWith(amdcert.KeyTemplate{Omit: []asn1.ObjectIdentifier{id}})); !errors.Is(err, snp.ErrVCEKFormat) {
			t.Errorf("without %s: err = %v, want ErrVCEKFormat", id, err)
		}
	}
	// An SPL must fit its byte: 256 would read as 0.
	for _, v := range []int64{255, 256, -1} {
		der, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		_, err = snp.ParseVCEK(issueWith(amdcert.KeyTemplate{Omit: []asn1.ObjectIdentifier{snp.OIDBlSPL()}, ExtraExtensions: []pkix.Extension{{Id: snp.OIDBlSPL(), Value: der}}}))
		if (v == 255) != (err == nil) || (err != nil && !errors.Is(err, snp.ErrVCEKFormat)) {
			t.Errorf("blSPL %d: err = %v", v, err)
		}
	}
	// No trailing bytes after an extension's value.
	five, _ := asn1.Marshal(5)
	if _, err := snp.ParseVCEK(issueWith(amdcert.KeyTemplate{Omit: []asn1.ObjectIdentifier{snp.OIDBlSPL()}, ExtraExtensions: []pkix.Extension{{Id: snp.OIDBlSPL(), Value: append(five, 0)}}})); !errors.Is(err, snp.ErrVCEKFormat) {
		t.Errorf("blSPL with a trailing byte: err = %v", err)
	}
	big := issueWith(amdcert.KeyTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: append([]byte{0x04, 0x82, 0x23, 0x28}, make([]byte, 9000)...)}}})
	if len(big) <= snp.MaxVCEKSize {
		t.Fatalf("%d bytes", len(big))
	}
	if _, err := x509.ParseCertificate(big); err != nil {
		t.Fatal(err)
	}
	if _, err := snp.ParseVCEK(big); !errors.Is(err, snp.ErrVCEKFormat) {
		t.Errorf("%d-byte VCEK: err = %v, want ErrVCEKFormat", len(big), err)
	}
}

// TestNewChainASKSignedByItsARK: NewChain (a --roots file's chain) refuses
// an ASK that names the ARK as its issuer but was signed by another key
// (ErrRoots); the chain's own ASK passes.
func TestNewChainASKSignedByItsARK(t *testing.T) {
	a := testev.PrivateChain(snp.Milan)
	b, err := testev.NewChain(snp.Milan, testev.OtherRSAKey(), testev.ASKKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.ASK.RawIssuer, a.ARK.RawSubject) {
		t.Fatal("the test needs chains whose names agree")
	}
	if _, err := snp.NewChain(a.ASK, a.ARK); err != nil {
		t.Fatal(err)
	}
	for name, ask := range map[string]*x509.Certificate{"ASK of another ARK key": b.ASK} {
		if _, err := snp.NewChain(ask, a.ARK); !errors.Is(err, snp.ErrRoots) {
			t.Errorf("%s: err = %v, want ErrRoots", name, err)
		}
	}
	if _, err := snp.NewChain(a.ASK, b.ARK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("ASK under another self-signed ARK of the same name: err = %v, want ErrRoots", err)
	}
}

// TestNewChainASKName: NewChain refuses, by the ASK's common name alone, a
// genuine AMD intermediate that is not the ASK of its ARK's line: AMD's
// real Milan ASVK (SEV-VLEK-Milan, signed by the real ARK-Milan, from
// trustee's milan_ask_ark_asvk.pem) given as the ASK of a --roots chain,
// which would make VLEKs verify as VCEKs. The real ASK passes.
func TestNewChainASKName(t *testing.T) {
	var certs []*x509.Certificate
	rest := testutil.ReadFile(t, "trustee-az-vtpm/amd-vendor-certs/milan_ask_ark_asvk.pem")
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 3 || certs[2].Subject.CommonName != "SEV-VLEK-Milan" {
		t.Fatalf("%d certificates; want ASK, ARK, ASVK", len(certs))
	}
	ask, ark, asvk := certs[0], certs[1], certs[2]
	if _, err := snp.NewChain(ask, ark); err != nil {
		t.Fatalf("the real ASK: %v", err)
	}
	if err := asvk.CheckSignatureFrom(ark); err != nil {
		t.Fatalf("the test needs an ASVK signed by the ARK: %v", err)
	}
	if _, err := snp.NewChain(asvk, ark); !errors.Is(err, snp.ErrRoots) || !strings.Contains(err.Error(), "ASK common name") {
		t.Errorf("the ASVK as the ASK: err = %v, want ErrRoots naming the ASK common name", err)
	}
}

// TestProductFromCPUIDModels pins the CPUID family and model ranges that
// name a product line (mutation testing: widening Genoa's A0h-AFh to BFh
// failed no test): family 19h model 01h is Milan, models 11h and A0h-AFh
// Genoa, family 1Ah Turin; the neighbours of each range are ErrProduct, and
// a version 2 report, which carries no CPUID, names none.
func TestProductFromCPUIDModels(t *testing.T) {
	for _, tc := range []struct {
		version       uint32
		family, model byte
		want          snp.Product
		ok            bool
	}{
		{2, 0x19, 0x01, "", false},
		{3, 0x19, 0x00, "", true},
		{3, 0x19, 0x01, snp.Milan, true},
		{3, 0x19, 0x02, "", true},
		{3, 0x19, 0x10, "", true},
		{3, 0x19, 0x11, snp.Genoa, true},
		{3, 0x19, 0x12, "", true},
		{3, 0x19, 0x9F, "", true},
		{3, 0x19, 0xA0, snp.Genoa, true},
		{5, 0x19, 0xAF, snp.Genoa, true},
		{3, 0x19, 0xB0, "", true},
		{3, 0x19, 0xBF, "", true},
		{5, 0x1A, 0x02, snp.Turin, true},
		{5, 0x1A, 0x11, snp.Turin, true},
		{3, 0x17, 0x31, "", true},
		{3, 0x1B, 0x01, "", true},
	} {
		r := &snp.Report{Version: tc.version, CPUIDFamily: tc.family, CPUIDModel: tc.model}
		p, ok, err := r.ProductFromCPUID()
		if p != tc.want || ok != tc.ok || (err != nil) != (tc.ok && tc.want == "") || (err != nil && !errors.Is(err, snp.ErrProduct)) {
			t.Errorf("v%d family %#x model %#x: %q, %v, %v; want %q, %v", tc.version, tc.family, tc.model, p, ok, err, tc.want, tc.ok)
		}
	}
}
