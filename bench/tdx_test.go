package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"testing"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// realTDXV1 is the real Azure TDX v1 evidence of the fixtures (nonce
// "challenge"), verified offline (no Intel collateral: TCB status not
// evaluated) at testutil.TDXFixtureTime.
const realTDXV1 = "../testdata/" + testutil.TDXDir + "evidence-v1.json"

// tdxConfig is the Config that verifies the real TDX evidence, its cache
// disabled (fresh evidence).
func tdxConfig() verify.Config {
	return verify.Config{Now: testutil.TDXFixtureTime(), Cache: verify.CacheConfig{Disable: true}}
}

// tdxFloor is the cryptography no verifier of fresh Azure TDX evidence can
// skip (offline, without Intel's collateral): the TD quote's ECDSA P-256
// signature by the attestation key over the header and body, the QE
// report's ECDSA P-256 signature by the PCK, the PCK certificate's and its
// CA's ECDSA P-256 signatures (by the CA and Intel's root), and the TPM
// quote's RSA-2048 PKCS#1 v1.5 signature by the AK, each over the SHA-256
// of the bytes actually signed (computed on every call). Signatures and
// keys are decoded beforehand.
type tdxFloor struct {
	signed   []byte // the TD quote's header and body
	quoteR   *big.Int
	quoteS   *big.Int
	akKey    *ecdsa.PublicKey // the attestation key
	qeReport []byte
	qeR, qeS *big.Int
	pckKey   *ecdsa.PublicKey
	pckTBS   []byte
	pckSig   []byte // ASN.1, by the CA
	caKey    *ecdsa.PublicKey
	caTBS    []byte
	caSig    []byte // ASN.1, by the root
	rootKey  *ecdsa.PublicKey
	tpmQuote rsa2048
}

func (f *tdxFloor) verify() error {
	d := sha256.Sum256(f.signed)
	if !ecdsa.Verify(f.akKey, d[:], f.quoteR, f.quoteS) {
		return errors.New("tdx floor: TD quote signature")
	}
	d = sha256.Sum256(f.qeReport)
	if !ecdsa.Verify(f.pckKey, d[:], f.qeR, f.qeS) {
		return errors.New("tdx floor: QE report signature")
	}
	d = sha256.Sum256(f.pckTBS)
	if !ecdsa.VerifyASN1(f.caKey, d[:], f.pckSig) {
		return errors.New("tdx floor: PCK certificate signature")
	}
	d = sha256.Sum256(f.caTBS)
	if !ecdsa.VerifyASN1(f.rootKey, d[:], f.caSig) {
		return errors.New("tdx floor: PCK CA certificate signature")
	}
	return f.tpmQuote.verify()
}

// rawRS splits a raw r || s P-256 signature.
func rawRS(sig [64]byte) (*big.Int, *big.Int) {
	return new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
}

// p256Key is c's public key, which must be ECDSA P-256.
func p256Key(c *x509.Certificate) (*ecdsa.PublicKey, error) {
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%q: key is not ECDSA P-256", c.Subject.CommonName)
	}
	return k, nil
}

// newTDX reads the real TDX evidence and builds its floor; both must
// verify.
func newTDX() (sample, *tdxFloor, error) {
	data, err := os.ReadFile(realTDXV1)
	if err != nil {
		return sample{}, nil, err
	}
	s := sample{data: data, nonce: []byte("challenge")}
	if _, err := verify.Evidence(context.Background(), s.data, s.nonce, tdxConfig()); err != nil {
		return sample{}, nil, fmt.Errorf("real TDX evidence does not verify: %w", err)
	}
	ev, err := evidence.Decode(data)
	if err != nil {
		return sample{}, nil, err
	}
	q, err := tdx.ParseQuote(ev.TDQuote)
	if err != nil {
		return sample{}, nil, err
	}
	certs, err := q.PCKCertificates()
	if err != nil {
		return sample{}, nil, err
	}
	root, err := tdx.IntelRoot()
	if err != nil {
		return sample{}, nil, err
	}
	tpm, err := newRSA2048(data)
	if err != nil {
		return sample{}, nil, fmt.Errorf("TDX TPM quote: %w", err)
	}
	f := &tdxFloor{signed: q.SignedBytes(), qeReport: q.QEReport[:], tpmQuote: *tpm,
		pckTBS: certs[0].RawTBSCertificate, pckSig: certs[0].Signature,
		caTBS: certs[1].RawTBSCertificate, caSig: certs[1].Signature}
	f.quoteR, f.quoteS = rawRS(q.Signature)
	f.qeR, f.qeS = rawRS(q.QEReportSignature)
	if f.akKey, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...)); err != nil {
		return sample{}, nil, err
	}
	for _, k := range []struct {
		dst  **ecdsa.PublicKey
		cert *x509.Certificate
	}{{&f.pckKey, certs[0]}, {&f.caKey, certs[1]}, {&f.rootKey, root}} {
		if *k.dst, err = p256Key(k.cert); err != nil {
			return sample{}, nil, err
		}
	}
	return s, f, f.verify()
}

func freshTDX(f *fixtures) func(b *testing.B) {
	return benchVerify([]sample{f.tdx}, tdxConfig())
}

// repeatTDX verifies the real Azure TDX evidence again and again with one
// Verifier (caches on): the PCK chain and TD quote verified once, the TPM
// quote every time.
func repeatTDX(f *fixtures) func(b *testing.B) {
	return benchVerify([]sample{f.tdx}, verify.Config{Now: testutil.TDXFixtureTime()})
}

// BenchmarkTDXRepeat verifies the same real Azure TDX evidence with one
// Verifier (see repeatTDX).
func BenchmarkTDXRepeat(b *testing.B) {
	repeatTDX(getFixtures(b))(b)
}

// BenchmarkTDXFloor is the cryptographic floor of fresh Azure TDX evidence
// (see tdxFloor).
func BenchmarkTDXFloor(b *testing.B) {
	benchLoop(getFixtures(b).tdxFloor.verify)(b)
}

// BenchmarkTDXFresh verifies the real Azure TDX evidence as never seen
// before (a Verifier with its cache disabled; offline, no Intel
// collateral).
func BenchmarkTDXFresh(b *testing.B) {
	freshTDX(getFixtures(b))(b)
}

// TestTDXFloor: the real TDX evidence and its floor verify, and the floor
// fails when any of its signed inputs changes (it measures real checks).
func TestTDXFloor(t *testing.T) {
	_, f, err := newTDX()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"TD quote": f.signed, "QE report": f.qeReport,
		"PCK TBS": f.pckTBS, "CA TBS": f.caTBS, "TPM quote": f.tpmQuote.msg} {
		b[len(b)/2] ^= 1
		if f.verify() == nil {
			t.Errorf("%s changed: the floor still verifies", name)
		}
		b[len(b)/2] ^= 1
	}
	if err := f.verify(); err != nil {
		t.Fatal(err)
	}
}
