package verify_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/quote"
)

// TestRealQuotesPreparedAKMatchesCryptoRSA holds the prepared attestation
// key (quote.AK, a variable-time Montgomery verification) to crypto/rsa on
// every real quote in testdata, SNP and TDX, as signed and corrupted: any
// disagreement fails.
func TestRealQuotesPreparedAKMatchesCryptoRSA(t *testing.T) {
	files := map[string][]byte{
		"tdx-v0": testutil.ReadFile(t, testutil.TDXDir+"evidence-v0.json"),
		"tdx-v1": testutil.ReadFile(t, testutil.TDXDir+"evidence-v1.json"),
	}
	for _, re := range realEvidences(t) {
		files["snp-"+re.name] = re.data
	}
	for name, data := range files {
		ev, err := evidence.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, err := hcl.Parse(ev.HCLReport)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ak, err := r.RuntimeData.AK()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		prepared := quote.NewAK(ak)
		msg, sig := ev.Quote.Message, ev.Quote.Signature
		if err := prepared.VerifySignature(msg, sig); err != nil {
			t.Fatalf("%s: the real quote does not verify: %v", name, err)
		}
		for i, bad := range corruptedSignatures(ak, sig) {
			sameQuoteVerdict(t, name, i, ak, prepared, msg, bad)
		}
		other := append([]byte(nil), msg...)
		other[len(other)-1] ^= 1
		sameQuoteVerdict(t, name, -1, ak, prepared, other, sig)
	}
}

// corruptedSignatures returns sig with each byte flipped in turn (a stride
// of 7), zero, one, N-1, N, sig+N, and one byte short or long.
func corruptedSignatures(ak *rsa.PublicKey, sig []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(sig); i += 7 {
		b := append([]byte(nil), sig...)
		b[i] ^= 0x41
		out = append(out, b)
	}
	k := len(sig)
	one := make([]byte, k)
	one[k-1] = 1
	nMinus1 := new(big.Int).Sub(ak.N, big.NewInt(1)).FillBytes(make([]byte, k))
	plusN := new(big.Int).Add(ak.N, new(big.Int).SetBytes(sig))
	out = append(out, make([]byte, k), one, nMinus1, ak.N.FillBytes(make([]byte, k)), sig[1:], append([]byte{0}, sig...))
	if plusN.BitLen() <= 8*k {
		out = append(out, plusN.FillBytes(make([]byte, k)))
	}
	return out
}

// sameQuoteVerdict fails t unless the prepared AK and crypto/rsa agree on
// (msg, sig).
func sameQuoteVerdict(t *testing.T, name string, i int, ak *rsa.PublicKey, prepared *quote.AK, msg, sig []byte) {
	t.Helper()
	d := sha256.Sum256(msg)
	want := len(sig) == ak.Size() && rsa.VerifyPKCS1v15(ak, crypto.SHA256, d[:], sig) == nil
	got := prepared.VerifySignature(msg, sig) == nil
	if got != want {
		t.Errorf("%s, corruption %d: prepared AK says %v, crypto/rsa %v", name, i, got, want)
	}
}
