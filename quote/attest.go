package quote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// TPM constants used in TPMS_ATTEST.
const (
	// AlgSHA1 is TPM_ALG_SHA1.
	AlgSHA1 uint16 = 0x0004
	// GeneratedValue is TPM_GENERATED_VALUE, the magic at the start of every TPMS_ATTEST.
	GeneratedValue uint32 = 0xff544347
	// TagAttestQuote is TPM_ST_ATTEST_QUOTE, the type of a TPM2_Quote result.
	TagAttestQuote uint16 = 0x8018
	// AlgSHA256 is TPM_ALG_SHA256.
	AlgSHA256 uint16 = 0x000B

	// MaxMessageSize bounds the TPMS_ATTEST accepted by Parse. A quote over
	// every PCR of every bank stays far below it.
	MaxMessageSize = 2048
	// MaxPCRIndex is the highest PCR index the verifier knows values for.
	MaxPCRIndex = 23
	// PCRSelectMin is PCR_SELECT_MIN, the smallest sizeofSelect a TPM
	// writes (3 bytes: 24 PCRs).
	PCRSelectMin = 3
	// PCRSelectMax is the largest sizeofSelect accepted (4 bytes: 32 PCRs,
	// PCR_SELECT_MAX on every TPM we know of).
	PCRSelectMax = 4
	// MaxBanks bounds the number of PCR selections (TPM2 HASH_COUNT is far less).
	MaxBanks = 16
	// MaxNameSize bounds qualifiedSigner (a TPM2B_NAME: algorithm + digest).
	MaxNameSize = 2 + 64
	// MaxDigestSize bounds extraData and pcrDigest (TPM2B_DATA, TPM2B_DIGEST).
	MaxDigestSize = 64
)

// Byte offsets of the two fixed fields at the start of every TPMS_ATTEST
// (big-endian); the fields after them are variable-sized, so build other
// changes through [Attest] and [Attest.Marshal].
const (
	OffsetMagic = 0 // GeneratedValue, uint32
	OffsetType  = 4 // TagAttestQuote, uint16
)

// Sentinel errors of the quote checks. Format failures are [*FormatError]
// values naming the field and wrapping one of the module's shared kinds
// (format.ErrTruncated, format.ErrTooLarge, ...); every one of them matches
// ErrFormat too.
var (
	// ErrFormat is matched by every malformed TPMS_ATTEST or PCR list
	// (it is format.ErrMalformed).
	ErrFormat = format.ErrMalformed
	// ErrSignature reports a quote signature that does not verify with the AK.
	ErrSignature = errors.New("quote signature invalid")
	// ErrNonce reports a qualifying data (extraData) that is not the expected nonce.
	ErrNonce = errors.New("quote nonce mismatch")
	// ErrPCRDigest reports PCR values whose digest differs from the signed pcrDigest.
	ErrPCRDigest = errors.New("PCR values do not match the quoted digest")
)

// FormatError says which field of a TPMS_ATTEST (or of the PCR list) is
// malformed (Format "quote"). It is the module's one format error.
type FormatError = format.Error

// fieldErr returns a *FormatError for field: kind with a detail.
func fieldErr(field string, kind error, detail string, args ...any) error {
	return format.Fieldf("quote", field, kind, detail, args...)
}

// ClockInfo is TPMS_CLOCK_INFO.
type ClockInfo struct {
	Clock        uint64
	ResetCount   uint32
	RestartCount uint32
	Safe         bool
}

// PCRSelection is one TPMS_PCR_SELECTION: a hash bank and the PCR indices
// selected in it, in ascending order.
type PCRSelection struct {
	// Hash is the bank's hash algorithm (AlgSHA256 on Azure).
	Hash uint16
	// PCRs are the selected indices in ascending order.
	PCRs []int
	// Size is sizeofSelect, the bitmap's size in bytes (PCRSelectMin to
	// PCRSelectMax): as read by Parse; for Marshal, 0 means the smallest
	// that holds PCRs.
	Size int
}

// Attest is a parsed TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE.
type Attest struct {
	// QualifiedSigner is the qualified name of the signing key.
	QualifiedSigner []byte
	// ExtraData is the qualifyingData given to TPM2_Quote: the nonce.
	ExtraData []byte
	// Clock is the TPM clock at the time of the quote.
	Clock ClockInfo
	// FirmwareVersion is the TPM vendor's firmware version.
	FirmwareVersion uint64
	// Selection is the signed PCR selection, in the order the TPM hashed it.
	Selection []PCRSelection
	// PCRDigest is the digest of the selected PCR values.
	PCRDigest []byte
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) take(field string, n int) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, fieldErr(field, format.ErrTruncated, "at offset %d: need %d bytes, have %d", r.off, n, len(r.b)-r.off)
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

