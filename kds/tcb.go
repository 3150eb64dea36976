package kds

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/snp"
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
// product line or VCEK product name such as "Genoa-B1", or ErrUnsupportedProduct. It
// is snp.ParseProduct: exact, case-sensitive, with an optional stepping suffix
// ("-" letter digit) only.
func ProductLine(product string) (string, error) {
	p, err := snp.ParseProduct(product)
	if err != nil {
		return "", fmt.Errorf("kds: product %q: %w", format.Truncate(product, 32), ErrUnsupportedProduct)
	}
	return string(p), nil
}

// TCB holds the security patch levels of a TCB_VERSION that take part in a VCEK
// (the same type as snp.TCBParts).
type TCB = snp.TCBParts

// DecomposeTCB splits a 64-bit TCB_VERSION (as in an SNP report, little-endian bytes
// read as a uint64) into its parts following the product's layout (see snp.TCB.Parts):
// Milan and Genoa byte0 bootloader, byte1 TEE, byte6 SNP, byte7 microcode;
// Turin byte0 FMC, byte1 bootloader, byte2 TEE, byte3 SNP, byte7 microcode.
func DecomposeTCB(product string, tcb uint64) (TCB, error) {
	line, err := ProductLine(product)
	if err != nil {
		return TCB{}, err
	}
	return snp.TCB(tcb).Parts(snp.Product(line)), nil
}

// HWID returns the hardware id KDS expects for chipID on the product line
// line: the whole 64-byte CHIP_ID, or its first 8 bytes on Turin (an 8-byte
// value is accepted for Turin), whose other 56 bytes must be zero. A zero
// id (a report with MASK_CHIP_KEY set, or on Turin a chip id whose first 8
// bytes are zero) names no chip and is never fetched.
func HWID(line string, chipID []byte) ([]byte, error) {
	var id []byte
	switch {
	case line == ProductTurin && len(chipID) == TurinHWIDSize:
		id = chipID
	case line == ProductTurin && len(chipID) == ChipIDSize:
		// Turin's CHIP_ID is its hardware id followed by zeros: anything
		// else there is no Turin chip id, and KDS is not asked for it.
		if !format.AllZero(chipID[TurinHWIDSize:]) {
			return nil, fmt.Errorf("kds: Turin chip id has non-zero bytes after its %d-byte hardware id: %w", TurinHWIDSize, ErrInvalidRequest)
		}
		id = chipID[:TurinHWIDSize]
	case len(chipID) == ChipIDSize:
		id = chipID
	default:
		return nil, fmt.Errorf("kds: chip id of %d bytes for %s, want %d: %w", len(chipID), line, ChipIDSize, ErrInvalidRequest)
	}
	// The id KDS would be asked for, not the whole chip id: on Turin, a
	// zero HWID followed by other bytes names no chip either.
	if bytes.Count(id, []byte{0}) == len(id) {
		return nil, fmt.Errorf("kds: chip id is zero (masked): %w", ErrInvalidRequest)
	}
	return id, nil
}

// VCEKURL returns the KDS URL of the VCEK of chipID at tcb under base (e.g.
// DefaultBaseURL): {base}/vcek/v1/{product}/{hex hwID}?[fmcSPL=NN&]blSPL=NN&teeSPL=NN&snpSPL=NN&ucodeSPL=NN.
func VCEKURL(base, product string, chipID []byte, tcb uint64) (string, error) {
	line, err := ProductLine(product)
	if err != nil {
		return "", err
	}
	id, err := HWID(line, chipID)
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
	return productURL(base, product, "/vcek/v1/", "/cert_chain")
}

// CRLURL returns the KDS URL of the product's VCEK certificate revocation
// list (DER): /vcek/v1/{product}/crl, issued by the ARK, listing ASKs (the
// CRL distribution point of AMD's ASKs).
func CRLURL(base, product string) (string, error) {
	return productURL(base, product, "/vcek/v1/", "/crl")
}

// VLEKCRLURL returns the KDS URL of the product's VLEK certificate
// revocation list (DER): /vlek/v1/{product}/crl, issued by the ARK,
// listing ASVKs (the CRL distribution point of AMD's ASVKs).
func VLEKCRLURL(base, product string) (string, error) {
	return productURL(base, product, "/vlek/v1/", "/crl")
}

// productURL returns base + prefix + the product line + suffix.
func productURL(base, product, prefix, suffix string) (string, error) {
	line, err := ProductLine(product)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + prefix + line + suffix, nil
}

// VCEKInfo is what the AMD extensions of a VCEK certificate say.
type VCEKInfo struct {
	// ProductName is the productName extension, e.g. "Milan-B0".
	ProductName string
	// HWID is the hwID extension: 64 bytes, or 8 on Turin.
	HWID []byte
	// TCB holds the SPL extensions (FMC on Turin only).
	TCB TCB
	// HasFMC reports whether the certificate has an fmcSPL extension (every
	// Turin VCEK has one; other product lines have none).
	HasFMC bool
}

// ParseVCEKInfo reads the AMD KDS extensions of a VCEK with snp.ParseVCEK (Milan,
// Genoa and Turin: fmcSPL, 8-byte hwID; the hwID raw as AMD issues it or as a DER
// OCTET STRING). It verifies no signature. Failures wrap ErrInvalidCertificate.
func ParseVCEKInfo(cert *x509.Certificate) (*VCEKInfo, error) {
	if cert == nil {
		return nil, fmt.Errorf("kds: nil certificate: %w", ErrInvalidCertificate)
	}
	v, err := snp.ParseVCEK(cert.Raw)
	if err != nil {
		return nil, fmt.Errorf("kds: %v: %w", err, ErrInvalidCertificate)
	}
	return &VCEKInfo{ProductName: v.ProductName, HWID: v.HWID, TCB: v.TCB, HasFMC: v.Product == snp.Turin}, nil
}

// MatchVCEK parses der and checks that it is a VCEK of product for chipID at tcb: its
// productName (required, as snp.ParseVCEK requires it) names the product line, its hwID equals the chip id
// (its first 8 bytes on Turin) and its SPL extensions equal the parts of tcb. It does
// NOT verify the signature chain; that is the caller's Validate function's job.
// Failures wrap ErrInvalidCertificate; a *MismatchError says which field differs.
func MatchVCEK(der []byte, product string, chipID []byte, tcb uint64) (*x509.Certificate, error) {
	line, err := ProductLine(product)
	if err != nil {
		return nil, err
	}
	want, err := HWID(line, chipID)
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
	if got, err := ProductLine(info.ProductName); err != nil || got != line {
		return nil, &MismatchError{Field: "productName", Want: line, Got: format.Truncate(info.ProductName, 32)}
	}
	got := info.HWID
	if !bytes.Equal(got, want) {
		return nil, &MismatchError{Field: "hwID", Want: hex.EncodeToString(want), Got: hex.EncodeToString(got)}
	}
	wantTCB, _ := DecomposeTCB(line, tcb)
	if info.TCB != wantTCB {
		return nil, &MismatchError{Field: "TCB", Want: wantTCB.String(), Got: info.TCB.String()}
	}
	return cert, nil
}
