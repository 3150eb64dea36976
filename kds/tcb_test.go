package kds

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	sevkds "github.com/google/go-sev-guest/kds"
)

func TestProductLine(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "Milan", want: ProductMilan},
		{in: "milan", wantErr: true},
		{in: "milan-B0", wantErr: true},
		{in: "Milan-ZZZ-evil", wantErr: true},
		{in: "Milan-", wantErr: true},
		{in: "MilanX", wantErr: true},
		{in: " Milan", wantErr: true},
		{in: "Milan-B0", want: ProductMilan},
		{in: "GENOA", wantErr: true},
		{in: "Genoa", want: ProductGenoa},
		{in: "Genoa-B1", want: ProductGenoa},
		{in: "Turin", want: ProductTurin},
		{in: "Naples", wantErr: true},
		{in: "", wantErr: true},
		{in: "../Milan", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ProductLine(tc.in)
		if tc.wantErr {
			if !errors.Is(err, ErrUnsupportedProduct) {
				t.Errorf("ProductLine(%q) err = %v, want ErrUnsupportedProduct", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ProductLine(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDecomposeTCB(t *testing.T) {
	tests := []struct {
		name    string
		product string
		tcb     uint64
		want    TCB
	}{
		{name: "real THIM tcbm", product: ProductMilan, tcb: 0x7308000000000003, want: TCB{Bootloader: 3, SNP: 8, Microcode: 115}},
		{name: "Milan bl4 snp24 ucode219", product: ProductMilan, tcb: 0xdb18000000000004, want: TCB{Bootloader: 4, SNP: 24, Microcode: 219}},
		{name: "Genoa bl10 snp23 ucode84", product: ProductGenoa, tcb: 0x541700000000000a, want: TCB{Bootloader: 10, SNP: 23, Microcode: 84}},
		{name: "Genoa tee", product: ProductGenoa, tcb: 0x0000000000000500, want: TCB{TEE: 5}},
		{name: "Turin layout", product: ProductTurin, tcb: 0x4800000004030201, want: TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 0x48}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecomposeTCB(tc.product, tc.tcb)
			if err != nil || got != tc.want {
				t.Fatalf("DecomposeTCB = %+v, %v; want %+v", got, err, tc.want)
			}
			if back := composeTCB(tc.product, got); back != tc.tcb {
				t.Errorf("compose(decompose) = %#x, want %#x", back, tc.tcb)
			}
			if tc.product != ProductTurin {
				// Agrees with go-sev-guest for Milan/Genoa.
				p := sevkds.DecomposeTCBVersion(sevkds.TCBVersion(tc.tcb))
				if p.BlSpl != got.Bootloader || p.TeeSpl != got.TEE || p.SnpSpl != got.SNP || p.UcodeSpl != got.Microcode {
					t.Errorf("go-sev-guest disagrees: %+v", p)
				}
			}
		})
	}
}

func TestURLs(t *testing.T) {
	chip := chipID(0xa0)
	tests := []struct {
		name    string
		base    string
		product string
		chip    []byte
		tcb     uint64
		want    string
		wantErr error
	}{
		{
			name: "Milan", base: DefaultBaseURL, product: "Milan", chip: chip, tcb: 0x7308000000000003,
			want: DefaultBaseURL + "/vcek/v1/Milan/" + hexKey(chip) + "?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115",
		},
		{
			name: "Genoa trailing slash", base: "http://x/", product: "Genoa-B1", chip: chip, tcb: 0x541700000000000a,
			want: "http://x/vcek/v1/Genoa/" + hexKey(chip) + "?blSPL=10&teeSPL=00&snpSPL=23&ucodeSPL=84",
		},
		{
			name: "Turin 8-byte hwID and fmcSPL", base: "http://x", product: "Turin", chip: chip, tcb: 0x4800000004030201,
			want: "http://x/vcek/v1/Turin/" + hexKey(chip[:8]) + "?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=72",
		},
		{
			name: "Turin given 8 bytes", base: "http://x", product: "Turin", chip: chip[:8], tcb: 0x4800000004030201,
			want: "http://x/vcek/v1/Turin/" + hexKey(chip[:8]) + "?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=72",
		},
		{name: "short chip", base: "http://x", product: "Milan", chip: chip[:8], wantErr: ErrInvalidRequest},
		{name: "long chip", base: "http://x", product: "Milan", chip: append(chip, 0), wantErr: ErrInvalidRequest},
		{name: "unknown product", base: "http://x", product: "Rome", chip: chip, wantErr: ErrUnsupportedProduct},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VCEKURL(tc.base, tc.product, tc.chip, tc.tcb)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("VCEKURL =\n %q, %v\nwant\n %q", got, err, tc.want)
			}
		})
	}
	if u, _ := CertChainURL(DefaultBaseURL, "Milan"); u != "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain" {
		t.Errorf("CertChainURL = %q", u)
	}
	if u, _ := CRLURL(DefaultBaseURL, "Turin"); u != "https://kdsintf.amd.com/vcek/v1/Turin/crl" {
		t.Errorf("CRLURL = %q", u)
	}
}

