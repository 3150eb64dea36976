package snp_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/emulator/fakeamd/fakekeys"
	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/amdcert"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

func TestParseProductStrict(t *testing.T) {
	good := map[string]snp.Product{
		"Milan": snp.Milan, "Genoa": snp.Genoa, "Turin": snp.Turin,
		"Milan-B0": snp.Milan, "Milan-B1": snp.Milan, "Genoa-B1": snp.Genoa, "Genoa-B2": snp.Genoa,
		"Turin-B0": snp.Turin, "Turin-C1": snp.Turin, "Milan-A0": snp.Milan, "Genoa-Z9": snp.Genoa,
	}
	for in, want := range good {
		got, err := snp.ParseProduct(in)
		if err != nil || got != want {
			t.Errorf("ParseProduct(%q) = %q, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "-", "Milan-", "MilanX", "Milan-ZZZ-evil", "milan", "milan-B0", "MILAN", "Milan-b0",
		"Milan-B", "Milan-0B", "Milan-B00", "Milan-BB", "Milan-00", "Milan B0", "Milan-B0 ", " Milan",
		"Milan\x00", "Milan-B0\x00", "Milan-B\u0660", "Milan-\u00c90", "Milan-B0-B0", "Milan--B0",
		"Naples", "Rome-B0", "Bergamo", "ARK-Milan", "SEV-Milan", "Genoa-", "Turin-c1",
		strings.Repeat("Milan", 1000),
	} {
		p, err := snp.ParseProduct(in)
		if err == nil {
			t.Errorf("ParseProduct(%q) = %q, want an error", in, p)
			continue
		}
		if !errors.Is(err, snp.ErrProduct) || !errors.Is(err, snp.ErrProductName) {
			t.Errorf("ParseProduct(%q) err = %v, want ErrProduct and ErrProductName", in, err)
		}
		if len(err.Error()) > 300 {
			t.Errorf("ParseProduct error of %d bytes quotes the whole input", len(err.Error()))
		}
	}
}

func FuzzParseProduct(f *testing.F) {
	for _, s := range []string{"Milan", "Milan-B0", "Genoa", "Turin-C1", "Milan-ZZZ-evil", "milan-B0", "Milan-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := snp.ParseProduct(s)
		if testutil.Rejected(t, err, snp.ErrProductName) {
			return
		}
		// Whatever is accepted is a product line, or one plus "-" letter digit.
		if string(p) != s {
			rest, ok := strings.CutPrefix(s, string(p)+"-")
			if !ok || len(rest) != 2 || rest[0] < 'A' || rest[0] > 'Z' || rest[1] < '0' || rest[1] > '9' {
				t.Fatalf("ParseProduct(%q) accepted as %s", s, p)
			}
		}
	})
}

// issue returns a VCEK issued by the private Milan chain.
func issue(t testing.TB, tmpl testev.VCEKTemplate) []byte {
	t.Helper()
	if tmpl.HWID == nil {
		id := testev.DefaultChipID(snp.Milan)
		tmpl.HWID = id[:]
	}
	if tmpl.TCB == (snp.TCBParts{}) {
		tmpl.TCB = testev.DefaultTCB(snp.Milan)
	}
	der, err := testev.PrivateChain(snp.Milan).IssueVCEK(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseVCEKCriticalExtensions(t *testing.T) {
	null := []byte{5, 0}
	tests := []struct {
		name string
		tmpl testev.VCEKTemplate
		want error // nil: accepted
	}{
		{"no critical extension", testev.VCEKTemplate{}, nil},
		{"processed AMD extensions critical", testev.VCEKTemplate{Critical: []asn1.ObjectIdentifier{snp.OIDProductName(), snp.OIDHWID(), snp.OIDBlSPL(), snp.OIDTeeSPL(), snp.OIDSnpSPL(), snp.OIDUcodeSPL()}}, nil},
		{"unknown non-critical", testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: null}}}, nil},
		{"unknown critical", testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: null}}}, snp.ErrCriticalExtension},
		{"unknown AMD critical", testev.VCEKTemplate{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 7}, Critical: true, Value: null}}}, snp.ErrCriticalExtension},
		{"critical structVersion", testev.VCEKTemplate{Critical: []asn1.ObjectIdentifier{snp.OIDStructVersion()}}, snp.ErrCriticalExtension},
		{"critical reserved SPL", testev.VCEKTemplate{Critical: []asn1.ObjectIdentifier{snp.OIDReservedSPL(5)}}, snp.ErrCriticalExtension},
		{"forged product name", testev.VCEKTemplate{ProductName: "Milan-ZZZ-evil"}, snp.ErrProductName},
		{"lower-case product name", testev.VCEKTemplate{ProductName: "milan-B0"}, snp.ErrProductName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := snp.ParseVCEK(issue(t, tc.tmpl))
			if !wantErrIn(t, err, tc.want, snp.ErrVCEKFormat) {
				return
			}
			if _, err := testev.Roots().VerifyVCEK(v, time.Now()); err != nil {
				t.Fatalf("chain: %v", err)
			}
		})
	}
}

