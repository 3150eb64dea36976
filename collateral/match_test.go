package collateral

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"crypto/x509"

	sevkds "github.com/google/go-sev-guest/kds"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
)

func TestMatchVCEKSynthetic(t *testing.T) {
	pki := newTestPKI(t, "Milan")
	chip := chipID(1)
	turinChip := turinChipID(1)
	turinTCB := TCB{FMC: 1, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}
	tests := []struct {
		name      string
		product   string
		der       func() []byte
		reqChip   []byte
		reqTCB    TCB
		wantField string // MismatchError field; "" with wantErr = generic invalid
		wantErr   bool
		// wantInvalid: ErrInvalidRequest (the request names no chip)
		wantInvalid bool
	}{
		{name: "Milan OCTET STRING hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Milan raw hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{rawHWID: true}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Genoa", product: ProductGenoa, der: func() []byte { return pki.vcek(t, ProductGenoa, chip, milanTCB(), vcekOpts{}) }, reqChip: chip, reqTCB: milanTCB()},
		{name: "Turin 8-byte hwID", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{rawHWID: true}) }, reqChip: turinChip, reqTCB: turinTCB},
		{name: "Turin 8-byte hwID OCTET STRING", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{}) }, reqChip: turinChip, reqTCB: turinTCB},
		{name: "Turin wrong fmc", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{}) }, reqChip: turinChip, reqTCB: TCB{FMC: 9, Bootloader: 2, TEE: 3, SNP: 4, Microcode: 5}, wantField: "TCB"},
		{name: "Turin missing fmcSPL", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{noFMC: true}) }, reqChip: turinChip, reqTCB: turinTCB, wantErr: true}, // snp.ParseVCEK requires fmcSPL on Turin
		{name: "Turin chip id with bytes after the hwID", product: ProductTurin, der: func() []byte { return pki.vcek(t, ProductTurin, chip[:8], turinTCB, vcekOpts{}) }, reqChip: chip, reqTCB: turinTCB, wantInvalid: true},
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
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: snp.OIDStructVersion(), extra: []pkixExt{{Id: snp.OIDStructVersion(), Critical: true, Value: testutil.Marshal(t, asn1.Marshal, 1)}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "missing hwID", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: snp.OIDHWID()}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "missing snpSPL", product: ProductMilan, der: func() []byte { return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: snp.OIDSnpSPL()}) }, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "out of range SPL", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{omit: snp.OIDBlSPL(), extra: []pkixExt{{Id: snp.OIDBlSPL(), Value: testutil.Marshal(t, asn1.Marshal, 300)}}})
		}, reqChip: chip, reqTCB: milanTCB(), wantErr: true},
		{name: "duplicate SPL", product: ProductMilan, der: func() []byte {
			return pki.vcek(t, ProductMilan, chip, milanTCB(), vcekOpts{extra: []pkixExt{{Id: snp.OIDSnpSPL(), Value: testutil.Marshal(t, asn1.Marshal, 8)}}})
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
			case tc.wantInvalid:
				if !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("err = %v, want ErrInvalidRequest", err)
				}
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
