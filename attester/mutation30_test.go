package attester_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/snp-vtpm/snp-vtpm/attester"
	"github.com/snp-vtpm/snp-vtpm/verify"
	"github.com/snp-vtpm/snp-vtpm/vtpm"
)

// secondAKReadFails is a TPM whose second ReadPublic of the attestation
// key fails (TPM_RC_FAILURE): vtpm.Quote reads the key once, and the
// attester again to check the quote.
type secondAKReadFails struct {
	inner transport.TPM
	reads int
}

func (s *secondAKReadFails) Send(cmd []byte) ([]byte, error) {
	if commandCode(cmd) == tpm2.TPMCCReadPublic && binary.BigEndian.Uint32(cmd[10:14]) == vtpm.AKHandle {
		if s.reads++; s.reads == 2 {
			rsp := []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0}
			binary.BigEndian.PutUint32(rsp[6:], uint32(tpm2.TPMRCFailure))
			return rsp, nil
		}
	}
	return s.inner.Send(cmd)
}

// TestQuoteAKReadFails (mutation testing, mutation30): when the TPM fails
// to give the attestation key the attester checks its quote with, Quote
// fails with that TPM error: no quote, and neither a rejection nor
// ErrInconsistent (the vTPM said nothing false).
func TestQuoteAKReadFails(t *testing.T) {
	a := newAttester(t)
	tpm := &secondAKReadFails{inner: cvm.TPM()}
	a.TPM = tpm
	q, err := a.Quote(testCtx(t), []byte("nonce"))
	if q != nil || !errors.Is(err, tpm2.TPMRCFailure) || errors.Is(err, attester.ErrInconsistent) || errors.Is(err, verify.ErrRejected) || tpm.reads != 2 {
		t.Fatalf("Quote = %v, %v (%d AK reads); want the TPM's failure", q, err, tpm.reads)
	}
}