// TestRealCertificatesNoCriticalAMDExtension documents what the real AMD
// certificates in testdata/ carry: no VCEK marks an extension critical, and
// the ARK/ASK/ASVK mark only basicConstraints and keyUsage critical.
func TestRealCertificatesNoCriticalAMDExtension(t *testing.T) {
	seen := 0
	for _, f := range testutil.AMDCertFiles() {
		for _, c := range testutil.Certificates(t, f) {
			seen++
			for _, e := range c.Extensions {
				if !e.Critical {
					continue
				}
				if c.Subject.CommonName == "SEV-VCEK" || (!e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 19}) && !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15})) {
					t.Errorf("%s: %s marks %s critical", f, c.Subject.CommonName, e.Id)
				}
			}
			if c.Subject.CommonName == "SEV-VCEK" {
				if _, err := snp.ParseVCEK(c.Raw); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			} else if err := snp.CheckCACertificate(c); err != nil {
				t.Errorf("%s: %s: %v", f, c.Subject.CommonName, err)
			}
		}
	}
	if seen < 12 {
		t.Errorf("only %d certificates read", seen)
	}
}

// wantErrIn fails t unless err is nil when want is, or both want and class
// otherwise; it reports whether err is nil (the case was accepted).
func wantErrIn(t *testing.T, err, want, class error) (accepted bool) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatal(err)
		}
		return true
	}
	if !errors.Is(err, want) || !errors.Is(err, class) {
		t.Fatalf("err = %v, want %v and %v", err, want, class)
	}
	return false
}

// askPEM builds a chain PEM whose ASK (signed by the private ARK) is
// adjusted by mod.
func askPEM(t *testing.T, mod func(*x509.Certificate)) []byte {
	t.Helper()
	c := testev.PrivateChain(snp.Milan)
	tmpl := fakepki.CATemplate(3, c.ASK.Subject, c.ASK.NotBefore, c.ASK.NotAfter)
	tmpl.SignatureAlgorithm = x509.SHA384WithRSAPSS
	mod(tmpl)
	ask, err := fakepki.Issue(tmpl, c.ARK, &testev.ASKKey().PublicKey, testev.ARKKey())
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ask.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ARK.Raw})...)
}

func TestParseChainPEMCritical(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*x509.Certificate)
		want error
	}{
		{"as issued", func(*x509.Certificate) {}, nil},
		{"unknown critical extension", func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}
		}, snp.ErrCriticalExtension},
		{"unknown non-critical extension", func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}
		}, nil},
		{"not a CA", func(c *x509.Certificate) { c.IsCA = false }, snp.ErrRoots},
		{"key usage without certSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature }, snp.ErrRoots},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := snp.ParseChainPEM(askPEM(t, tc.mod))
			wantErrIn(t, err, tc.want, snp.ErrRoots)
		})
	}
}

