package eventlog

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // SHA-1 is a PCR bank of the log format, not a security choice
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/google/go-eventlog/tcg"
)

// Algorithm ids of the TPM (TPM_ALG_ID) that the builder writes.
const (
	algSHA1   uint16 = 0x0004
	algSHA256 uint16 = 0x000B
)

// Limits of the builder: a log it builds always parses (MaxSize).
const (
	// MaxPCR is the highest PCR index the builder measures into (a TPM
	// has 24).
	MaxPCR = 23
	// maxVendorInfo is the Spec ID event's vendorInfoSize (a UINT8).
	maxVendorInfo = 255
)

// ErrBuild is matched (errors.Is) by every error of Builder: the event
// cannot be written (PCR out of range, the log would exceed MaxSize).
var ErrBuild = errors.New("eventlog: cannot build the event")

// Extend is one measurement a Builder wrote: what the TPM must extend so
// that its PCRs replay with the log.
type Extend struct {
	PCR    int
	SHA1   [sha1.Size]byte
	SHA256 [sha256.Size]byte
}

// Builder writes a TCG PC Client crypto-agile event log (the TCG_PCR_EVENT
// header carrying the Spec ID event for SHA-1 and SHA-256, then
// TCG_PCR_EVENT2 events with both digests), as UEFI firmware does, and
// keeps the measurements to extend into a TPM. Its zero value is not
// usable: call NewBuilder. Replay parses what it builds.
type Builder struct {
	buf     bytes.Buffer
	extends []Extend
	err     error
}

// NewBuilder starts a log whose Spec ID event carries vendorInfo (at most
// 255 bytes; longer is cut).
func NewBuilder(vendorInfo []byte) *Builder {
	if len(vendorInfo) > maxVendorInfo {
		vendorInfo = vendorInfo[:maxVendorInfo]
	}
	var spec bytes.Buffer
	spec.WriteString("Spec ID Event03\x00")
	le32(&spec, 0)                 // platformClass: client
	spec.Write([]byte{0, 2, 0, 2}) // specVersionMinor 0, Major 2, errata 0, uintnSize 2 (UINT64)
	le32(&spec, 2)                 // numberOfAlgorithms
	le16(&spec, algSHA1)           // SHA-1, 20 bytes
	le16(&spec, sha1.Size)
	le16(&spec, algSHA256) // SHA-256, 32 bytes
	le16(&spec, sha256.Size)
	spec.WriteByte(byte(len(vendorInfo)))
	spec.Write(vendorInfo)

	b := &Builder{}
	// TCG_PCR_EVENT: PCR 0, EV_NO_ACTION, a zero SHA-1 digest.
	le32(&b.buf, 0)
	le32(&b.buf, uint32(tcg.NoAction))
	b.buf.Write(make([]byte, sha1.Size))
	le32(&b.buf, uint32(spec.Len()))
	b.buf.Write(spec.Bytes())
	return b
}

// Measure writes an event of type typ on pcr whose digests are those of
// data itself (separators, S-CRTM versions, EFI variables, actions).
func (b *Builder) Measure(pcr int, typ tcg.EventType, data []byte) {
	b.MeasureDigest(pcr, typ, data, data)
}

// MeasureDigest writes an event of type typ on pcr carrying data, whose
// digests are those of measured (an EFI application's image, a GRUB
// command without its prefix). For typ EV_NO_ACTION nothing is extended
// and the digests are zero, as the specification requires.
func (b *Builder) MeasureDigest(pcr int, typ tcg.EventType, data, measured []byte) {
	if b.err != nil {
		return
	}
	if pcr < 0 || pcr > MaxPCR {
		b.err = fmt.Errorf("%w: PCR %d, want 0..%d", ErrBuild, pcr, MaxPCR)
		return
	}
	// 8-byte header, digest count, two (id, digest), data size, data.
	if b.buf.Len()+12+2+sha1.Size+2+sha256.Size+4+len(data) > MaxSize {
		b.err = fmt.Errorf("%w: the log would exceed %d bytes", ErrBuild, MaxSize)
		return
	}
	e := Extend{PCR: pcr}
	if typ != tcg.NoAction {
		e.SHA1 = sha1.Sum(measured) //nolint:gosec // the SHA-1 bank
		e.SHA256 = sha256.Sum256(measured)
		b.extends = append(b.extends, e)
	}
	le32(&b.buf, uint32(pcr))
	le32(&b.buf, uint32(typ))
	le32(&b.buf, 2)
	le16(&b.buf, algSHA1)
	b.buf.Write(e.SHA1[:])
	le16(&b.buf, algSHA256)
	b.buf.Write(e.SHA256[:])
	le32(&b.buf, uint32(len(data)))
	b.buf.Write(data)
}

