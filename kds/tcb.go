package kds

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
)

// Product lines served by AMD KDS.
const (
	ProductMilan = "Milan"
	ProductGenoa = "Genoa"
	ProductTurin = "Turin"
)

// ChipIDSize is the size of the CHIP_ID field of an SNP report.
const ChipIDSize = 64

// TurinHWIDSize is the size of the hardware id AMD uses for Turin VCEKs: the first
// bytes of CHIP_ID.
const TurinHWIDSize = 8

// ProductLine returns the canonical product line ("Milan", "Genoa" or "Turin") of a
// product line or product name such as "milan" or "Genoa-B1", or ErrUnsupportedProduct.
func ProductLine(product string) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(product), "-")
	for _, p := range []string{ProductMilan, ProductGenoa, ProductTurin} {
		if strings.EqualFold(line, p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("kds: product %q: %w", truncate(product, 32), ErrUnsupportedProduct)
}

// TCB holds the security patch levels of a TCB_VERSION that take part in a VCEK.
type TCB struct {
	// FMC is the firmware-management-controller SPL (Turin only; 0 elsewhere).
	FMC uint8
	// Bootloader is the PSP bootloader SPL (blSPL).
	Bootloader uint8
	// TEE is the PSP operating system SPL (teeSPL).
	TEE uint8
	// SNP is the SNP firmware SPL (snpSPL).
	SNP uint8
	// Microcode is the CPU microcode SPL (ucodeSPL).
	Microcode uint8
}

// String returns the TCB in the notation of KDS query parameters.
func (t TCB) String() string {
	return fmt.Sprintf("fmc=%d bl=%d tee=%d snp=%d ucode=%d", t.FMC, t.Bootloader, t.TEE, t.SNP, t.Microcode)
}

// DecomposeTCB splits a 64-bit TCB_VERSION (as in an SNP report, little-endian bytes
// read as a uint64) into its parts following the product's layout:
// Milan and Genoa byte0 bootloader, byte1 TEE, byte6 SNP, byte7 microcode;
// Turin byte0 FMC, byte1 bootloader, byte2 TEE, byte3 SNP, byte7 microcode.
func DecomposeTCB(product string, tcb uint64) (TCB, error) {
	line, err := ProductLine(product)
	if err != nil {
		return TCB{}, err
	}
	b := func(i int) uint8 { return uint8(tcb >> (8 * i)) }
	if line == ProductTurin {
		return TCB{FMC: b(0), Bootloader: b(1), TEE: b(2), SNP: b(3), Microcode: b(7)}, nil
	}
	return TCB{Bootloader: b(0), TEE: b(1), SNP: b(6), Microcode: b(7)}, nil
}

// hwID returns the hardware id KDS expects for chipID on product: the whole 64-byte
// CHIP_ID, or its first 8 bytes on Turin (an 8-byte value is accepted for Turin).
func hwID(line string, chipID []byte) ([]byte, error) {
	switch {
	case line == ProductTurin && len(chipID) == TurinHWIDSize:
		return chipID, nil
	case line == ProductTurin && len(chipID) == ChipIDSize:
		return chipID[:TurinHWIDSize], nil
	case len(chipID) == ChipIDSize:
		return chipID, nil
	}
	return nil, fmt.Errorf("kds: chip id of %d bytes for %s, want %d: %w", len(chipID), line, ChipIDSize, ErrInvalidRequest)
}

// VCEKURL returns the KDS URL of the VCEK of chipID at tcb under base (e.g.
// DefaultBaseURL): {base}/vcek/v1/{product}/{hex hwID}?[fmcSPL=NN&]blSPL=NN&teeSPL=NN&snpSPL=NN&ucodeSPL=NN.
func VCEKURL(base, product string, chipID []byte, tcb uint64) (string, error) {
	line, err := ProductLine(product)
	if err != nil {
		return "", err
	}
	id, err := hwID(line, chipID)
	if err != nil {
		return "", err
	}
	parts, _ := DecomposeTCB(line, tcb)
	q := fmt.Sprintf("blSPL=%02d&teeSPL=%02d&snpSPL=%02d&ucodeSPL=%02d", parts.Bootloader, parts.TEE, parts.SNP, parts.Microcode)
	if line == ProductTurin {
		q = fmt.Sprintf("fmcSPL=%02d&", parts.FMC) + q
	}
	return fmt.Sprintf("%s/vcek/v1/%s/%s?%s", strings.TrimRight(base, "/"), line, hex.EncodeToString(id), q), nil
}

// CertChainURL returns the KDS URL of the product's ASK+ARK chain (PEM).
func CertChainURL(base, product string) (string, error) {
	line, err := ProductLine(product)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/vcek/v1/" + line + "/cert_chain", nil
}

// CRLURL returns the KDS URL of the product's certificate revocation list (DER).
func CRLURL(base, product string) (string, error) {
	line, err := ProductLine(product)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/vcek/v1/" + line + "/crl", nil
}

// AMD KDS certificate extension OIDs (1.3.6.1.4.1.3704.1.x).
var (
	oidStructVersion = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 1}
	oidProductName   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 2}
	oidBlSPL         = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 1}
	oidTeeSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 2}
	oidSnpSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 3}
	oidUcodeSPL      = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 8}
	oidFmcSPL        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 3, 9}
	oidHWID          = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1, 4}
)