// signed builds a report signed by the private Milan VCEK key after mod.
func signed(t *testing.T, b testev.Builder) (*snp.Report, *snp.VCEK, error) {
	t.Helper()
	ev := b.MustBuild()
	v, err := snp.ParseVCEK(ev.VCEKDER)
	if err != nil {
		t.Fatal(err)
	}
	r, err := snp.ParseReport(ev.Report)
	return r, v, err
}

// TestReportVersionBounds: every version AMD defines (1 to 5) parses when
// the report is built with its layout; a version 3 report relabelled 1 or
// 2 carries CPUID bytes where those layouts are reserved and is rejected;
// undefined versions are rejected with ErrReportVersion, naming the
// version and the known ones.
func TestReportVersionBounds(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 4, 5} {
		if _, _, err := signed(t, testev.Builder{ReportVersion: v}); err != nil {
			t.Errorf("version %d built with its layout rejected: %v", v, err)
		}
	}
	for _, v := range []uint32{0, 1, 2, 3, 4, 5, 6, 7, 255, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			_, _, err := signed(t, testev.Builder{MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetVersion:], v) }})
			switch {
			case v >= 3 && v <= snp.MaxReportVersion:
				if err != nil {
					t.Fatalf("version %d rejected: %v", v, err)
				}
			case v >= snp.MinReportVersion && v < 3:
				if !errors.Is(err, snp.ErrReportFormat) || errors.Is(err, snp.ErrReportVersion) || !strings.Contains(err.Error(), "reserved") {
					t.Fatalf("version %d with CPUID bytes: err = %v, want reserved bytes rejected", v, err)
				}
			default:
				if !errors.Is(err, snp.ErrReportVersion) || !errors.Is(err, snp.ErrReportFormat) || !strings.Contains(err.Error(), fmt.Sprintf("version %d;", v)) {
					t.Fatalf("version %d: err = %v, want ErrReportVersion and ErrReportFormat naming it", v, err)
				}
			}
		})
	}
}

// TestSignerInfo walks every value of SIGNER_INFO's defined bits 4:0 plus
// reserved bits: only SIGNING_KEY VCEK passes both parsing and the
// signature check; the mask bit never lets the chip id bind.
func TestSignerInfo(t *testing.T) {
	for info := uint32(0); info < 32; info++ {
		t.Run(fmt.Sprintf("%#x", info), func(t *testing.T) {
			r, v, err := signed(t, testev.Builder{MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetSignerInfo:], info) }})
			key := info >> 2
			switch {
			case key >= 2:
				if !errors.Is(err, snp.ErrSigningKey) || !errors.Is(err, snp.ErrReportFormat) {
					t.Fatalf("signing key %d: err = %v", key, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			err = v.VerifyReportSignature(r)
			if key == snp.SigningKeyVLEK {
				if !errors.Is(err, snp.ErrSigningKey) || !errors.Is(err, snp.ErrReportSignature) {
					t.Fatalf("VLEK report verified with a VCEK: err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = v.CheckBinding(r)
			if masked := info&snp.SignerInfoMaskChipKey != 0; masked != (err != nil) || (masked && !errors.Is(err, snp.ErrChipID)) {
				t.Fatalf("masked %v: binding err = %v", masked, err)
			}
		})
	}
	for _, bit := range []uint{5, 6, 15, 24, 31} {
		_, _, err := signed(t, testev.Builder{MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetSignerInfo:], 1<<bit) }})
		if !errors.Is(err, snp.ErrReportFormat) {
			t.Errorf("reserved bit %d: err = %v", bit, err)
		}
	}
}

