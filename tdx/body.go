package tdx

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Sizes of the TD quote body: the TDX 1.0 TD report body (the body of a
// version 4 quote, or of a version 5 quote of body type BodyTypeTD10) and
// the TDX 1.5 one (body type BodyTypeTD15): the TDX 1.0 fields, then
// TEE_TCB_SVN_2 and MR_SERVICETD.
const (
	BodySize     = 584
	BodySizeTD15 = 648
)

// Body is the TD quote body: the TD's identity as the quoting enclave
// copied it from the TDREPORT. The same fields are in the TDREPORT
// (TDReport.Body); CheckBinding compares them.
type Body struct {
	TEETCBSVN      [16]byte    // TEE_TCB_SVN: the TDX module's SVNs
	MRSEAM         [48]byte    // MRSEAM: measurement of the TDX module
	MRSignerSEAM   [48]byte    // MRSIGNERSEAM: its signer (zero for Intel's)
	SEAMAttributes [8]byte     // SEAMATTRIBUTES
	TDAttributes   [8]byte     // TDATTRIBUTES (little-endian; bit 0 DEBUG)
	XFAM           [8]byte     // XFAM: extended features the TD may use
	MRTD           [48]byte    // MRTD: the TD's initial contents; on Azure, the paravisor
	MRConfigID     [48]byte    // MRCONFIGID
	MROwner        [48]byte    // MROWNER
	MROwnerConfig  [48]byte    // MROWNERCONFIG
	RTMR           [4][48]byte // RTMR0..3 (zero on Azure: the vTPM measures the guest)
	ReportData     [64]byte    // REPORTDATA: on Azure, SHA-256(HCL runtime data) || zeros
	// TEETCBSVN2 and MRServiceTD are the TDX 1.5 fields: present in a
	// quote body of type BodyTypeTD15 only (zero otherwise), and in a TDX
	// 1.5 TDREPORT (reserved, zero, in a TDX 1.0 one).
	TEETCBSVN2  [16]byte // TEE_TCB_SVN_2: the TDX module's SVNs for TD-preserving updates
	MRServiceTD [48]byte // MR_SERVICETD (TDREPORT's SERVTD_HASH): hash of the bound service TDs' TDINFO, or zero
}

// Field is one named field of a Body, as a slice of it (Fields).
type Field struct {
	// Name is Intel's name of the field: "MRTD", "RTMR2", ...
	Name string
	// Bytes aliases the field in the Body.
	Bytes []byte
	// QuoteOffset and TDReportOffset are the field's offsets in the quote
	// body and in the TDREPORT.
	QuoteOffset, TDReportOffset int
}

// numFields is the number of fields of a Body common to TDX 1.0 and 1.5;
// numTD15Fields the number of the TDX 1.5 ones.
const (
	numFields     = 15
	numTD15Fields = 2
)

// Fields returns every TDX 1.0 field of b (those of every quote body) in
// quote-body order; the slices alias b, so writing to them changes b.
func (b *Body) Fields() []Field {
	var f [numFields]Field
	b.fields(&f)
	return f[:]
}

// TD15Fields returns the TDX 1.5 fields of b (TEE_TCB_SVN_2,
// MR_SERVICETD), which follow Fields in a body of type BodyTypeTD15; the
// slices alias b.
func (b *Body) TD15Fields() []Field {
	var f [numTD15Fields]Field
	b.td15Fields(&f)
	return f[:]
}

// td15Fields fills f with the TDX 1.5 fields of b. In the TDREPORT
// (TDX module 1.5 ABI, TDREPORT_STRUCT), TEE_TCB_SVN2 is in TEE_TCB_INFO
// (at 256) at offset 128, and SERVTD_HASH in TDINFO (at 512) at offset
// 400, right after RTMR3: fixed offsets, reserved (zero) in a TDX 1.0
// TDREPORT. The quoting enclave copies them into the TDX 1.5 quote body.
func (b *Body) td15Fields(f *[numTD15Fields]Field) {
	*f = [numTD15Fields]Field{
		{"TEE_TCB_SVN_2", b.TEETCBSVN2[:], 584, 384},
		{"MR_SERVICETD", b.MRServiceTD[:], 600, 912},
	}
}

// fields fills f with every field of b in quote-body order (Fields without
// an allocation).
func (b *Body) fields(f *[numFields]Field) {
	*f = [numFields]Field{
		{"TEE_TCB_SVN", b.TEETCBSVN[:], 0, 264},
		{"MRSEAM", b.MRSEAM[:], 16, 280},
		{"MRSIGNERSEAM", b.MRSignerSEAM[:], 64, 328},
		{"SEAMATTRIBUTES", b.SEAMAttributes[:], 112, 376},
		{"TDATTRIBUTES", b.TDAttributes[:], 120, 512},
		{"XFAM", b.XFAM[:], 128, 520},
		{"MRTD", b.MRTD[:], 136, 528},
		{"MRCONFIGID", b.MRConfigID[:], 184, 576},
		{"MROWNER", b.MROwner[:], 232, 624},
		{"MROWNERCONFIG", b.MROwnerConfig[:], 280, 672},
		{"RTMR0", b.RTMR[0][:], 328, 720},
		{"RTMR1", b.RTMR[1][:], 376, 768},
		{"RTMR2", b.RTMR[2][:], 424, 816},
		{"RTMR3", b.RTMR[3][:], 472, 864},
		{"REPORTDATA", b.ReportData[:], 520, 128},
	}
}

// Debug reports whether TDATTRIBUTES.DEBUG (bit 0) is set: the host can
// read and write the TD's memory.
func (b *Body) Debug() bool { return b.TDAttributesValue()&1 != 0 }

// CheckTDXModule checks, offline, that b names Intel's production TDX
// module (ErrTDXModule): MRSIGNERSEAM all zero (Intel's modules are
// measured, not signed by a third party) and SEAMATTRIBUTES zero. Intel's
// TCB info requires exactly this of the TDX module for every FMSPC
// (tdxModule: mrsigner zero, attributes zero under the mask
// FFFFFFFFFFFFFFFF; tdx/pcs checks it again with that collateral): a
// non-zero value is a debug module or one not from Intel, which the
// quote's signature alone does not rule out.
func (b *Body) CheckTDXModule() error {
	if !format.AllZero(b.MRSignerSEAM[:]) {
		return fmt.Errorf("%w: MRSIGNERSEAM %x is not zero (Intel's)", ErrTDXModule, b.MRSignerSEAM[:])
	}
	if !format.AllZero(b.SEAMAttributes[:]) {
		return fmt.Errorf("%w: SEAMATTRIBUTES %x are not zero (a debug or non-production TDX module)", ErrTDXModule, b.SEAMAttributes[:])
	}
	return nil
}

// TDAttributesTUD masks TDATTRIBUTES bits 7:0: the "TD under debug" (TUD)
// group of the TDX 1.0 module ABI, of which "if any bit is set, the TD is
// untrusted" (DEBUG is bit 0; Intel's TDX DCAP quoting library API, extended
// TD checks: every TUD flag must be zero). The TDX 1.5 ABI keeps bits 3:1
// for future TUD flags and gives bits 6:4 to the TD's profiling by the host
// (HGS+, PERF_PROF, PMT_PROF); bit 7 is reserved.
const TDAttributesTUD = 0xff

// UnderDebug reports whether any bit of TDATTRIBUTES 7:0 (TDAttributesTUD)
// is set: DEBUG, a future debug flag or host profiling of the TD. Such a
// TD is not to be trusted as a production TD.
func (b *Body) UnderDebug() bool { return b.TDAttributesValue()&TDAttributesTUD != 0 }

// TDAttributesValue returns TDATTRIBUTES as a number.
func (b *Body) TDAttributesValue() uint64 { return binary.LittleEndian.Uint64(b.TDAttributes[:]) }

// offset is f's offset in a quote body (quote) or in a TDREPORT.
func (f Field) offset(quote bool) int {
	if quote {
		return f.QuoteOffset
	}
	return f.TDReportOffset
}

// read fills b from data at the offsets chosen by quote (quote-body
// offsets) or the TDREPORT's; the TDX 1.5 fields too when td15.
func (b *Body) read(data []byte, quote, td15 bool) {
	var fs [numFields]Field
	b.fields(&fs)
	for _, f := range fs {
		copy(f.Bytes, data[f.offset(quote):])
	}
	if td15 {
		var f15 [numTD15Fields]Field
		b.td15Fields(&f15)
		for _, f := range f15 {
			copy(f.Bytes, data[f.offset(quote):])
		}
	}
}

// write puts b into data at the quote-body or TDREPORT offsets; the TDX
// 1.5 fields too when td15.
func (b *Body) write(data []byte, quote, td15 bool) {
	var fs [numFields]Field
	b.fields(&fs)
	for _, f := range fs {
		copy(data[f.offset(quote):], f.Bytes)
	}
	if td15 {
		var f15 [numTD15Fields]Field
		b.td15Fields(&f15)
		for _, f := range f15 {
			copy(data[f.offset(quote):], f.Bytes)
		}
	}
}

// CheckBinding checks that every field of the quote body q equals the
// TDREPORT's (compared in constant time, every field read): the quote
// vouches for this TDREPORT and for no other. A TDX 1.5 body
// (BodyTypeTD15) also binds TEE_TCB_SVN_2 and MR_SERVICETD to the
// TDREPORT's TEE_TCB_SVN2 and SERVTD_HASH; a TDX 1.0 body does not carry
// them, so they are not compared. It returns a *format.Error naming the
// first differing field, wrapping ErrBindingMismatch.
func CheckBinding(q *Quote, r *TDReport) error {
	var qf, rf [numFields + numTD15Fields]Field
	q.Body.fields((*[numFields]Field)(qf[:numFields]))
	r.Body.fields((*[numFields]Field)(rf[:numFields]))
	n := numFields
	if q.BodyType == BodyTypeTD15 {
		q.Body.td15Fields((*[numTD15Fields]Field)(qf[numFields:]))
		r.Body.td15Fields((*[numTD15Fields]Field)(rf[numFields:]))
		n += numTD15Fields
	}
	first := -1
	for i := range n {
		if subtle.ConstantTimeCompare(qf[i].Bytes, rf[i].Bytes) != 1 && first < 0 {
			first = i
		}
	}
	if first >= 0 {
		return fieldErrf(qf[first].Name, ErrBindingMismatch, "quote %x, TDREPORT %x", qf[first].Bytes, rf[first].Bytes)
	}
	return nil
}

// TDReportSize is the size of a TDREPORT (TDREPORT_STRUCT).
const TDReportSize = 1024

// Offsets of the TDREPORT fields that are not part of Body.
const (
	OffsetReportType = 0   // REPORTTYPE: type 0x81 (TDX), subtype, version, reserved
	OffsetCPUSVN     = 16  // CPUSVN
	OffsetMAC        = 224 // MAC over REPORTMACSTRUCT (checkable only on the CPU)
	tdReportTypeTDX  = 0x81
)

// TDReport is a parsed TDREPORT (TDREPORT_STRUCT, 1024 bytes). Its MAC can
// be checked only on the CPU that made it: it is trusted only through a
// verified quote whose body equals Body (CheckBinding).
type TDReport struct {
	// Type is REPORTTYPE (type 0x81, subtype, version, reserved).
	Type [4]byte
	// CPUSVN is the CPU's security version.
	CPUSVN [16]byte
	// Body holds the fields the quote body repeats.
	Body Body
	// Raw is a copy of the 1024 bytes parsed.
	Raw []byte
}

// ParseTDReport parses a TDREPORT. It checks the size and that REPORTTYPE
// names TDX (0x81).
func ParseTDReport(b []byte) (*TDReport, error) {
	if len(b) != TDReportSize {
		return nil, fieldErrf("tdreport", format.ErrBadLength, "%d bytes, want %d", len(b), TDReportSize)
	}
	if b[OffsetReportType] != tdReportTypeTDX {
		return nil, fieldErrf("tdreport.REPORTTYPE", format.ErrUnexpectedValue, "type 0x%02x, want 0x%02x (TDX)", b[0], tdReportTypeTDX)
	}
	r := &TDReport{Raw: append([]byte(nil), b...)}
	copy(r.Type[:], b[OffsetReportType:])
	copy(r.CPUSVN[:], b[OffsetCPUSVN:])
	r.Body.read(b, false, true)
	return r, nil
}

// Marshal writes r back: Raw (or, without Raw, zeros) with Type, CPUSVN
// and every Body field written over it. It is meant for tests and
// emulation; the MAC is not computed.
func (r *TDReport) Marshal() []byte {
	out := make([]byte, TDReportSize)
	copy(out, r.Raw)
	copy(out[OffsetReportType:], r.Type[:])
	copy(out[OffsetCPUSVN:], r.CPUSVN[:])
	r.Body.write(out, false, true)
	return out
}