// VCEKInfo is what the AMD extensions of a VCEK certificate say.
type VCEKInfo struct {
	// ProductName is the productName extension, e.g. "Milan-B0" (may be empty).
	ProductName string
	// HWID is the hwID extension: 64 bytes, or 8 on Turin.
	HWID []byte
	// TCB holds the SPL extensions. FMC is only set when the certificate has fmcSPL.
	TCB TCB
	// HasFMC reports whether the certificate has an fmcSPL extension.
	HasFMC bool
}

// ParseVCEKInfo reads the AMD KDS extensions of a VCEK. It handles Milan, Genoa and
// Turin certificates (fmcSPL, 8-byte hwID) and accepts the hwID both as raw bytes (as
// AMD KDS issues it) and as a DER OCTET STRING. It verifies no signature.
func ParseVCEKInfo(cert *x509.Certificate) (*VCEKInfo, error) {
	if cert == nil {
		return nil, fmt.Errorf("kds: nil certificate: %w", ErrInvalidCertificate)
	}
	var info VCEKInfo
	seen := map[string]bool{}
	required := []asn1.ObjectIdentifier{oidBlSPL, oidTeeSPL, oidSnpSPL, oidUcodeSPL, oidHWID}
	for _, ext := range cert.Extensions {
		key := ext.Id.String()
		if seen[key] && isAMDOID(ext.Id) {
			return nil, fmt.Errorf("kds: duplicate VCEK extension %s: %w", key, ErrInvalidCertificate)
		}
		seen[key] = true
		var err error
		switch {
		case ext.Id.Equal(oidProductName):
			info.ProductName, err = ia5(ext.Value)
		case ext.Id.Equal(oidBlSPL):
			info.TCB.Bootloader, err = u8(ext.Value)
		case ext.Id.Equal(oidTeeSPL):
			info.TCB.TEE, err = u8(ext.Value)
		case ext.Id.Equal(oidSnpSPL):
			info.TCB.SNP, err = u8(ext.Value)
		case ext.Id.Equal(oidUcodeSPL):
			info.TCB.Microcode, err = u8(ext.Value)
		case ext.Id.Equal(oidFmcSPL):
			info.TCB.FMC, err = u8(ext.Value)
			info.HasFMC = true
		case ext.Id.Equal(oidHWID):
			info.HWID, err = hwIDValue(ext.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("kds: VCEK extension %s: %v: %w", key, err, ErrInvalidCertificate)
		}
	}
	for _, oid := range required {
		if !seen[oid.String()] {
			return nil, fmt.Errorf("kds: VCEK lacks extension %s: %w", oid, ErrInvalidCertificate)
		}
	}
	return &info, nil
}

func isAMDOID(id asn1.ObjectIdentifier) bool {
	prefix := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 3704, 1}
	return len(id) > len(prefix) && id[:len(prefix)].Equal(prefix)
}

