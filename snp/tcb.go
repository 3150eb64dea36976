package snp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Product is an AMD EPYC product line, as named by AMD's key distribution
// service: "Milan", "Genoa" or "Turin".
type Product string

// Product lines.
const (
	Milan Product = "Milan"
	Genoa Product = "Genoa"
	Turin Product = "Turin"
)

// Sentinel errors of product lines.
var (
	// ErrProductName reports a product name that is not a known product
	// line with an optional stepping suffix (see ParseProduct). It comes
	// with ErrProduct, and from ParseVCEK with ErrVCEKFormat.
	ErrProductName = errors.New("invalid product name")
	// ErrProduct reports an unknown or inconsistent product line.
	ErrProduct = errors.New("unknown or inconsistent product line")
)

// Products returns the known product lines, oldest first, in a new slice
// (a caller may change it).
func Products() []Product { return []Product{Milan, Genoa, Turin} }

// ParseProduct maps a product line or a VCEK productName to a Product. It is
// the one place where a product name becomes a product line: VCEK parsing,
// policy files and the KDS client all use it.
//
// Accepted are exactly a product line ("Milan", "Genoa", "Turin") or a
// product line followed by an AMD stepping suffix: "-", one upper-case
// letter and one digit ("Milan-B0", "Genoa-B1", "Turin-C1"). Real VCEKs
// carry "Milan-B0" and "Genoa" (testdata/); go-sev-guest's fake ones
// "Milan-B0", "Genoa-B1", "Turin-B0". Case matters. Anything else, such as
// "Milan-ZZZ-evil", "Milan-", "MilanX", "milan-B0" or " Milan", is rejected
// with an error that matches ErrProduct and ErrProductName.
func ParseProduct(s string) (Product, error) {
	line, stepping, hasStepping := strings.Cut(s, "-")
	known := false
	switch Product(line) {
	case Milan, Genoa, Turin:
		known = true
	}
	if !known || (hasStepping && !validStepping(stepping)) {
		return "", fmt.Errorf("%w: %w: %q is not Milan, Genoa or Turin with an optional stepping suffix such as -B0", ErrProduct, ErrProductName, format.Truncate(s, 64))
	}
	return Product(line), nil
}

// validStepping reports whether s is an AMD stepping: one upper-case letter
// then one digit ("B0", "C1").
func validStepping(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= '0' && s[1] <= '9'
}

// TCB is a TCB_VERSION as found in the report. Its byte layout depends on
// the product line (see Parts).
type TCB uint64

// TCBParts are the security patch levels of a TCB_VERSION.
type TCBParts struct {
	FMC        uint8 `json:"fmc,omitempty"` // Turin only
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
}

// String returns the parts as "bl=B tee=T snp=S ucode=U fmc=F".
func (p TCBParts) String() string {
	return fmt.Sprintf("bl=%d tee=%d snp=%d ucode=%d fmc=%d", p.Bootloader, p.TEE, p.SNP, p.Microcode, p.FMC)
}

// Parts decodes t with the layout of product p: Milan and Genoa keep the
// bootloader in byte 0, TEE in byte 1, SNP in byte 6 and microcode in byte 7;
// Turin keeps FMC in byte 0, bootloader in 1, TEE in 2, SNP in 3 and
// microcode in byte 7.
func (t TCB) Parts(p Product) TCBParts {
	b := func(i uint) uint8 { return uint8(uint64(t) >> (8 * i)) }
	if p == Turin {
		return TCBParts{FMC: b(0), Bootloader: b(1), TEE: b(2), SNP: b(3), Microcode: b(7)}
	}
	return TCBParts{Bootloader: b(0), TEE: b(1), SNP: b(6), Microcode: b(7)}
}

// ComposeTCB encodes parts with the layout of product p (the inverse of Parts).
func ComposeTCB(p Product, parts TCBParts) TCB {
	put := func(v uint8, i uint) uint64 { return uint64(v) << (8 * i) }
	if p == Turin {
		return TCB(put(parts.FMC, 0) | put(parts.Bootloader, 1) | put(parts.TEE, 2) | put(parts.SNP, 3) | put(parts.Microcode, 7))
	}
	return TCB(put(parts.Bootloader, 0) | put(parts.TEE, 1) | put(parts.SNP, 6) | put(parts.Microcode, 7))
}

// ErrTCBReserved reports a TCB_VERSION of a report with a reserved byte
// set in its product line's layout (see CheckTCBs). It comes with
// ErrReportFormat.
var ErrTCBReserved = errors.New("TCB_VERSION has reserved bytes set")

// Canonical reports whether t has its product line's reserved bytes zero
// (bytes 2 to 5 on Milan and Genoa, 4 to 6 on Turin), so that Parts
// loses nothing: ComposeTCB(p, t.Parts(p)) == t.
func (t TCB) Canonical(p Product) bool { return ComposeTCB(p, t.Parts(p)) == t }

// CheckTCBs checks that every TCB_VERSION of r (CURRENT, REPORTED,
// COMMITTED and LAUNCH; the last two are zero before version 2) has the
// reserved bytes of product line p zero, as AMD's firmware writes them.
// The product line is known only once the certificate is (version 1 and 2
// reports carry no CPUID), so ParseReport cannot check this. Errors match
// ErrTCBReserved and ErrReportFormat.
func (r *Report) CheckTCBs(p Product) error {
	for _, f := range []struct {
		name string
		tcb  TCB
	}{{"CURRENT_TCB", r.CurrentTCB}, {"REPORTED_TCB", r.ReportedTCB}, {"COMMITTED_TCB", r.CommittedTCB}, {"LAUNCH_TCB", r.LaunchTCB}} {
		if !f.tcb.Canonical(p) {
			return fmt.Errorf("%w: %w: %s 0x%016x has reserved bytes set in the %s layout", ErrReportFormat, ErrTCBReserved, f.name, uint64(f.tcb), p)
		}
	}
	return nil
}

// AtLeast reports whether every component of p is at least the matching
// component of min.
func (p TCBParts) AtLeast(min TCBParts) bool {
	return p.FMC >= min.FMC && p.Bootloader >= min.Bootloader && p.TEE >= min.TEE &&
		p.SNP >= min.SNP && p.Microcode >= min.Microcode
}
