package evidence

import (
	"encoding/binary"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// DecodeBincodeQuote decodes a TPM quote serialised with bincode 1 by the
// Rust az-cvm-vtpm / az-snp-vtpm tooling (the quote.bin test files):
//
//	signature: u64 LE length + bytes
//	message:   u64 LE length + bytes (TPMS_ATTEST)
//	pcrs:      u64 LE count, then either count fixed 32-byte items
//	           (Vec<[u8; 32]>) or, in older files, count items each
//	           prefixed by its u64 LE length (Vec<Vec<u8>>, length 32)
//
// The layout of pcrs is recognised from the bytes that remain. Every length
// is bounded before use (see the Max constants); trailing bytes are
// rejected. Errors are [*FormatError].
func DecodeBincodeQuote(b []byte) (*quote.Quote, error) {
	if len(b) > MaxEvidenceSize {
		return nil, fieldErr("quote", fmt.Errorf("%w (%d > %d bytes)", format.ErrTooLarge, len(b), MaxEvidenceSize))
	}
	r := &bincodeReader{b: b}
	q := new(quote.Quote)
	var err error
	if q.Signature, err = r.vec("signature", MaxSignatureSize); err != nil {
		return nil, err
	}
	if q.Message, err = r.vec("message", MaxMessageSize); err != nil {
		return nil, err
	}
	count, err := r.length("pcrs", MaxPCRs)
	if err != nil {
		return nil, err
	}
	rest := len(r.b)
	buf := make([]byte, count*PCRSize)
	q.PCRs = make([][]byte, count)
	switch rest {
	case count * PCRSize: // Vec<[u8; 32]>
		for i := range q.PCRs {
			q.PCRs[i] = buf[i*PCRSize : (i+1)*PCRSize : (i+1)*PCRSize]
			copy(q.PCRs[i], r.b[i*PCRSize:])
		}
		return q, nil
	case count * (8 + PCRSize): // Vec<Vec<u8>>
		for i := range q.PCRs {
			field := fmt.Sprintf("pcrs[%d]", i)
			n := binary.LittleEndian.Uint64(r.b)
			if n != PCRSize {
				return nil, fieldErr(field, fmt.Errorf("%w (%d bytes, want %d)", format.ErrBadLength, n, PCRSize))
			}
			q.PCRs[i] = buf[i*PCRSize : (i+1)*PCRSize : (i+1)*PCRSize]
			copy(q.PCRs[i], r.b[8:8+PCRSize])
			r.b = r.b[8+PCRSize:]
		}
		return q, nil
	}
	if rest < count*PCRSize {
		return nil, fieldErr("pcrs", fmt.Errorf("%w (%d bytes left for %d PCRs)", format.ErrTruncated, rest, count))
	}
	return nil, fieldErr("pcrs", fmt.Errorf("%w: %d bytes for %d PCRs, want %d or %d", format.ErrTrailingData, rest, count, count*PCRSize, count*(8+PCRSize)))
}

type bincodeReader struct{ b []byte }

// length reads a u64 LE length or count and checks it against max.
func (r *bincodeReader) length(field string, max int) (int, error) {
	if len(r.b) < 8 {
		return 0, fieldErr(field, fmt.Errorf("%w: length prefix (%d bytes left)", format.ErrTruncated, len(r.b)))
	}
	n := binary.LittleEndian.Uint64(r.b)
	if n > uint64(max) {
		return 0, fieldErr(field, fmt.Errorf("%w (%d > %d)", format.ErrTooLarge, n, max))
	}
	r.b = r.b[8:]
	return int(n), nil
}

// vec reads a non-empty Vec<u8> of at most max bytes.
func (r *bincodeReader) vec(field string, max int) ([]byte, error) {
	n, err := r.length(field, max)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errEmpty(field)
	}
	if len(r.b) < n {
		return nil, fieldErr(field, fmt.Errorf("%w (%d bytes, %d left)", format.ErrTruncated, n, len(r.b)))
	}
	out := append(make([]byte, 0, n), r.b[:n]...)
	r.b = r.b[n:]
	return out, nil
}