// realTHIM returns the real THIM VCEK (DER), the chip id and reported TCB of the
// SNP report it certifies.
func realTHIM(t *testing.T) (vcek, chip []byte, tcb uint64) {
	t.Helper()
	b, err := os.ReadFile("../testdata/azure-thim/uvm_host_amd_certificate.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		VCEKCert string `json:"vcekCert"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(doc.VCEKCert))
	if block == nil {
		t.Fatal("no PEM")
	}
	report, err := os.ReadFile("../testdata/azure-thim/snp_report.bin")
	if err != nil {
		t.Fatal(err)
	}
	var reported uint64
	for i := 7; i >= 0; i-- {
		reported = reported<<8 | uint64(report[0x180+i])
	}
	return block.Bytes, report[0x1A0 : 0x1A0+64], reported
}

func TestMatchVCEKRealFixture(t *testing.T) {
	vcek, chip, tcb := realTHIM(t)
	if tcb != 0x7308000000000003 {
		t.Fatalf("reported TCB = %#x", tcb)
	}
	cert, err := MatchVCEK(vcek, ProductMilan, chip, tcb)
	if err != nil {
		t.Fatalf("MatchVCEK(real): %v", err)
	}
	info, err := ParseVCEKInfo(cert)
	if err != nil {
		t.Fatal(err)
	}
	if info.ProductName != "Milan-B0" || !bytes.Equal(info.HWID, chip) || info.TCB != (TCB{Bootloader: 3, SNP: 8, Microcode: 115}) {
		t.Errorf("info = %+v", info)
	}
	// Cross-check with go-sev-guest's parser.
	ext, err := sevkds.VcekCertificateExtensions(cert)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ext.HWID, info.HWID) || uint64(ext.TCBVersion) != tcb {
		t.Errorf("go-sev-guest: hwid %x tcb %#x", ext.HWID, ext.TCBVersion)
	}

	other := bytes.Clone(chip)
	other[0] ^= 1
	var mm *MismatchError
	if _, err := MatchVCEK(vcek, ProductMilan, other, tcb); !errors.As(err, &mm) || mm.Field != "hwID" || !errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("other chip: err = %v, want hwID mismatch", err)
	}
	if _, err := MatchVCEK(vcek, ProductMilan, chip, tcb+1); !errors.As(err, &mm) || mm.Field != "TCB" {
		t.Errorf("other TCB: err = %v, want TCB mismatch", err)
	}
	if _, err := MatchVCEK(vcek, ProductGenoa, chip, tcb); !errors.As(err, &mm) || mm.Field != "productName" {
		t.Errorf("other product: err = %v, want productName mismatch", err)
	}
}

