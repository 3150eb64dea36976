package vtpm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// ReadPCRs returns PCRs 0-23 of the SHA-256 bank, index i = PCR i. A TPM
// returns at most 8 PCRs per TPM2_PCR_Read, so ReadPCRs asks again for the
// ones still missing, checking ctx between commands.
func ReadPCRs(ctx context.Context, t transport.TPM) ([][]byte, error) {
	out := make([][]byte, PCRCount)
	missing := PCRCount
	// Each round returns at least one PCR or fails, so PCRCount rounds bound
	// the loop even against a misbehaving TPM.
	for round := 0; missing > 0; round++ {
		if round >= PCRCount {
			return nil, malformed("PCR_Read made no progress")
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vtpm: reading PCRs: %w", err)
		}
		want := make([]byte, 3)
		for i, v := range out {
			if v == nil {
				want[i/8] |= 1 << (i % 8)
			}
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash: tpm2.TPMAlgSHA256, PCRSelect: want,
		}}}}.Execute(t)
		if err != nil {
			return nil, tpmErr("PCR_Read", 0, err)
		}
		got, err := returnedPCRs(rsp, want)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			return nil, malformed("PCR_Read returned no PCRs")
		}
		if len(got) != len(rsp.PCRValues.Digests) {
			return nil, malformed("PCR_Read selected %d PCRs but returned %d values", len(got), len(rsp.PCRValues.Digests))
		}
		for k, idx := range got {
			d := rsp.PCRValues.Digests[k].Buffer
			if len(d) != sha256.Size {
				return nil, malformed("PCR_Read returned a %d-byte value for SHA-256 PCR %d", len(d), idx)
			}
			out[idx] = bytes.Clone(d)
			missing--
		}
	}
	return out, nil
}

// returnedPCRs lists, in ascending order, the PCR indices the response says
// it returned. Each must be one that was asked for and is still missing.
func returnedPCRs(rsp *tpm2.PCRReadResponse, want []byte) ([]int, error) {
	var got []int
	for _, sel := range rsp.PCRSelectionOut.PCRSelections {
		if sel.Hash != tpm2.TPMAlgSHA256 {
			if bytes.Count(sel.PCRSelect, []byte{0}) == len(sel.PCRSelect) {
				continue
			}
			return nil, malformed("PCR_Read returned PCRs of bank %#04x, want SHA-256", uint16(sel.Hash))
		}
		for i, b := range sel.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) == 0 {
					continue
				}
				if i >= len(want) || want[i]&(1<<bit) == 0 {
					return nil, malformed("PCR_Read returned PCR %d, which was not asked for", i*8+bit)
				}
				want[i] &^= 1 << bit // so a duplicate selection is caught
				got = append(got, i*8+bit)
			}
		}
	}
	return got, nil
}