func u8(v []byte) (uint8, error) {
	var i int64
	rest, err := asn1.Unmarshal(v, &i)
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, fmt.Errorf("%d trailing bytes", len(rest))
	}
	if i < 0 || i > 255 {
		return 0, fmt.Errorf("value %d out of range 0-255", i)
	}
	return uint8(i), nil
}

func ia5(v []byte) (string, error) {
	var s string
	rest, err := asn1.UnmarshalWithParams(v, &s, "ia5")
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", fmt.Errorf("%d trailing bytes", len(rest))
	}
	return s, nil
}

// hwIDValue accepts the raw 64- or 8-byte value AMD KDS puts in the extension, or
// the same wrapped in a DER OCTET STRING.
func hwIDValue(v []byte) ([]byte, error) {
	if len(v) == ChipIDSize || len(v) == TurinHWIDSize {
		return bytes.Clone(v), nil
	}
	var octets []byte
	rest, err := asn1.Unmarshal(v, &octets)
	if err != nil {
		return nil, fmt.Errorf("hwID of %d bytes is neither raw nor an OCTET STRING: %v", len(v), err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("hwID: %d trailing bytes", len(rest))
	}
	if len(octets) != ChipIDSize && len(octets) != TurinHWIDSize {
		return nil, fmt.Errorf("hwID of %d bytes, want %d or %d", len(octets), ChipIDSize, TurinHWIDSize)
	}
	return octets, nil
}

// MatchVCEK parses der and checks that it is a VCEK of product for chipID at tcb: its
// productName (when present) names the product line, its hwID equals the chip id
// (its first 8 bytes on Turin) and its SPL extensions equal the parts of tcb. It does
// NOT verify the signature chain; that is the caller's Validate function's job.
// Failures wrap ErrInvalidCertificate; a *MismatchError says which field differs.
func MatchVCEK(der []byte, product string, chipID []byte, tcb uint64) (*x509.Certificate, error) {
	line, err := ProductLine(product)
	if err != nil {
		return nil, err
	}
	want, err := hwID(line, chipID)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("kds: VCEK does not parse: %v: %w", err, ErrInvalidCertificate)
	}
	info, err := ParseVCEKInfo(cert)
	if err != nil {
		return nil, err
	}
	if info.ProductName != "" {
		if got, err := ProductLine(info.ProductName); err != nil || got != line {
			return nil, &MismatchError{Field: "productName", Want: line, Got: truncate(info.ProductName, 32)}
		}
	}
	got := info.HWID
	if line == ProductTurin && len(got) == ChipIDSize && len(chipID) == ChipIDSize {
		want = chipID // a Turin VCEK carrying the full chip id
	}
	if !bytes.Equal(got, want) {
		return nil, &MismatchError{Field: "hwID", Want: hex.EncodeToString(want), Got: hex.EncodeToString(got)}
	}
	wantTCB, _ := DecomposeTCB(line, tcb)
	if line == ProductTurin && !info.HasFMC {
		return nil, &MismatchError{Field: "fmcSPL", Want: fmt.Sprint(wantTCB.FMC), Got: "absent"}
	}
	if info.TCB != wantTCB {
		return nil, &MismatchError{Field: "TCB", Want: wantTCB.String(), Got: info.TCB.String()}
	}
	return cert, nil
}

// hexKey returns a short printable form of b for file names and logs.
func hexKey(b []byte) string { return hex.EncodeToString(b) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
