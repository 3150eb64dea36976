package quote_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestCheckPCRsDigestComparedWhole (mutation testing, mutation29a): the
// signed pcrDigest must equal SHA-256 of the selected values in all 32
// bytes; a signed digest that differs from it in any one byte (the last
// 16 included) is ErrPCRDigest, whatever the values.
func TestCheckPCRsDigestComparedWhole(t *testing.T) {
	pcrs := make([][]byte, 24)
	for i := range pcrs {
		pcrs[i] = bytes.Repeat([]byte{byte(i + 1)}, 32)
	}
	h := sha256.New()
	for _, i := range []int{0, 7, 11} {
		h.Write(pcrs[i])
	}
	digest := h.Sum(nil)
	for _, flip := range []int{-1, 0, 15, 16, 31} {
		t.Run(fmt.Sprint("byte ", flip), func(t *testing.T) {
			d := bytes.Clone(digest)
			if flip >= 0 {
				d[flip] ^= 0x80
			}
			a := &quote.Attest{Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, Size: 3, PCRs: []int{0, 7, 11}}}, PCRDigest: d}
			sel, err := a.CheckPCRs(pcrs)
			if flip < 0 {
				if err != nil || len(sel) != 3 {
					t.Fatalf("CheckPCRs = %v, %v", sel, err)
				}
				return
			}
			if !errors.Is(err, quote.ErrPCRDigest) {
				t.Errorf("digest differing in byte %d: err = %v, want ErrPCRDigest", flip, err)
			}
		})
	}
}

// rawAttest writes a TPMS_ATTEST by hand, without Marshal's bounds: a
// qualifiedSigner of signerLen bytes, count selections of SHA-256 with a
// sizeofSelect of selSize (PCR 0 selected), a 32-byte pcrDigest.
func rawAttest(signerLen, selSize, count int) []byte {
	be := binary.BigEndian
	m := be.AppendUint32(nil, quote.GeneratedValue)
	m = be.AppendUint16(m, quote.TagAttestQuote)
	m = be.AppendUint16(m, uint16(signerLen))
	m = append(m, make([]byte, signerLen)...)
	m = be.AppendUint16(m, 4)
	m = append(m, "nnnn"...)
	m = append(m, make([]byte, 8+4+4+1+8)...) // clockInfo, firmwareVersion
	m = be.AppendUint32(m, uint32(count))
	for range count {
		m = be.AppendUint16(m, quote.AlgSHA256)
		m = append(m, byte(selSize), 1)
		m = append(m, make([]byte, selSize-1)...)
	}
	m = be.AppendUint16(m, 32)
	return append(m, make([]byte, 32)...)
}

// TestParseBounds (mutation testing, mutation29a): Parse refuses, with
// ErrTooLarge, a qualifiedSigner longer than MaxNameSize, a sizeofSelect
// above PCRSelectMax and more than MaxBanks selections, each with all its
// bytes present; one below each bound parses.
func TestParseBounds(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		signer, selSize, count int
		ok                     bool
	}{
		{"at every bound", quote.MaxNameSize, quote.PCRSelectMax, quote.MaxBanks, true},
		{"qualifiedSigner too long", quote.MaxNameSize + 1, 3, 1, false},
		{"sizeofSelect too large", 34, quote.PCRSelectMax + 1, 1, false},
		{"too many banks", 34, 3, quote.MaxBanks + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := quote.Parse(rawAttest(tc.signer, tc.selSize, tc.count))
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, format.ErrTooLarge)) {
				t.Errorf("Parse = %v, want accepted %v (else ErrTooLarge)", err, tc.ok)
			}
		})
	}
}

// TestCheckPCRsIndexBound (mutation testing, mutation29a): a selected PCR
// above MaxPCRIndex (24 to 31, which a 4-byte sizeofSelect can name) is
// refused even when a value is supplied for it.
func TestCheckPCRsIndexBound(t *testing.T) {
	pcrs := make([][]byte, 32)
	for i := range pcrs {
		pcrs[i] = make([]byte, 32)
	}
	for _, idx := range []int{23, 24, 31} {
		d := sha256.Sum256(pcrs[idx])
		a := &quote.Attest{Selection: []quote.PCRSelection{{Hash: quote.AlgSHA256, Size: 4, PCRs: []int{idx}}}, PCRDigest: d[:]}
		_, err := a.CheckPCRs(pcrs)
		if (idx <= quote.MaxPCRIndex) != (err == nil) {
			t.Errorf("PCR %d: err = %v", idx, err)
		}
	}
}
