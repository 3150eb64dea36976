package testutil

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// TPMResponse frames params as a successful TPM 2.0 response (TPM_RC_SUCCESS):
// tag TPM_ST_NO_SESSIONS, or with sessions tag TPM_ST_SESSIONS, the
// parameter size and the response of the one empty password session a
// command sent with one gets (empty nonce, continueSession, empty hmac).
// Scripted TPMs in tests answer with it.
func TPMResponse(params []byte, sessions bool) []byte {
	b := []byte{0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
	if sessions {
		b[1] = 0x02
		b = binary.BigEndian.AppendUint32(b, uint32(len(params)))
	}
	b = append(b, params...)
	if sessions {
		b = append(b, 0, 0, 1, 0, 0) // nonce, continueSession, hmac
	}
	binary.BigEndian.PutUint32(b[2:], uint32(len(b)))
	return b
}

// TPMParams returns the wire parameters of rsp, the response to cmd (what
// TPMResponse frames), failing t when go-tpm cannot marshal it.
func TPMParams[C tpm2.Command[R, *R], R any](t testing.TB, cmd C, rsp *R) []byte {
	t.Helper()
	b, err := tpm2.MarshalResponse(cmd, rsp)
	if err != nil {
		t.Fatal(err)
	}
	return b[8:] // drop responseCode and commandCode
}

// ExtendPCR extends the SHA-256 bank of PCR pcr of tpm with digest, with
// the empty password, as code in a booted system can; it fails t when the
// TPM refuses.
func ExtendPCR(t testing.TB, tpm transport.TPM, pcr int, digest []byte) {
	t.Helper()
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: digest}}},
	}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
}