func TestMatchVCEKSynthetic(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	turinTCB := TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}
	tests := []struct {
		name      string
		product   string
		der       func() []byte
		reqChip   []byte
		reqTCB    TCB
		wantField string // MismatchError field; "" with wantErr = generic invalid
		wantErr   bool
	}{
		{name: "Milan OCTET STRING hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Milan raw hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{rawHWID: true}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Genoa", product: ProductGenoa, der: func() []byte { return pki.vcek(t, ProductGenoa, chip, milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Turin 8-byte hwID", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{rawHWID: true}) }, reqChip: chip, reqTCB: turinTCB},
		{name: "Turin 8-byte hwID OCTET STRING", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{}) }, reqChip: chip, reqTCB: turinTCB},
		{name: "Turin wrong fmc", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{}) }, reqChip: chip, reqTCB: TCB{FMC: 9, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}, wantField: "TCB"},
		{name: "Turin missing fmcSPL", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{noFMC: true}) }, reqChip: chip, reqTCB: turinTCB, wantErr: true}, // snp.ParseVCEK requires fmcSPL on Turin
		{name: "wrong chip", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chipID(2), milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB(), wantField: "hwID"},
		{name: "wrong ucode", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: TCB{Bootloader: 3, SNP: 8, Microcode: 116}, wantField: "TCB"},
		{name: "wrong product name", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{productName: "Genoa-B0"}) }, reqChip: chip, reqTCB: milanTCB(), wantField: "productName"},
		{name: "forged product name", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{productName: "Milan-ZZZ-evil"})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "lower-case product name", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{productName: "milan-B0"}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "product name without stepping", product: ProductGenoa, der: func() []byte { return pki.vcek(t, ProductGenoa, chip, milanTCB(), vcekOpts{productName: "Genoa"}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "unknown critical extension", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{extra: []pkixExt{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "critical AMD structVersion", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: oidStructVersion.String(), extra: []pkixExt{{Id: oidStructVersion, Critical: true, Value: asn1Int(t, 1)}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "missing hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: oidHWID.String()}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "missing snpSPL", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: oidSnpSPL.String()}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "out of range SPL", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: oidBlSPL.String(), extra: []pkixExt{{Id: oidBlSPL, Value: asn1Int(t, 300)}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "duplicate SPL", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{extra: []pkixExt{{Id: oidSnpSPL, Value: asn1Int(t, 8)}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "hwID of odd size", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip[:10], milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "garbage DER", product: ProductMilan, der: func() []byte { return []byte("not a certificate") }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "truncated DER", product: ProductMilan, der: func() []byte { d := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{}); return d[:len(d)/2] }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "empty", product: ProductMilan, der: func() []byte { return nil }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MatchVCEK(tc.der(), tc.product, tc.reqChip, composeTCB(tc.product, tc.reqTCB))
			switch {
			case tc.wantField != "":
				var mm *MismatchError
				if !errors.As(err, &mm) || mm.Field != tc.wantField {
					t.Fatalf("err = %v, want mismatch of %s", err, tc.wantField)
				}
			case tc.wantErr:
				if !errors.Is(err, ErrInvalidCertificate) {
					t.Fatalf("err = %v, want ErrInvalidCertificate", err)
				}
			default:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			}
		})
	}
}

// TestTestVCEKsMatchGoSevGuest checks that the synthetic Milan VCEKs encode their
// extensions the way go-sev-guest reads them.
func TestTestVCEKsMatchGoSevGuest(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(7)
	der := pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{})
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := sevkds.VcekCertificateExtensions(cert)
	if err != nil {
		t.Fatalf("go-sev-guest cannot read the test VCEK: %v", err)
	}
	if !bytes.Equal(ext.HWID, chip) || uint64(ext.TCBVersion) != composeTCB(ProductMilan, milanTCB()) || !strings.HasPrefix(ext.ProductName, "Milan") {
		t.Errorf("go-sev-guest reads %+v", ext)
	}
	if _, err := MatchVCEK(der, ProductMilan, chip, uint64(ext.TCBVersion)); err != nil {
		t.Errorf("MatchVCEK: %v", err)
	}
}
