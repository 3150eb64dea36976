package kds

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"os"
	"testing"

	sevkds "github.com/google/go-sev-guest/kds"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
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
			if back := uint64(snp.ComposeTCB(snp.Product(tc.product), got)); back != tc.tcb {
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
	chip := make([]byte, ChipIDSize)
	for i := range chip {
		chip[i] = 0xa0 + byte(i)
	}
	turinChip := append(bytes.Clone(chip[:TurinHWIDSize]), make([]byte, ChipIDSize-TurinHWIDSize)...)
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
			want: DefaultBaseURL + "/vcek/v1/Milan/" + hex.EncodeToString(chip) + "?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115",
		},
		{
			name: "Genoa trailing slash", base: "http://x/", product: "Genoa-B1", chip: chip, tcb: 0x541700000000000a,
			want: "http://x/vcek/v1/Genoa/" + hex.EncodeToString(chip) + "?blSPL=10&teeSPL=00&snpSPL=23&ucodeSPL=84",
		},
		{
			name: "Turin 8-byte hwID and fmcSPL", base: "http://x", product: "Turin", chip: turinChip, tcb: 0x4800000004030201,
			want: "http://x/vcek/v1/Turin/" + hex.EncodeToString(chip[:8]) + "?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=72",
		},
		// Turin's CHIP_ID is its 8-byte hwID followed by zeros (every real
		// Turin report); any other byte set there names no chip.
		{name: "Turin chip id with bytes after the hwID", base: "http://x", product: "Turin", chip: chip, tcb: 0x4800000004030201, wantErr: ErrInvalidRequest},
		{name: "Turin chip id with its last byte set", base: "http://x", product: "Turin", chip: append(bytes.Clone(turinChip[:63]), 1), tcb: 0x4800000004030201, wantErr: ErrInvalidRequest},
		{
			name: "Turin given 8 bytes", base: "http://x", product: "Turin", chip: chip[:8], tcb: 0x4800000004030201,
			want: "http://x/vcek/v1/Turin/" + hex.EncodeToString(chip[:8]) + "?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=72",
		},
		{name: "short chip", base: "http://x", product: "Milan", chip: chip[:8], wantErr: ErrInvalidRequest},
		{name: "long chip", base: "http://x", product: "Milan", chip: append(chip, 0), wantErr: ErrInvalidRequest},
		{name: "unknown product", base: "http://x", product: "Rome", chip: chip, wantErr: ErrUnsupportedProduct},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VCEKURL(tc.base, tc.product, tc.chip, tc.tcb)
			if testutil.WantError(t, err, tc.wantErr) {
				return
			}
			if got != tc.want {
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
	if u, _ := VLEKCRLURL(DefaultBaseURL, "Genoa-B1"); u != "https://kdsintf.amd.com/vlek/v1/Genoa/crl" {
		t.Errorf("VLEKCRLURL = %q", u)
	}
	if _, err := VLEKCRLURL(DefaultBaseURL, "Rome"); !errors.Is(err, ErrUnsupportedProduct) {
		t.Errorf("VLEKCRLURL(Rome) err = %v", err)
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