func (r *reader) u8(field string) (uint8, error) {
	b, err := r.take(field, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) u16(field string) (uint16, error) {
	b, err := r.take(field, 2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *reader) u32(field string) (uint32, error) {
	b, err := r.take(field, 4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (r *reader) u64(field string) (uint64, error) {
	b, err := r.take(field, 8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

func (r *reader) tpm2b(field string, max int) ([]byte, error) {
	n, err := r.u16(field + ".size")
	if err != nil {
		return nil, err
	}
	if int(n) > max {
		return nil, fieldErr(field, format.ErrTooLarge, "size %d exceeds %d", n, max)
	}
	return r.take(field, int(n))
}

// pcrSelection reads one TPMS_PCR_SELECTION; error fields start with "pcrSelect".
func (r *reader) pcrSelection() (PCRSelection, error) {
	hash, err := r.u16("pcrSelect.hash")
	if err != nil {
		return PCRSelection{}, err
	}
	size, err := r.u8("pcrSelect.sizeofSelect")
	if err != nil {
		return PCRSelection{}, err
	}
	if size > PCRSelectMax {
		return PCRSelection{}, fieldErr("pcrSelect.sizeofSelect", format.ErrTooLarge, "%d exceeds %d", size, PCRSelectMax)
	}
	// TPM 2.0 Part 2 defines sizeofSelect as {PCR_SELECT_MIN:}.
	if size < PCRSelectMin {
		return PCRSelection{}, fieldErr("pcrSelect.sizeofSelect", format.ErrUnexpectedValue, "%d is below PCR_SELECT_MIN %d", size, PCRSelectMin)
	}
	bitmap, err := r.take("pcrSelect.pcrSelect", int(size))
	if err != nil {
		return PCRSelection{}, err
	}
	n := 0
	for _, b := range bitmap {
		n += bits.OnesCount8(b)
	}
	sel := PCRSelection{Hash: hash, PCRs: make([]int, 0, n), Size: int(size)}
	for byteIdx, b := range bitmap {
		for bit := range 8 {
			if b&(1<<bit) != 0 {
				sel.PCRs = append(sel.PCRs, byteIdx*8+bit)
			}
		}
	}
	return sel, nil
}

// Parse parses a marshalled TPMS_ATTEST produced by TPM2_Quote. It checks the
// magic, the attestation type and every size field, and rejects trailing
// bytes. The returned Attest aliases msg. [Attest.Marshal] is its inverse:
// Marshal(Parse(msg)) == msg.
func Parse(msg []byte) (*Attest, error) {
	if len(msg) > MaxMessageSize {
		return nil, fieldErr("message", format.ErrTooLarge, "%d > %d bytes", len(msg), MaxMessageSize)
	}
	r := &reader{b: msg}
	magic, err := r.u32("magic")
	if err != nil {
		return nil, err
	}
	if magic != GeneratedValue {
		return nil, fieldErr("magic", format.ErrBadMagic, "0x%08x, want 0x%08x (TPM_GENERATED_VALUE)", magic, GeneratedValue)
	}
	typ, err := r.u16("type")
	if err != nil {
		return nil, err
	}
	if typ != TagAttestQuote {
		return nil, fieldErr("type", format.ErrUnexpectedValue, "0x%04x, want 0x%04x (TPM_ST_ATTEST_QUOTE)", typ, TagAttestQuote)
	}
	a := &Attest{}
	if a.QualifiedSigner, err = r.tpm2b("qualifiedSigner", MaxNameSize); err != nil {
		return nil, err
	}
	if a.ExtraData, err = r.tpm2b("extraData", MaxDigestSize); err != nil {
		return nil, err
	}
	if err := r.clockInfo(&a.Clock); err != nil {
		return nil, err
	}
	if a.FirmwareVersion, err = r.u64("firmwareVersion"); err != nil {
		return nil, err
	}
	if a.Selection, err = r.pcrSelections(); err != nil {
		return nil, err
	}
	if a.PCRDigest, err = r.tpm2b("pcrDigest", MaxDigestSize); err != nil {
		return nil, err
	}
	if r.off != len(msg) {
		return nil, fieldErr("message", format.ErrTrailingData, "%d bytes after TPMS_ATTEST", len(msg)-r.off)
	}
	return a, nil
}

// clockInfo reads TPMS_CLOCK_INFO into c.
func (r *reader) clockInfo(c *ClockInfo) error {
	var err error
	if c.Clock, err = r.u64("clockInfo.clock"); err != nil {
		return err
	}
	if c.ResetCount, err = r.u32("clockInfo.resetCount"); err != nil {
		return err
	}
	if c.RestartCount, err = r.u32("clockInfo.restartCount"); err != nil {
		return err
	}
	safe, err := r.u8("clockInfo.safe")
	if err != nil {
		return err
	}
	if safe > 1 {
		return fieldErr("clockInfo.safe", format.ErrUnexpectedValue, "%d is not a TPMI_YES_NO", safe)
	}
	c.Safe = safe == 1
	return nil
}

// pcrSelections reads TPML_PCR_SELECTION.
func (r *reader) pcrSelections() ([]PCRSelection, error) {
	count, err := r.u32("pcrSelect.count")
	if err != nil {
		return nil, err
	}
	if count > MaxBanks {
		return nil, fieldErr("pcrSelect.count", format.ErrTooLarge, "%d banks exceeds %d", count, MaxBanks)
	}
	out := make([]PCRSelection, 0, count)
	for i := range int(count) {
		sel, err := r.pcrSelection()
		if err != nil {
			// Name the failing bank only on the error path.
			if fe, ok := err.(*FormatError); ok {
				fe.Field = fmt.Sprintf("pcrSelect[%d]%s", i, fe.Field[len("pcrSelect"):])
			}
			return nil, err
		}
		out = append(out, sel)
	}
	return out, nil
}

// Marshal returns the TPM wire form (big-endian) of a as a TPMS_ATTEST of
// type TPM_ST_ATTEST_QUOTE, the bytes a TPM signs. It refuses what Parse
// would reject (oversized fields, more than MaxBanks selections, a bitmap
// over PCRSelectMax bytes, a PCR index the bitmap cannot hold), so that
// Parse(Marshal(a)) always succeeds; for any msg Parse accepts,
// Marshal(Parse(msg)) == msg.
func (a *Attest) Marshal() ([]byte, error) {
	sized := [...]struct {
		field string
		b     []byte
		max   int
	}{{"qualifiedSigner", a.QualifiedSigner, MaxNameSize}, {"extraData", a.ExtraData, MaxDigestSize}, {"pcrDigest", a.PCRDigest, MaxDigestSize}}
	for _, f := range sized {
		if len(f.b) > f.max {
			return nil, fieldErr(f.field, format.ErrTooLarge, "size %d exceeds %d", len(f.b), f.max)
		}
	}
	if len(a.Selection) > MaxBanks {
		return nil, fieldErr("pcrSelect.count", format.ErrTooLarge, "%d banks exceeds %d", len(a.Selection), MaxBanks)
	}
	be := binary.BigEndian
	m := make([]byte, 0, 64+len(a.QualifiedSigner)+len(a.ExtraData)+len(a.PCRDigest)+len(a.Selection)*(3+PCRSelectMax))
	m = be.AppendUint32(m, GeneratedValue)
	m = be.AppendUint16(m, TagAttestQuote)
	m = appendTPM2B(m, a.QualifiedSigner)
	m = appendTPM2B(m, a.ExtraData)
	m = be.AppendUint64(m, a.Clock.Clock)
	m = be.AppendUint32(m, a.Clock.ResetCount)
	m = be.AppendUint32(m, a.Clock.RestartCount)
	safe := byte(0)
	if a.Clock.Safe {
		safe = 1
	}
	m = append(m, safe)
	m = be.AppendUint64(m, a.FirmwareVersion)
	m = be.AppendUint32(m, uint32(len(a.Selection)))
	for i, sel := range a.Selection {
		bitmap, err := sel.bitmap()
		if err != nil {
			return nil, format.Rename(err, fmt.Sprintf("pcrSelect[%d].pcrSelect", i))
		}
		m = be.AppendUint16(m, sel.Hash)
		m = append(m, byte(len(bitmap)))
		m = append(m, bitmap...)
	}
	m = appendTPM2B(m, a.PCRDigest)
	if len(m) > MaxMessageSize {
		return nil, fieldErr("message", format.ErrTooLarge, "%d > %d bytes", len(m), MaxMessageSize)
	}
	return m, nil
}

func appendTPM2B(m, b []byte) []byte {
	m = binary.BigEndian.AppendUint16(m, uint16(len(b)))
	return append(m, b...)
}

// bitmap returns the pcrSelect bitmap of s: Size bytes, or the smallest
// size (at least PCRSelectMin) that holds every index.
func (s PCRSelection) bitmap() ([]byte, error) {
	size := s.Size
	if size == 0 {
		size = PCRSelectMin
		for _, i := range s.PCRs {
			size = max(size, i/8+1)
		}
	}
	if size > PCRSelectMax {
		return nil, fieldErr("pcrSelect", format.ErrTooLarge, "sizeofSelect %d exceeds %d", size, PCRSelectMax)
	}
	if size < PCRSelectMin {
		return nil, fieldErr("pcrSelect", format.ErrUnexpectedValue, "sizeofSelect %d is below PCR_SELECT_MIN %d", size, PCRSelectMin)
	}
	b := make([]byte, size)
	for _, i := range s.PCRs {
		if i < 0 || i >= 8*size {
			return nil, fieldErr("pcrSelect", format.ErrUnexpectedValue, "PCR %d does not fit a %d-byte bitmap", i, size)
		}
		b[i/8] |= 1 << (i % 8)
	}
	return b, nil
}
