package tdx

import (
	"encoding/binary"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// Sizes and constants of a DCAP quote (version 4 or 5) for TDX.
const (
	// HeaderSize is the size of the quote header.
	HeaderSize = 48
	// SignedSize is the size of the signed part of a version 4 quote:
	// header and body. A version 5 quote's also has the body descriptor
	// (BodyDescriptorSize) and its body may be larger (Quote.SignedBytes).
	SignedSize = HeaderSize + BodySize // 632
	// OffsetSignedDataSize is where the signature data's size (uint32) is
	// in a version 4 quote.
	OffsetSignedDataSize = SignedSize
	// OffsetSignedData is where the signature data starts in a version 4
	// quote, and the smallest quote of any version.
	OffsetSignedData = SignedSize + 4 // 636
	// BodyDescriptorSize is the size of a version 5 quote's body
	// descriptor, between the header and the body: body type (uint16) and
	// body size (uint32).
	BodyDescriptorSize = 6
	// QEReportSize is the size of the QE report (an SGX report body).
	QEReportSize = 384
	// MaxQuoteSize bounds the quote blob (real ones are about 5 KiB).
	MaxQuoteSize = 64 << 10

	// QuoteVersion is the quote version whose body is a TDX 1.0 TD report
	// body right after the header.
	QuoteVersion = 4
	// QuoteVersion5 is the quote version with a body descriptor: body type
	// BodyTypeTD10 (TDX 1.0 body) or BodyTypeTD15 (TDX 1.5 body).
	QuoteVersion5 = 5
	// BodyTypeTD10 and BodyTypeTD15 are the accepted body types of a
	// version 5 quote: a TD report body of TDX 1.0 (BodySize bytes) or of
	// TDX 1.5 (BodySizeTD15 bytes). Type 1 (SGX enclave report) and
	// others are rejected.
	BodyTypeTD10 = 2
	BodyTypeTD15 = 3
	// AttestationKeyECDSAP256 is the only accepted attestation key type.
	AttestationKeyECDSAP256 = 2
	// TEETypeTDX is the TEE type of a TD quote.
	TEETypeTDX = 0x81
	// CertDataQEReport is the certification data type that carries the QE
	// report, its signature, the QE authentication data and the PCK data.
	CertDataQEReport = 6
	// CertDataPCKChain is the certification data type of a PEM PCK chain
	// (PCK certificate, intermediate CA, root CA).
	CertDataPCKChain = 5

	maxSignedSize   = HeaderSize + BodyDescriptorSize + BodySizeTD15
	ecdsaSize       = 64 // r || s, or x || y
	certHeaderSize  = 6  // type uint16, size uint32
	qeReportDataOff = 320
	qeISVSVNOff     = 258
)

// intelQEVendorID is the QE vendor id of Intel's quoting enclave.
var intelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Header is the quote header.
type Header struct {
	Version            uint16   // 4 or 5
	AttestationKeyType uint16   // 2: ECDSA-P256
	TEEType            uint32   // 0x81: TDX
	QESVN              uint16   // 0 on Azure: use the QE report's ISVSVN
	PCESVN             uint16   // 0 on Azure: use the PCK certificate's PCESVN
	QEVendorID         [16]byte // Intel's QE
	UserData           [20]byte // QE-defined
}

// Quote is a parsed TD quote (DCAP version 4 or 5, ECDSA-P256, QE report
// certification data carrying a PEM PCK chain). The byte slices are copies.
// Header.Version and BodyType choose the layout Marshal writes.
type Quote struct {
	Header Header
	// BodyType is the body type of a version 5 quote: BodyTypeTD10 or
	// BodyTypeTD15 (whose body carries Body.TEETCBSVN2 and
	// Body.MRServiceTD); 0 for a version 4 quote, which has no body
	// descriptor and a TDX 1.0 body.
	BodyType uint16
	Body     Body
	// Signature is the attestation key's ECDSA-P256 signature (r || s)
	// over the header, the body descriptor (version 5) and the body.
	Signature [64]byte
	// AttestationKey is the attestation key (x || y of a P-256 point).
	AttestationKey [64]byte
	// QEReport is the quoting enclave's SGX report body; its REPORTDATA
	// binds AttestationKey.
	QEReport [QEReportSize]byte
	// QEReportSignature is the PCK's signature (r || s) over QEReport.
	QEReportSignature [64]byte
	// QEAuthData is the QE authentication data.
	QEAuthData []byte
	// PCKChain is the PEM certificate chain (PCK, intermediate, root), as
	// carried (Azure's ends with a NUL byte).
	PCKChain []byte
	// Trailing is the number of zero bytes after the signed data (Azure
	// appends some); Marshal writes them back.
	Trailing int
}

// bodyOffset is where q's body starts: after the header, and after the
// body descriptor in a version 5 quote.
func (q *Quote) bodyOffset() int {
	if q.Header.Version == QuoteVersion5 {
		return HeaderSize + BodyDescriptorSize
	}
	return HeaderSize
}

// td15 reports whether q's body is a TDX 1.5 body.
func (q *Quote) td15() bool {
	return q.Header.Version == QuoteVersion5 && q.BodyType == BodyTypeTD15
}

// bodySize is the size of q's body.
func (q *Quote) bodySize() int {
	if q.td15() {
		return BodySizeTD15
	}
	return BodySize
}

// signedSize is the size of q's signed part: header, body descriptor
// (version 5) and body.
func (q *Quote) signedSize() int { return q.bodyOffset() + q.bodySize() }

// QEISVSVN returns the QE report's ISVSVN: the quoting enclave's SVN.
func (q *Quote) QEISVSVN() uint16 { return binary.LittleEndian.Uint16(q.QEReport[qeISVSVNOff:]) }

// ParseQuote parses a TD quote of version 4 or 5 (body type BodyTypeTD10
// or BodyTypeTD15, its size matching). The quote ends where its signature
// data says; bytes after it must be zeros (Azure IMDS appends them).
// Every size is checked against the data and MaxQuoteSize; errors are
// *format.Error values naming the field.
func ParseQuote(b []byte) (*Quote, error) {
	if len(b) > MaxQuoteSize {
		return nil, fieldErrf("quote", format.ErrTooLarge, "%d > %d bytes", len(b), MaxQuoteSize)
	}
	if len(b) < OffsetSignedData {
		return nil, fieldErrf("quote", format.ErrTruncated, "%d < %d bytes", len(b), OffsetSignedData)
	}
	q := &Quote{}
	if err := q.readHeader(b); err != nil {
		return nil, err
	}
	if err := q.readBodyDescriptor(b); err != nil {
		return nil, err
	}
	off := q.signedSize()
	if len(b) < off+4 {
		return nil, fieldErrf("quote", format.ErrTruncated, "%d < %d bytes", len(b), off+4)
	}
	q.Body.read(b[q.bodyOffset():off], true, q.td15())
	n := uint64(binary.LittleEndian.Uint32(b[off:]))
	end := uint64(off+4) + n
	if end > uint64(len(b)) {
		return nil, fieldErrf("signed_data_size", format.ErrExceedsBlob, "%d > %d bytes", n, len(b)-off-4)
	}
	if !format.AllZero(b[end:]) {
		return nil, fieldErrf("trailing", format.ErrTrailingData, "%d bytes after the signed data, not all zero", uint64(len(b))-end)
	}
	q.Trailing = len(b) - int(end)
	if err := q.readSignedData(b[off+4 : end]); err != nil {
		return nil, err
	}
	return q, nil
}

// readBodyDescriptor reads the body type and size of a version 5 quote b
// (at least OffsetSignedData bytes): the type must be BodyTypeTD10 or
// BodyTypeTD15 and the size that type's.
func (q *Quote) readBodyDescriptor(b []byte) error {
	if q.Header.Version != QuoteVersion5 {
		return nil
	}
	le := binary.LittleEndian
	q.BodyType = le.Uint16(b[HeaderSize:])
	size := le.Uint32(b[HeaderSize+2:])
	var want uint32
	switch q.BodyType {
	case BodyTypeTD10:
		want = BodySize
	case BodyTypeTD15:
		want = BodySizeTD15
	default:
		return fieldErrf("body_type", format.ErrUnexpectedValue, "%d, want %d (TDX 1.0) or %d (TDX 1.5)", q.BodyType, BodyTypeTD10, BodyTypeTD15)
	}
	if size != want {
		return fieldErrf("body_size", format.ErrSizeMismatch, "%d, want %d for body type %d", size, want, q.BodyType)
	}
	return nil
}

func (q *Quote) readHeader(b []byte) error {
	le := binary.LittleEndian
	h := &q.Header
	h.Version = le.Uint16(b[0:])
	h.AttestationKeyType = le.Uint16(b[2:])
	h.TEEType = le.Uint32(b[4:])
	h.QESVN = le.Uint16(b[8:])
	h.PCESVN = le.Uint16(b[10:])
	copy(h.QEVendorID[:], b[12:28])
	copy(h.UserData[:], b[28:48])
	switch {
	case h.Version != QuoteVersion && h.Version != QuoteVersion5:
		return fieldErrf("version", format.ErrUnsupportedVersion, "%d, want %d or %d", h.Version, QuoteVersion, QuoteVersion5)
	case h.AttestationKeyType != AttestationKeyECDSAP256:
		return fieldErrf("attestation_key_type", format.ErrUnexpectedValue, "%d, want %d (ECDSA-P256)", h.AttestationKeyType, AttestationKeyECDSAP256)
	case h.TEEType != TEETypeTDX:
		return fieldErrf("tee_type", format.ErrUnexpectedValue, "0x%x, want 0x%x (TDX)", h.TEEType, TEETypeTDX)
	case h.QEVendorID != intelQEVendorID:
		return fieldErrf("qe_vendor_id", format.ErrUnexpectedValue, "%x, want Intel's %x", h.QEVendorID[:], intelQEVendorID[:])
	}
	return nil
}

// certData reads a certification data header at b: its type and its data,
// which must end exactly at the end of b.
func certData(b []byte, field string, wantType uint16) ([]byte, error) {
	if len(b) < certHeaderSize {
		return nil, fieldErrf(field, format.ErrTruncated, "%d < %d bytes", len(b), certHeaderSize)
	}
	le := binary.LittleEndian
	if t := le.Uint16(b); t != wantType {
		return nil, fieldErrf(field+".type", format.ErrUnexpectedValue, "%d, want %d", t, wantType)
	}
	n := uint64(le.Uint32(b[2:]))
	if n != uint64(len(b)-certHeaderSize) {
		return nil, fieldErrf(field+".size", format.ErrSizeMismatch, "%d, want the %d bytes that follow", n, len(b)-certHeaderSize)
	}
	if n == 0 {
		return nil, fieldErr(field, format.ErrEmpty)
	}
	return b[certHeaderSize:], nil
}

// readSignedData reads the ECDSA signature data: signature, attestation
// key, then certification data of type 6 (QE report, its signature, QE
// auth data, then certification data of type 5: the PCK chain).
func (q *Quote) readSignedData(sd []byte) error {
	if len(sd) < 2*ecdsaSize {
		return fieldErrf("signed_data", format.ErrTruncated, "%d < %d bytes", len(sd), 2*ecdsaSize)
	}
	copy(q.Signature[:], sd)
	copy(q.AttestationKey[:], sd[ecdsaSize:])
	qe, err := certData(sd[2*ecdsaSize:], "certification_data", CertDataQEReport)
	if err != nil {
		return err
	}
	if len(qe) < QEReportSize+ecdsaSize+2 {
		return fieldErrf("qe_report_certification_data", format.ErrTruncated, "%d < %d bytes", len(qe), QEReportSize+ecdsaSize+2)
	}
	copy(q.QEReport[:], qe)
	copy(q.QEReportSignature[:], qe[QEReportSize:])
	rest := qe[QEReportSize+ecdsaSize:]
	n := int(binary.LittleEndian.Uint16(rest))
	rest = rest[2:]
	if n > len(rest) {
		return fieldErrf("qe_auth_data.size", format.ErrExceedsBlob, "%d > %d bytes", n, len(rest))
	}
	q.QEAuthData = append([]byte(nil), rest[:n]...)
	pck, err := certData(rest[n:], "pck_certification_data", CertDataPCKChain)
	if err != nil {
		return err
	}
	q.PCKChain = append([]byte(nil), pck...)
	return nil
}

// Marshal returns the quote's bytes, the inverse of ParseQuote: for every
// blob ParseQuote accepts, ParseQuote(b).Marshal() == b. The layout
// follows Header.Version and BodyType (a version 5 quote gets the body
// descriptor of BodyType, with that type's size); sizes are computed from
// the fields; nothing is signed (see SignedBytes).
func (q *Quote) Marshal() []byte {
	sdSize := 2*ecdsaSize + certHeaderSize + QEReportSize + ecdsaSize + 2 + len(q.QEAuthData) + certHeaderSize + len(q.PCKChain)
	off := q.signedSize()
	out := make([]byte, off+4+sdSize+q.Trailing)
	q.putSigned(out)
	le := binary.LittleEndian
	le.PutUint32(out[off:], uint32(sdSize))
	p := out[off+4:]
	p = p[copy(p, q.Signature[:]):]
	p = p[copy(p, q.AttestationKey[:]):]
	le.PutUint16(p, CertDataQEReport)
	le.PutUint32(p[2:], uint32(sdSize-2*ecdsaSize-certHeaderSize))
	p = p[certHeaderSize:]
	p = p[copy(p, q.QEReport[:]):]
	p = p[copy(p, q.QEReportSignature[:]):]
	le.PutUint16(p, uint16(len(q.QEAuthData)))
	p = p[2+copy(p[2:], q.QEAuthData):]
	le.PutUint16(p, CertDataPCKChain)
	le.PutUint32(p[2:], uint32(len(q.PCKChain)))
	copy(p[certHeaderSize:], q.PCKChain)
	return out
}

// SignedBytes returns the header, the body descriptor (version 5) and the
// body as the attestation key signs them (SignedSize bytes for version 4;
// 638 or 702 for version 5 with a TDX 1.0 or 1.5 body).
func (q *Quote) SignedBytes() []byte {
	out := make([]byte, q.signedSize())
	q.putSigned(out)
	return out
}

// putSigned writes q's signed part to out (at least signedSize bytes).
func (q *Quote) putSigned(out []byte) {
	le := binary.LittleEndian
	h := &q.Header
	le.PutUint16(out[0:], h.Version)
	le.PutUint16(out[2:], h.AttestationKeyType)
	le.PutUint32(out[4:], h.TEEType)
	le.PutUint16(out[8:], h.QESVN)
	le.PutUint16(out[10:], h.PCESVN)
	copy(out[12:], h.QEVendorID[:])
	copy(out[28:], h.UserData[:])
	if h.Version == QuoteVersion5 {
		le.PutUint16(out[HeaderSize:], q.BodyType)
		le.PutUint32(out[HeaderSize+2:], uint32(q.bodySize()))
	}
	q.Body.write(out[q.bodyOffset():], true, q.td15())
}