// Log returns the log written so far, and the measurements to extend into
// a TPM (in order), or the first error of a Measure call.
func (b *Builder) Log() ([]byte, []Extend, error) {
	if b.err != nil {
		return nil, nil, b.err
	}
	return bytes.Clone(b.buf.Bytes()), append([]Extend(nil), b.extends...), nil
}

// PCRs returns the SHA-256 values the given measurements extend the PCRs
// to, from zero (the values a TPM reset to zero holds after extending
// them).
func PCRs(extends []Extend) map[int][]byte {
	out := map[int][]byte{}
	for _, e := range extends {
		v, ok := out[e.PCR]
		if !ok {
			v = make([]byte, sha256.Size)
		}
		h := sha256.New()
		h.Write(v)
		h.Write(e.SHA256[:])
		out[e.PCR] = h.Sum(nil)
	}
	return out
}

// EFIGUID is a UEFI GUID in its textual form's field order.
type EFIGUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// GUIDs of the UEFI variables and signature lists (UEFI specification).
var (
	// GlobalVariable is EFI_GLOBAL_VARIABLE (SecureBoot, PK, KEK).
	GlobalVariable = EFIGUID{0x8BE4DF61, 0x93CA, 0x11D2, [8]byte{0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C}}
	// ImageSecurityDatabase is EFI_IMAGE_SECURITY_DATABASE_GUID (db, dbx).
	ImageSecurityDatabase = EFIGUID{0xD719B2CB, 0x3D3A, 0x4596, [8]byte{0xA3, 0xBC, 0xDA, 0xD0, 0x0E, 0x67, 0x65, 0x6F}}
	// CertX509 is EFI_CERT_X509_GUID (a signature list of certificates).
	CertX509 = EFIGUID{0xA5C059A1, 0x94E4, 0x4AA7, [8]byte{0x87, 0xB5, 0xAB, 0x15, 0x5C, 0x2B, 0xF0, 0x72}}
	// CertSHA256 is EFI_CERT_SHA256_GUID (a signature list of image
	// digests).
	CertSHA256 = EFIGUID{0xC1C41626, 0x504C, 0x4092, [8]byte{0xAC, 0xA9, 0x41, 0xF9, 0x36, 0x93, 0x43, 0x28}}
)

// put writes g in its little-endian wire form.
func (g EFIGUID) put(buf *bytes.Buffer) {
	le32(buf, g.Data1)
	le16(buf, g.Data2)
	le16(buf, g.Data3)
	buf.Write(g.Data4[:])
}

// VariableData encodes a UEFI_VARIABLE_DATA structure: the variable's
// vendor GUID, its name (UTF-16) and its value.
func VariableData(vendor EFIGUID, name string, value []byte) []byte {
	var buf bytes.Buffer
	vendor.put(&buf)
	u := utf16.Encode([]rune(name))
	le64(&buf, uint64(len(u)))
	le64(&buf, uint64(len(value)))
	for _, c := range u {
		le16(&buf, c)
	}
	buf.Write(value)
	return buf.Bytes()
}

// SignatureList encodes an EFI_SIGNATURE_LIST of typ (CertX509: each entry
// a DER certificate; CertSHA256: each a 32-byte digest), every entry owned
// by owner. Entries of a list share one size: a certificate list holds
// one certificate, so give each certificate its own list.
func SignatureList(typ, owner EFIGUID, entries ...[]byte) []byte {
	if len(entries) == 0 {
		return nil
	}
	size := 16 + len(entries[0])
	var buf bytes.Buffer
	typ.put(&buf)
	le32(&buf, uint32(28+size*len(entries)))
	le32(&buf, 0) // SignatureHeaderSize
	le32(&buf, uint32(size))
	for _, e := range entries {
		owner.put(&buf)
		buf.Write(e)
	}
	return buf.Bytes()
}

// SignatureData encodes one EFI_SIGNATURE_DATA: the owner's GUID, then
// the signature (a DER certificate in EV_EFI_VARIABLE_AUTHORITY events).
func SignatureData(owner EFIGUID, signature []byte) []byte {
	var buf bytes.Buffer
	owner.put(&buf)
	buf.Write(signature)
	return buf.Bytes()
}

// UTF16 encodes s as NUL-terminated UTF-16LE (S-CRTM version strings).
func UTF16(s string) []byte {
	var buf bytes.Buffer
	for _, c := range utf16.Encode([]rune(s)) {
		le16(&buf, c)
	}
	le16(&buf, 0)
	return buf.Bytes()
}

func le16(b *bytes.Buffer, v uint16) { b.Write(binary.LittleEndian.AppendUint16(nil, v)) }
func le32(b *bytes.Buffer, v uint32) { b.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func le64(b *bytes.Buffer, v uint64) { b.Write(binary.LittleEndian.AppendUint64(nil, v)) }
