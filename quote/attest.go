package quote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// TPM constants used in TPMS_ATTEST.
const (
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
)

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrFormat reports a malformed TPMS_ATTEST or PCR list.
	ErrFormat = errors.New("malformed quote")
	// ErrSignature reports a quote signature that does not verify with the AK.
	ErrSignature = errors.New("quote signature invalid")
	// ErrNonce reports a qualifying data (extraData) that is not the expected nonce.
	ErrNonce = errors.New("quote nonce mismatch")
	// ErrPCRDigest reports PCR values whose digest differs from the signed pcrDigest.
	ErrPCRDigest = errors.New("PCR values do not match the quoted digest")
)

// FormatError says which field of a TPMS_ATTEST (or of the PCR list) is
// malformed. It wraps ErrFormat.
type FormatError struct {
	Field  string
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("quote: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrFormat.
func (e *FormatError) Unwrap() error { return ErrFormat }

func formatErr(field, format string, args ...any) error {
	return &FormatError{Field: field, Reason: fmt.Sprintf(format, args...)}
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
	Hash uint16
	PCRs []int
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
		return nil, formatErr(field, "truncated at offset %d (need %d bytes, have %d)", r.off, n, len(r.b)-r.off)
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
		return nil, formatErr(field, "size %d exceeds %d", n, max)
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
	// PCR_SELECT_MAX is 4 bytes (32 PCRs) on every TPM we know of.
	if size > 4 {
		return PCRSelection{}, formatErr("pcrSelect.sizeofSelect", "%d exceeds 4", size)
	}
	bitmap, err := r.take("pcrSelect.pcrSelect", int(size))
	if err != nil {
		return PCRSelection{}, err
	}
	n := 0
	for _, b := range bitmap {
		n += bits.OnesCount8(b)
	}
	sel := PCRSelection{Hash: hash, PCRs: make([]int, 0, n)}
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
// bytes. The returned Attest aliases msg.
func Parse(msg []byte) (*Attest, error) {
	if len(msg) > MaxMessageSize {
		return nil, formatErr("message", "%d bytes exceeds %d", len(msg), MaxMessageSize)
	}
	r := &reader{b: msg}
	magic, err := r.u32("magic")
	if err != nil {
		return nil, err
	}
	if magic != GeneratedValue {
		return nil, formatErr("magic", "0x%08x, want 0x%08x (TPM_GENERATED_VALUE)", magic, GeneratedValue)
	}
	typ, err := r.u16("type")
	if err != nil {
		return nil, err
	}
	if typ != TagAttestQuote {
		return nil, formatErr("type", "0x%04x, want 0x%04x (TPM_ST_ATTEST_QUOTE)", typ, TagAttestQuote)
	}
	a := &Attest{}
	if a.QualifiedSigner, err = r.tpm2b("qualifiedSigner", 2+64); err != nil {
		return nil, err
	}
	if a.ExtraData, err = r.tpm2b("extraData", 64); err != nil {
		return nil, err
	}
	if a.Clock.Clock, err = r.u64("clockInfo.clock"); err != nil {
		return nil, err
	}
	if a.Clock.ResetCount, err = r.u32("clockInfo.resetCount"); err != nil {
		return nil, err
	}
	if a.Clock.RestartCount, err = r.u32("clockInfo.restartCount"); err != nil {
		return nil, err
	}
	safe, err := r.u8("clockInfo.safe")
	if err != nil {
		return nil, err
	}
	if safe > 1 {
		return nil, formatErr("clockInfo.safe", "%d is not a TPMI_YES_NO", safe)
	}
	a.Clock.Safe = safe == 1
	if a.FirmwareVersion, err = r.u64("firmwareVersion"); err != nil {
		return nil, err
	}
	count, err := r.u32("pcrSelect.count")
	if err != nil {
		return nil, err
	}
	// TPM2 defines HASH_COUNT banks at most; 16 is generous.
	if count > 16 {
		return nil, formatErr("pcrSelect.count", "%d banks exceeds 16", count)
	}
	a.Selection = make([]PCRSelection, 0, count)
	for i := range int(count) {
		sel, err := r.pcrSelection()
		if err != nil {
			// Name the failing bank only on the error path.
			if fe, ok := err.(*FormatError); ok {
				fe.Field = fmt.Sprintf("pcrSelect[%d]%s", i, fe.Field[len("pcrSelect"):])
			}
			return nil, err
		}
		a.Selection = append(a.Selection, sel)
	}
	if a.PCRDigest, err = r.tpm2b("pcrDigest", 64); err != nil {
		return nil, err
	}
	if r.off != len(msg) {
		return nil, formatErr("message", "%d trailing bytes after TPMS_ATTEST", len(msg)-r.off)
	}
	return a, nil
}