func TestZeroChipNeverBinds(t *testing.T) {
	zero := [64]byte{}
	for _, p := range snp.Products() {
		for _, info := range []uint32{0, snp.SignerInfoMaskChipKey} {
			r, v, err := signed(t, testev.Builder{Product: p, ChipID: &zero, MutateReport: func(r []byte) { binary.LittleEndian.PutUint32(r[snp.OffsetSignerInfo:], info) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.VerifyReportSignature(r); err != nil {
				t.Fatal(err)
			}
			if err := v.CheckBinding(r); !errors.Is(err, snp.ErrChipID) {
				t.Errorf("%s signer info %#x: zero chip id bound to a zero hwID: %v", p, info, err)
			}
		}
	}
}

// FuzzParseVCEKExtensions mutates issued VCEKs (forged names, critical
// extensions) and checks what ParseVCEK accepts: a strict product name, no
// critical extension beyond those it processes, a hwID of the product's size.
func FuzzParseVCEKExtensions(f *testing.F) {
	for _, tmpl := range []testev.VCEKTemplate{
		{},
		{ProductName: "Milan-ZZZ-evil"},
		{Critical: []asn1.ObjectIdentifier{snp.OIDProductName()}},
		{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}},
	} {
		f.Add(issue(f, tmpl))
	}
	processed := []asn1.ObjectIdentifier{snp.OIDProductName(), snp.OIDBlSPL(), snp.OIDTeeSPL(), snp.OIDSnpSPL(), snp.OIDUcodeSPL(), snp.OIDFmcSPL(), snp.OIDHWID()}
	f.Fuzz(func(t *testing.T, der []byte) {
		v, err := snp.ParseVCEK(der)
		if testutil.Rejected(t, err, snp.ErrVCEKFormat) {
			return
		}
		if p, err := snp.ParseProduct(v.ProductName); err != nil || p != v.Product {
			t.Fatalf("accepted productName %q as %s", v.ProductName, v.Product)
		}
		for _, id := range v.Cert.UnhandledCriticalExtensions {
			known := false
			for _, p := range processed {
				known = known || id.Equal(p)
			}
			if !known {
				t.Fatalf("accepted critical extension %s", id)
			}
		}
		if want := map[bool]int{true: 8, false: 64}[v.Product == snp.Turin]; len(v.HWID) != want {
			t.Fatalf("hwID of %d bytes for %s", len(v.HWID), v.Product)
		}
	})
}

// realReports returns every SNP report in testdata/: bare, in HCL report
// files and in the evidence files.
func realReports(t *testing.T) map[string][]byte {
	t.Helper()
	read := func(rel string) []byte { return testutil.ReadFile(t, rel) }
	out := map[string][]byte{"azure-thim/snp_report.bin": read("azure-thim/snp_report.bin")}
	for _, f := range []string{"ccf-aci/milan-report.bin", "ccf-aci/genoa-report.bin", "ccf-aci/milan-v2-report.bin", "ms-tav/turin-report.bin", "scitt-caci/report.bin"} {
		out[f] = read(f)
	}
	for _, f := range []string{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", "azure-cvm-tooling/hcl-report-snp.bin", "azure-cvm-tooling/early-az-snp-vtpm-0.2/hcl-report.bin",
		"signal-svr2/azure-hcl-report.bin", "azure-guest-attestation/hcl-report-2022.bin"} {
		out[f] = read(f)[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
	}
	for _, f := range []string{"evidence-v0.json", "evidence-v1.json", "evidence-v2.json", "evidence-genoa.json"} {
		ev, err := evidence.Decode(read("trustee-az-vtpm/az-snp-vtpm/" + f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = ev.HCLReport[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
	}
	return out
}

// TestRoundTripReal: Marshal(ParseReport(x)) == x for every real report,
// and the versions found are the ones testdata is known to hold.
func TestRoundTripReal(t *testing.T) {
	versions := map[uint32]int{}
	for name, raw := range realReports(t) {
		r, err := snp.ParseReport(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		versions[r.Version]++
		if got := r.Marshal(); !bytes.Equal(got, raw) {
			t.Errorf("%s: Marshal differs from the parsed bytes", name)
		}
	}
	if versions[1] == 0 || versions[2] == 0 || versions[3] == 0 {
		t.Errorf("versions in testdata: %v, want 1, 2 and 3", versions)
	}
}

// TestRealReportFieldsGolden: every real SNP report in testdata (bare, or
// at offset 0x20 of an HCL report) parses to its golden fields: version,
// product line from CPUID (none before version 3), VMPL, signing key,
// guest policy, and the first 8 bytes of CHIP_ID, MEASUREMENT,
// REPORTED_TCB (as stored) and ID_KEY_DIGEST. The golden values were read
// at the ABI's offsets by a separate script (not this package), so the
// table is a differential check of the parser on real data; each report
// also round-trips through Marshal.
func TestRealReportFieldsGolden(t *testing.T) {
	for _, c := range []struct {
		file                       string
		version                    uint32
		product                    snp.Product
		vmpl                       uint32
		key                        string
		policy                     uint64
		chip, measurement, tcb, id string
	}{
		{"azure-cvm-tooling/early-az-snp-vtpm-0.2/hcl-report.bin", 2, "", 0, "VCEK", 0x3001f, "3a5d5b1d059d193e", "5a71e4ba7e0b83e4", "0300000000000873", "934f68bd8ba01938"},
		{"azure-cvm-tooling/hcl-report-snp.bin", 2, "", 0, "VCEK", 0x3001f, "3a5d5b1d059d193e", "5a71e4ba7e0b83e4", "0300000000000873", "934f68bd8ba01938"},
		{"azure-guest-attestation/hcl-report-2022.bin", 1, "", 0, "VCEK", 0x3001f, "b0b528463e354f61", "53666d654e8fd0d7", "0200000000000237", "2e1e28cb1fe0811e"},
		{"azure-thim/snp_report.bin", 2, "", 0, "VCEK", 0x3001f, "b12164b45a2a2742", "51068107cdc7ee3d", "0300000000000873", "d3ed82823f890b10"},
		{"ccf-aci/genoa-report.bin", 3, "Genoa", 0, "VCEK", 0x3001f, "b1e24a27bbc3a4d5", "5feee30d6d7e1a29", "0a00000000001754", "0ad79ceb0b648b0e"},
		{"ccf-aci/milan-report.bin", 3, "Milan", 0, "VCEK", 0x3001f, "4ffb5cb4fd594f3f", "5feee30d6d7e1a29", "04000000000018db", "0ad79ceb0b648b0e"},
		{"ccf-aci/milan-v2-report.bin", 2, "", 0, "VCEK", 0x3001f, "dc7e37cc9b95b4d0", "02c3b0d5bf1d256f", "0300000000000873", "812cef5567e78efc"},
		{"constellation/aws-vlek-report-2023.bin", 2, "", 0, "VLEK", 0x30000, "0000000000000000", "25ac810f5c475089", "0300000000000a73", "0000000000000000"},
		{"constellation/aws-vlek-report-2024.bin", 2, "", 0, "VLEK", 0x30000, "0000000000000000", "f1a99fc07470beb0", "03000000000015d1", "0000000000000000"},
		{"constellation/aws-vlek-report.bin", 3, "Milan", 0, "VLEK", 0x30000, "0000000000000000", "5a5cdbad8f540ce4", "04000000000018d9", "0000000000000000"},
		{"constellation/azure-snp-report-wip-2023.bin", 2, "", 0, "VCEK", 0x3001f, "d3cb828216ba0543", "5677f1de87289e7a", "020000000000065d", "57e229e0ffe5fa92"},
		{"constellation/vlek-report-bad-signature.bin", 2, "", 0, "VLEK", 0x30000, "0000000000000000", "c2c84b9364fc9f0f", "0300000000000a73", "0000000000000000"},
		{"genxt-confido/hcl-report.bin", 2, "", 0, "VCEK", 0x3001f, "2ba5395d906e01b3", "74acaf35e63d387c", "0800000000001044", "0356215882a82527"},
		{"go-sev-guest/attestation-debug.bin", 2, "", 0, "VCEK", 0xb0000, "3ac3fe21e13fb099", "b07af9620f3b839b", "0200000000000544", "0000000000000000"},
		{"ms-tav/turin-report.bin", 5, "Turin", 0, "VCEK", 0x3001f, "59790fb1c39f35c1", "6d6c354511d6f7c6", "0101010400000051", "4068e9ae4b315aa4"},
		{"oak/genoa-report.bin", 5, "Genoa", 0, "VCEK", 0x30000, "d2421d976f95ce0b", "c57729018b0a6fb9", "0a00000000001954", "0000000000000000"},
		{"oak/milan-oc-report.bin", 3, "Milan", 0, "VCEK", 0x30000, "a3fdc2c64dc299ab", "195b01b74976a1fa", "04000000000018db", "0000000000000000"},
		{"oak/milan-rk-report.bin", 3, "Milan", 0, "VCEK", 0x30000, "6c65aee8a139e984", "195b01b74976a1fa", "04000000000018db", "0000000000000000"},
		{"oak/turin-report.bin", 5, "Turin", 0, "VCEK", 0x30000, "3b42092f69c656d3", "f924dd18f168df60", "0001000200000047", "0000000000000000"},
		{"py-snp-utils/azure-genoa-report-v3.bin", 3, "Genoa", 0, "VCEK", 0x3001f, "a7a4309a91e5be81", "f57dc09a507c6ecd", "0a00000000001754", "942fd93ebde6ea7a"},
		{"py-snp-utils/milan-report-v5.bin", 5, "Milan", 0, "VCEK", 0x30000, "177f9fae1f03c23f", "14195fde36852b69", "0400000000001bde", "0000000000000000"},
		{"scitt-caci/report.bin", 3, "Milan", 0, "VCEK", 0x3001f, "b0fd192d9769f0b7", "5feee30d6d7e1a29", "04000000000018db", "0ad79ceb0b648b0e"},
		{"signal-svr2/azure-hcl-report.bin", 2, "", 0, "VCEK", 0x3001f, "a9a83b4407edcb54", "9ac48fcac8a2d88a", "0300000000000873", "0356215882a82527"},
		{"signal-svr2/milan-report.bin", 2, "", 0, "VCEK", 0x30000, "55bb3ecf018b5838", "16a477d17fac7cf6", "03000000000008a8", "0000000000000000"},
		{"teekit-gcp-sev/report-v5-vmpl0.bin", 5, "Milan", 0, "VCEK", 0x30000, "980cf7b61876cb37", "b747d55452e0b9e9", "0400000000001bde", "0000000000000000"},
		{"teekit-gcp-sev/report-v5-vmpl1-x25519.bin", 5, "Milan", 1, "VCEK", 0x30000, "980cf7b61876cb37", "b747d55452e0b9e9", "0400000000001bde", "0000000000000000"},
		{"teekit-gcp-sev/report-v5-vmpl1.bin", 5, "Milan", 1, "VCEK", 0x30000, "980cf7b61876cb37", "b747d55452e0b9e9", "0400000000001bde", "0000000000000000"},
		{"trustee-az-vtpm/az-snp-vtpm/hcl-report.bin", 2, "", 0, "VCEK", 0x3001f, "19752a447db501a3", "9ac48fcac8a2d88a", "0300000000000873", "0356215882a82527"},
		{"trustee-snp/test-report.bin", 2, "", 0, "VCEK", 0x3001f, "c38427a30d4c7af9", "a1f3930413247bb3", "0300000000000873", "0356215882a82527"},
		{"trustee-snp/test-vlek-report.bin", 3, "Milan", 1, "VLEK", 0x30000, "0000000000000000", "8922ebbdd00ec2c5", "04000000000018d9", "0000000000000000"},
		{"virtee-sev/report-milan.bin", 2, "", 0, "VCEK", 0x30000, "d49554ec717f4e5b", "7a1e5c266c0108db", "0300000000000873", "0000000000000000"},
		{"yaxi-routex/genoa-v3-report.bin", 3, "Genoa", 0, "VCEK", 0x30000, "9dc99962c063029e", "b0f5d097b5c7addd", "0900000000001748", "0000000000000000"},
		{"yaxi-routex/genoa-v5-report.bin", 5, "Genoa", 0, "VCEK", 0x30000, "e0234bedb3918431", "bece7399a4da054a", "0a00000000001b58", "0000000000000000"},
	} {
		t.Run(c.file, func(t *testing.T) {
			raw := testutil.ReadFile(t, c.file)
			if len(raw) != snp.ReportSize {
				raw = raw[hcl.HeaderSize : hcl.HeaderSize+snp.ReportSize]
			}
			r, err := snp.ParseReport(raw)
			if err != nil {
				t.Fatal(err)
			}
			product, haveCPUID, err := r.ProductFromCPUID()
			if err != nil || haveCPUID != (c.version >= 3) || product != c.product {
				t.Errorf("product %q (CPUID %v, %v), want %q", product, haveCPUID, err, c.product)
			}
			key := map[int]string{snp.SigningKeyVCEK: "VCEK", snp.SigningKeyVLEK: "VLEK"}[int(r.SignerKey())]
			tcb := binary.LittleEndian.AppendUint64(nil, uint64(r.ReportedTCB))
			got := fmt.Sprintf("v%d vmpl %d %s policy 0x%x chip %x meas %x tcb %x id %x", r.Version, r.VMPL, key, r.Policy,
				r.ChipID[:8], r.Measurement[:8], tcb, r.IDKeyDigest[:8])
			want := fmt.Sprintf("v%d vmpl %d %s policy 0x%x chip %s meas %s tcb %s id %s", c.version, c.vmpl, c.key, c.policy,
				c.chip, c.measurement, c.tcb, c.id)
			if got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if !bytes.Equal(r.Marshal(), raw) {
				t.Error("Marshal differs from the parsed bytes")
			}
		})
	}
}

// TestRoundTripVersions builds, signs, parses and re-marshals a report of
// every version with every field set, so a field lost by either direction
// fails; fields a layout lacks read back as zero.
func TestRoundTripVersions(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 4, 5} {
		ev, err := (&testev.Builder{ReportVersion: v, MitVectors: [2]uint64{0x1122, 0x3344}}).Build()
		if err != nil {
			t.Fatal(err)
		}
		r, err := snp.ParseReport(ev.Report)
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		if !bytes.Equal(r.Marshal(), ev.Report) {
			t.Errorf("version %d: Marshal(Parse(x)) != x", v)
		}
		l, _ := snp.ReportVersionLayout(v)
		if (r.CPUIDFamily != 0) != l.CPUID || (r.CommittedTCB != 0) != l.TCBs || (r.LaunchMitVector == 0x1122 && r.CurrentMitVector == 0x3344) != l.MitVectors {
			t.Errorf("version %d: layout %+v, fields %+v", v, l, r)
		}
	}
}

// TestReservedBytes: a non-zero byte in any reserved range of a version's
// layout is rejected, one byte at a time.
func TestReservedBytes(t *testing.T) {
	for _, v := range []uint32{1, 2, 3, 5} {
		ev := (&testev.Builder{ReportVersion: v}).MustBuild()
		l, _ := snp.ReportVersionLayout(v)
		offs := []int{snp.OffsetSignerInfo + 4, snp.OffsetChipID - 1, snp.SignedSize - 1, snp.ReportSize - 1, snp.OffsetSignatureS + 72}
		if !l.CPUID {
			offs = append(offs, snp.OffsetCPUID)
		}
		if !l.TCBs {
			offs = append(offs, snp.OffsetCommittedTCB, snp.OffsetLaunchTCB+7)
		}
		if !l.MitVectors {
			offs = append(offs, snp.OffsetLaunchMitVector, snp.OffsetCurrentMitVector)
		}
		for _, off := range offs {
			b := bytes.Clone(ev.Report)
			b[off] = 1
			if _, err := snp.ParseReport(b); !errors.Is(err, snp.ErrReportFormat) {
				t.Errorf("version %d reserved byte 0x%x: err = %v", v, off, err)
			}
		}
	}
}

// TestPinnedASVK: the ASVK pinned per product line (go-sev-guest's
// embedded VLEK chain) is the one in trustee's *_ask_ark_asvk.pem, whose
// ASK and ARK are the pinned ones too; ParseChainPEM reads all three.
func TestPinnedASVK(t *testing.T) {
	for _, p := range snp.Products() {
		data, err := os.ReadFile(filepath.Join(testutil.Dir(), "trustee-az-vtpm/amd-vendor-certs", map[snp.Product]string{snp.Milan: "milan", snp.Genoa: "genoa", snp.Turin: "turin"}[p]+"_ask_ark_asvk.pem"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := snp.ParseChainPEM(data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pinned := snp.DefaultRoots().Chains(p)
		if len(pinned) != 1 || pinned[0].ASVK == nil || c.ASVK == nil {
			t.Fatalf("%s: no ASVK", p)
		}
		if !pinned[0].ASVK.Equal(c.ASVK) || !pinned[0].ASK.Equal(c.ASK) || !pinned[0].ARK.Equal(c.ARK) {
			t.Errorf("%s: pinned chain differs from trustee's", p)
		}
		if cn := c.ASVK.Subject.CommonName; cn != "SEV-VLEK-"+string(p) {
			t.Errorf("%s: ASVK %q", p, cn)
		}
	}
}

// TestWithASVKRejects: an ASVK of another product line, one not signed by
// the ARK, or the ASK presented as ASVK is refused.
func TestWithASVKRejects(t *testing.T) {
	milan := snp.DefaultRoots().Chains(snp.Milan)[0]
	genoa := snp.DefaultRoots().Chains(snp.Genoa)[0]
	if _, err := milan.WithASVK(genoa.ASVK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("Genoa ASVK on the Milan chain: %v", err)
	}
	if _, err := milan.WithASVK(milan.ASK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("ASK as ASVK: %v", err)
	}
	other := testev.PrivateChain(snp.Milan)
	if _, err := milan.WithASVK(other.ASVK); !errors.Is(err, snp.ErrRoots) {
		t.Errorf("ASVK of another ARK: %v", err)
	}
}

// TestVCEKIssuerNamed: a VCEK whose issuer is not the trusted
// intermediate is named in the error by its issuer, cut short and readable:
// an issuer of 3000 control characters (12 000 bytes once quoted) makes an
// error of a few hundred, and the description attribute (the emulated
// chain's marker says who made it) is written out, not cut inside the hex
// of its DER value.
func TestVCEKIssuerNamed(t *testing.T) {
	for _, tc := range []struct{ marker, want string }{
		{strings.Repeat("\x01", 3000), "is not the trusted"},
		{"snp-vtpm EMULATED (not AMD)", "description=snp-vtpm EMULATED (not AMD)"},
	} {
		c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Milan, ARKKey: fakekeys.ARKKey(), ASKKey: fakekeys.ASKKey(),
			Marker: tc.marker, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		der, err := c.Issue(amdcert.KeyTemplate{Key: &fakekeys.VCEKKey().PublicKey, ProductName: "Milan-B0", HWID: make([]byte, 64)})
		if err != nil {
			t.Fatal(err)
		}
		v, err := snp.ParseVCEK(der)
		if err != nil {
			t.Fatal(err)
		}
		_, err = testev.Roots().VerifyVCEK(v, time.Now())
		if !errors.Is(err, snp.ErrChain) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%.200v, want ErrChain naming the issuer (%q)", err, tc.want)
		}
		if len(err.Error()) > 1024 {
			t.Errorf("error of %d bytes", len(err.Error()))
		}
	}
}

// TestRootNamesBounded: an ARK or ASK whose common name is wrong is named
// in NewChain's error cut short.
func TestRootNamesBounded(t *testing.T) {
	long := strings.Repeat("\x01", 3000)
	for _, product := range []string{long, "Milan" + long} {
		c, err := amdcert.NewChain(amdcert.ChainSpec{Product: snp.Product(product), ARKKey: fakekeys.ARKKey(), ASKKey: fakekeys.ASKKey(),
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = snp.NewChain(c.ASK, c.ARK)
		if !errors.Is(err, snp.ErrRoots) || len(err.Error()) > 512 {
			t.Errorf("%d-byte error: %.80v", len(err.Error()), err)
		}
	}
}
