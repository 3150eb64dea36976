package quote

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fastverify"
)

// MaxQualifyingData is the largest nonce passed to the TPM unchanged. The
// Azure vTPM rejects qualifyingData over about 50 bytes, so longer nonces
// are replaced by their SHA-256 digest (see ExpectedExtraData).
const MaxQualifyingData = 48

// ExpectedExtraData returns the qualifyingData that a quote over nonce
// carries: the nonce itself when it is at most MaxQualifyingData bytes,
// otherwise SHA-256(nonce). A short nonce is returned as is (not copied).
// Since a long nonce is compared through its hash, a quote over nonce N also
// matches the nonce SHA-256(N): verifiers that issue random nonces of at
// most 48 bytes never meet this.
func ExpectedExtraData(nonce []byte) []byte {
	if len(nonce) <= MaxQualifyingData {
		return nonce
	}
	d := sha256.Sum256(nonce)
	return d[:]
}

// VerifySignature checks that sig is an RSASSA-PKCS1-v1_5 SHA-256 signature
// of msg by ak, as the Azure vTPM attestation key produces. NewAK prepares
// a key once for many quotes.
func VerifySignature(ak *rsa.PublicKey, msg, sig []byte) error {
	if ak == nil {
		return fmt.Errorf("%w: no attestation key", ErrSignature)
	}
	return NewAK(ak).VerifySignature(msg, sig)
}

// AK is an attestation key prepared for verifying quotes: its modulus's
// Montgomery constants are computed once, by NewAK. An AK is immutable and
// safe for concurrent use; the verdicts are exactly those of crypto/rsa.
type AK struct {
	key *fastverify.PublicKey
}

// NewAK prepares ak, which must not be modified afterwards.
func NewAK(ak *rsa.PublicKey) *AK {
	if ak == nil {
		return nil
	}
	return &AK{key: fastverify.NewPublicKey(ak)}
}

// VerifySignature checks that sig is an RSASSA-PKCS1-v1_5 SHA-256
// signature of msg by the key (see the function VerifySignature).
func (k *AK) VerifySignature(msg, sig []byte) error {
	if k == nil {
		return fmt.Errorf("%w: no attestation key", ErrSignature)
	}
	pub := k.key.Public()
	if len(sig) != pub.Size() {
		return fmt.Errorf("%w: signature is %d bytes, key size is %d", ErrSignature, len(sig), pub.Size())
	}
	digest := sha256.Sum256(msg)
	if err := k.key.VerifyPKCS1v15(crypto.SHA256, digest[:], sig); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

// CheckNonce compares the quote's extraData with the qualifying data expected
// for nonce (see ExpectedExtraData) in constant time.
func (a *Attest) CheckNonce(nonce []byte) error {
	want := ExpectedExtraData(nonce)
	if len(a.ExtraData) != len(want) || subtle.ConstantTimeCompare(a.ExtraData, want) != 1 {
		return fmt.Errorf("%w: quote carries %d bytes of qualifying data that differ from the expected nonce", ErrNonce, len(a.ExtraData))
	}
	return nil
}

// CheckPCRs checks pcrs (index i = SHA-256 PCR i) against the signed
// selection and digest: it hashes the selected values in the order of the
// signed selection and compares the result with PCRDigest. It returns the
// selected PCR indices in that order.
func (a *Attest) CheckPCRs(pcrs [][]byte) ([]int, error) {
	if len(a.PCRDigest) != sha256.Size {
		return nil, fieldErr("pcrDigest", format.ErrBadLength, "%d bytes, want %d (SHA-256)", len(a.PCRDigest), sha256.Size)
	}
	n := 0
	for _, sel := range a.Selection {
		n += len(sel.PCRs)
	}
	h := sha256.New()
	selected := make([]int, 0, n)
	for i, sel := range a.Selection {
		if len(sel.PCRs) == 0 {
			continue
		}
		if sel.Hash != AlgSHA256 {
			return nil, fieldErr(fmt.Sprintf("pcrSelect[%d].hash", i), format.ErrUnexpectedValue, "bank 0x%04x selected; only SHA-256 PCR values are carried", sel.Hash)
		}
		for _, idx := range sel.PCRs {
			if idx > MaxPCRIndex || idx >= len(pcrs) {
				return nil, fieldErr("pcrs", format.ErrMissingField, "PCR %d is selected but no value is supplied (%d values)", idx, len(pcrs))
			}
			v := pcrs[idx]
			if len(v) != sha256.Size {
				return nil, fieldErr("pcrs", format.ErrBadLength, "PCR %d value is %d bytes, want %d", idx, len(v), sha256.Size)
			}
			h.Write(v)
			selected = append(selected, idx)
		}
	}
	if len(selected) == 0 {
		return nil, fieldErr("pcrSelect", format.ErrEmpty, "the quote selects no PCR")
	}
	var sum [sha256.Size]byte
	if subtle.ConstantTimeCompare(h.Sum(sum[:0]), a.PCRDigest) != 1 {
		return nil, ErrPCRDigest
	}
	return selected, nil
}

// QuotedPCRs is CheckPCRs returning the selected PCRs by index; values the
// quote does not select are not returned, since nothing binds them.
func (a *Attest) QuotedPCRs(pcrs [][]byte) (map[int][]byte, error) {
	selected, err := a.CheckPCRs(pcrs)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]byte, len(selected))
	for _, idx := range selected {
		out[idx] = pcrs[idx]
	}
	return out, nil
}

// Result is the outcome of a successful Verify.
type Result struct {
	// Attest is the parsed, signature-checked TPMS_ATTEST.
	Attest *Attest
	// PCRs holds the SHA-256 PCR values bound by the quote, by index; nil
	// when the quote carried no PCR values (they are unknown).
	PCRs map[int][]byte
}

// Verify checks a quote completely: the TPMS_ATTEST format, the signature by
// ak, the nonce (see ExpectedExtraData) and the PCR values against the signed
// selection and digest. A quote without PCR values (q.PCRs nil: older
// evidence) is checked up to the nonce; its Result.PCRs is nil, meaning the
// values are unknown, while Result.Attest still holds the signed selection
// and digest. An empty non-nil q.PCRs is a PCR list that lacks the
// selected values, and fails. The returned error wraps ErrFormat, ErrSignature,
// ErrNonce or ErrPCRDigest.
func Verify(q *Quote, ak *rsa.PublicKey, nonce []byte) (*Result, error) {
	if q == nil {
		return nil, fieldErr("quote", format.ErrMissingField, "no quote")
	}
	a, err := Parse(q.Message)
	if err != nil {
		return nil, err
	}
	if err := VerifySignature(ak, q.Message, q.Signature); err != nil {
		return nil, err
	}
	if err := a.CheckNonce(nonce); err != nil {
		return nil, err
	}
	if q.PCRs == nil {
		// The values are unknown: nothing to check against the digest.
		return &Result{Attest: a}, nil
	}
	pcrs, err := a.QuotedPCRs(q.PCRs)
	if err != nil {
		return nil, err
	}
	return &Result{Attest: a, PCRs: pcrs}, nil
}

// AlgName names a TPM hash algorithm: "sha1", "sha256", "sha384",
// "sha512", or "0x%04x" for another.
func AlgName(alg uint16) string {
	switch alg {
	case AlgSHA1:
		return "sha1"
	case AlgSHA256:
		return "sha256"
	case 0x000C:
		return "sha384"
	case 0x000D:
		return "sha512"
	}
	return fmt.Sprintf("0x%04x", alg)
}
