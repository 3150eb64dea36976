package verify_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // a forged digest of the wrong hash, not a security choice
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/quote"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// editAttest returns a MutateQuote that parses the TPMS_ATTEST, applies
// edit and marshals it again (before the AK signs it).
func editAttest(t *testing.T, edit func(a *quote.Attest)) func([]byte) []byte {
	return func(m []byte) []byte {
		a, err := quote.Parse(m)
		if err != nil {
			t.Fatal(err)
		}
		edit(a)
		out, err := a.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// resign returns a data function that replaces the quote's signature by
// sign(AK, TPMS_ATTEST).
func resign(sign func(key *rsa.PrivateKey, msg []byte) ([]byte, error)) func(t *testing.T, ev *testev.Evidence) []byte {
	return func(t *testing.T, ev *testev.Evidence) []byte {
		sig, err := sign(testev.AKKey(), ev.Evidence.Quote.Message)
		if err != nil {
			t.Fatal(err)
		}
		ev.Evidence.Quote.Signature = sig
		return encode(t, ev.Evidence)
	}
}

// pkcs1 signs msg with RSASSA-PKCS1-v1_5 over h.
func pkcs1(h crypto.Hash) func(key *rsa.PrivateKey, msg []byte) ([]byte, error) {
	return func(key *rsa.PrivateKey, msg []byte) ([]byte, error) {
		d := h.New()
		d.Write(msg)
		return rsa.SignPKCS1v15(rand.Reader, key, h, d.Sum(nil))
	}
}

// pcrKeys returns the claimed PCR indices, ascending.
func pcrKeys(c *verify.Claims) []int {
	keys := make([]int, 0, len(c.PCRs))
	for k := range c.PCRs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// wantPCRs returns a claims check: exactly the PCRs idx, with the values of
// the default set.
func wantPCRs(idx ...int) func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
	return func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
		pcrs := testev.DefaultPCRs()
		if got := pcrKeys(c); !slices.Equal(got, idx) {
			t.Fatalf("claimed PCRs %v, want %v", got, idx)
		}
		for _, i := range idx {
			if !bytes.Equal(c.PCRs[i], pcrs[i]) {
				t.Errorf("PCR %d is %x, want %x", i, []byte(c.PCRs[i]), pcrs[i])
			}
		}
	}
}

// TestQuoteForgeries (audit27d, no behaviour change): TPMS_ATTESTs the AK
// signs with unusual selections, digests and signature encodings. The
// signed selection is hashed in its signed order, repeats included, and
// only the SHA-256 bank's values (32 bytes, SHA-256 digest) are accepted;
// the signature is RSASSA-PKCS1-v1_5 over SHA-256, raw, of the key's size.
// qualifiedSigner is not compared with a name computed from the AK: it is
// signed by that very key, so a key that could sign a forged TPMS_ATTEST
// could write any name, and the runtime data carries no TPMT_PUBLIC from
// which to compute one; that the AK is a restricted signing key rests on
// the paravisor that made it and wrote its public key (SECURITY.md).
func TestQuoteForgeries(t *testing.T) {
	sha256Bank := func(size int, pcrs ...int) []quote.PCRSelection {
		return []quote.PCRSelection{{Hash: quote.AlgSHA256, PCRs: pcrs, Size: size}}
	}
	valuesDigest := func(h crypto.Hash, idx ...int) []byte {
		d := h.New()
		for _, i := range idx {
			d.Write(testev.DefaultPCRs()[i])
		}
		return d.Sum(nil)
	}
	nonce64 := bytes.Repeat([]byte{0x64}, 64)
	runSynth(t, []synthCase{
		{name: "the same PCR selected twice, hashed twice", b: testev.Builder{PCRSelect: []int{7}, ExtraSelections: sha256Bank(0, 7), DigestPCRs: []int{7, 7}}, check: wantPCRs(7)},
		{name: "the same PCR selected twice, hashed once", b: testev.Builder{PCRSelect: []int{7}, ExtraSelections: sha256Bank(0, 7), DigestPCRs: []int{7}}, want: verify.CheckPCRDigest},
		{name: "selections out of order, hashed in signed order", b: testev.Builder{PCRSelect: []int{8}, ExtraSelections: sha256Bank(0, 0), DigestPCRs: []int{8, 0}}, check: wantPCRs(0, 8)},
		{name: "selections out of order, hashed ascending", b: testev.Builder{PCRSelect: []int{8}, ExtraSelections: sha256Bank(0, 0), DigestPCRs: []int{0, 8}}, want: verify.CheckPCRDigest},
		{name: "sizeofSelect 4", b: testev.Builder{PCRSelect: []int{}, ExtraSelections: sha256Bank(4, 0, 7), DigestPCRs: []int{0, 7}}, check: wantPCRs(0, 7)},
		{name: "sizeofSelect 4 selecting PCR 31", b: testev.Builder{PCRSelect: []int{0}, ExtraSelections: sha256Bank(4, 31), DigestPCRs: []int{0}}, want: verify.CheckQuoteFormat},
		{name: "no selection at all", b: testev.Builder{MutateQuote: editAttest(t, func(a *quote.Attest) { a.Selection = nil })}, want: verify.CheckQuoteFormat},
		{name: "SHA-384 bank with PCRs", b: testev.Builder{PCRSelect: []int{0}, ExtraSelections: []quote.PCRSelection{{Hash: 0x000C, PCRs: []int{1}}}, DigestPCRs: []int{0, 1}}, want: verify.CheckQuoteFormat},
		{name: "pcrDigest is SHA-1 of the values", b: testev.Builder{PCRSelect: []int{0, 7}, MutateQuote: editAttest(t, func(a *quote.Attest) { a.PCRDigest = valuesDigest(crypto.SHA1, 0, 7) })}, want: verify.CheckQuoteFormat},
		{name: "pcrDigest is SHA-384 of the values", b: testev.Builder{PCRSelect: []int{0, 7}, MutateQuote: editAttest(t, func(a *quote.Attest) { a.PCRDigest = valuesDigest(crypto.SHA384, 0, 7) })}, want: verify.CheckQuoteFormat},
		{name: "PCR value of SHA-1 size in the document", b: testev.Builder{PCRSelect: []int{0, 7}}, data: func(t *testing.T, ev *testev.Evidence) []byte {
			v := hex.EncodeToString(ev.Evidence.Quote.PCRs[7])
			if !bytes.Contains(ev.JSON, []byte(v)) {
				t.Fatal("PCR 7 not found in the document")
			}
			return bytes.Replace(ev.JSON, []byte(v), []byte(v[:2*sha1.Size]), 1)
		}, want: verify.CheckEvidenceFormat},
		{name: "signature RSASSA-PSS over SHA-256", data: resign(func(k *rsa.PrivateKey, m []byte) ([]byte, error) {
			d := sha256.Sum256(m)
			return rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], nil)
		}), want: verify.CheckQuoteSignature},
		{name: "signature PKCS#1 v1.5 over SHA-1", data: resign(pkcs1(crypto.SHA1)), want: verify.CheckQuoteSignature},
		{name: "signature PKCS#1 v1.5 over SHA-384", data: resign(pkcs1(crypto.SHA384)), want: verify.CheckQuoteSignature},
		{name: "signature PKCS#1 v1.5 over SHA-256 (control)", data: resign(pkcs1(crypto.SHA256))},
		{name: "signature as a TPMT_SIGNATURE", data: func(t *testing.T, ev *testev.Evidence) []byte {
			sig := ev.Evidence.Quote.Signature
			ev.Evidence.Quote.Signature = append([]byte{0x00, 0x14, 0x00, 0x0B, byte(len(sig) >> 8), byte(len(sig))}, sig...)
			return encode(t, ev.Evidence)
		}, want: verify.CheckQuoteSignature},
		{name: "qualifiedSigner names another key", b: testev.Builder{MutateQuote: editAttest(t, func(a *quote.Attest) {
			n := sha256.Sum256([]byte("another key's TPMT_PUBLIC"))
			a.QualifiedSigner = append([]byte{0x00, 0x0B}, n[:]...)
		})}},
		{name: "qualifiedSigner empty", b: testev.Builder{MutateQuote: editAttest(t, func(a *quote.Attest) { a.QualifiedSigner = nil })}},
		{name: "clock, reset and restart counts, firmware version: any", b: testev.Builder{MutateQuote: editAttest(t, func(a *quote.Attest) {
			a.Clock = quote.ClockInfo{Clock: 1<<64 - 1, ResetCount: 1<<32 - 1, RestartCount: 7}
			a.FirmwareVersion = 0
		})}},
		{name: "64-byte nonce quoted as its SHA-256", b: testev.Builder{Nonce: nonce64}, check: func(t *testing.T, c *verify.Claims, _ *testev.Evidence) {
			if d := sha256.Sum256(nonce64); !bytes.Equal(c.Nonce, d[:]) {
				t.Errorf("claimed nonce %x, want SHA-256 of the 64-byte nonce", []byte(c.Nonce))
			}
		}},
		{name: "64-byte nonce quoted raw", b: testev.Builder{Nonce: nonce64, ExtraData: nonce64}, want: verify.CheckNonce},
		{name: "48-byte nonce quoted as its SHA-256", b: testev.Builder{Nonce: nonce64[:48], ExtraData: func() []byte { d := sha256.Sum256(nonce64[:48]); return d[:] }()}, want: verify.CheckNonce},
		{name: "nonce quoted with a trailing zero", b: testev.Builder{ExtraData: append(bytes.Clone(testev.DefaultNonce), 0)}, want: verify.CheckNonce},
		// The nonce is extraData's: in qualifiedSigner (the field before
		// it), it proves nothing.
		{name: "nonce in qualifiedSigner, extraData empty", b: testev.Builder{ExtraData: []byte{}, MutateQuote: editAttest(t, func(a *quote.Attest) {
			a.QualifiedSigner = bytes.Clone(testev.DefaultNonce)
		})}, want: verify.CheckNonce},
		{name: "nonce in qualifiedSigner, extraData another", b: testev.Builder{ExtraData: []byte("an older challenge"), MutateQuote: editAttest(t, func(a *quote.Attest) {
			a.QualifiedSigner = bytes.Clone(testev.DefaultNonce)
		})}, want: verify.CheckNonce},
		{name: "nonce split between qualifiedSigner and extraData", b: testev.Builder{ExtraData: testev.DefaultNonce[4:], MutateQuote: editAttest(t, func(a *quote.Attest) {
			a.QualifiedSigner = bytes.Clone(testev.DefaultNonce[:4])
		})}, want: verify.CheckNonce},
	})
}
