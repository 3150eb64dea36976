package quote_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

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
