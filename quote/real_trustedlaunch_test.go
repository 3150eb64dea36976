package quote_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestRealTrustedLaunchQuote: a real quote of an Azure vTPM (Trusted
// Launch, tpm2_quote with a tpm2-tools AK over SHA-256 PCRs 0-7; cmcp's
// capture, testdata/cmcp-azure-cvm/trusted-launch-quote) parses, its
// signature verifies with its AK, it carries its 32-byte nonce and the PCR
// values of pcrs.bin (tpm2-tools' TPML_PCR_SELECTION + TPML_DIGEST dump)
// hash to its digest; a changed byte, nonce or PCR fails the named check.
func TestRealTrustedLaunchQuote(t *testing.T) {
	const dir = "cmcp-azure-cvm/trusted-launch-quote/"
	msg, sig := testutil.ReadFile(t, dir+"quote.msg"), testutil.ReadFile(t, dir+"quote.sig")
	ak := testutil.RSAPublicKey(t, dir+"ak.pub")
	nonce, err := hex.DecodeString(strings.TrimSpace(string(testutil.ReadFile(t, dir+"nonce.hex"))))
	if err != nil {
		t.Fatal(err)
	}
	a, err := quote.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := quote.VerifySignature(ak, msg, sig); err != nil {
		t.Fatal(err)
	}
	if err := a.CheckNonce(nonce); err != nil {
		t.Fatal(err)
	}
	pcrs := trustedLaunchPCRs(t, testutil.ReadFile(t, dir+"pcrs.bin"))
	if sel, err := a.CheckPCRs(pcrs); err != nil || len(sel) != 8 {
		t.Fatalf("CheckPCRs = %v, %v", sel, err)
	}
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	if err := quote.VerifySignature(ak, bad, sig); !errors.Is(err, quote.ErrSignature) {
		t.Errorf("changed message: %v", err)
	}
	if err := a.CheckNonce(append(bytes.Clone(nonce[:31]), nonce[31]^1)); !errors.Is(err, quote.ErrNonce) {
		t.Errorf("other nonce: %v", err)
	}
	pcrs[7] = make([]byte, 32)
	if _, err := a.CheckPCRs(pcrs); err == nil {
		t.Error("changed PCR 7 accepted")
	}
}

// trustedLaunchPCRs reads tpm2-tools' PCR dump: a TPML_PCR_SELECTION
// (count + 16 selections of 8 bytes), a uint32 digest-list count (1), then
// a TPML_DIGEST of 8 TPM2B_DIGEST (size + 64-byte buffer), little-endian.
func trustedLaunchPCRs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	const off = 4 + 16*8 + 4
	if len(b) != off+4+8*66 || binary.LittleEndian.Uint32(b[off:]) != 8 {
		t.Fatalf("pcrs.bin: %d bytes", len(b))
	}
	pcrs := make([][]byte, 24)
	for i := range 8 {
		e := b[off+4+66*i:]
		if binary.LittleEndian.Uint16(e) != 32 {
			t.Fatalf("PCR %d: size %d", i, binary.LittleEndian.Uint16(e))
		}
		pcrs[i] = e[2:34]
	}
	return pcrs
}
