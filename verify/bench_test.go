package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// BenchmarkVerifyEvidence verifies the real v1 evidence: "fresh" with
// its cache disabled (every signature checked, as for evidence never seen
// before), "repeat" with one long-lived caching Verifier.
func BenchmarkVerifyEvidence(b *testing.B) {
	nonce := []byte("challenge")
	for _, bc := range []struct {
		name    string
		file    string
		disable bool
	}{{"fresh", "evidence-v1.json", true}, {"repeat", "evidence-v1.json", false}, {"repeat-v0", "evidence-v0.json", false}} {
		data := testutil.ReadFile(b, testutil.SNPDir+bc.file)
		b.Run(bc.name, func(b *testing.B) {
			v := newVerifier(b, verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: bc.disable}})
			if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Evidence(context.Background(), data, nonce); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// floor holds the three signatures of the real v1 evidence and their keys.
type floor struct {
	reportDigest []byte
	reportR      *big.Int
	reportS      *big.Int
	vcekKey      *ecdsa.PublicKey

	vcekTBSDigest []byte
	vcekSig       []byte
	askKey        *rsa.PublicKey

	quoteDigest []byte
	quoteSig    []byte
	akKey       *rsa.PublicKey
}

func le(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	return new(big.Int).SetBytes(be)
}

func newFloor(b *testing.B) *floor {
	data := testutil.ReadFile(b, testutil.SNPDir+"evidence-v1.json")
	ev := decode(b, data)
	h, err := hcl.Parse(ev.HCLReport)
	if err != nil {
		b.Fatal(err)
	}
	ak, err := h.RuntimeData.AK()
	if err != nil {
		b.Fatal(err)
	}
	vcek, err := x509.ParseCertificate(ev.VCEK)
	if err != nil {
		b.Fatal(err)
	}
	ask := snp.DefaultRoots().Chains(snp.Milan)[0].ASK
	r := h.SNPReport
	rd := sha512.Sum384(r[:snp.SignedSize])
	td := sha512.Sum384(vcek.RawTBSCertificate)
	qd := sha256.Sum256(ev.Quote.Message)
	f := &floor{
		reportDigest: rd[:], reportR: le(r[snp.OffsetSignatureR:snp.OffsetSignatureS]), reportS: le(r[snp.OffsetSignatureS : snp.OffsetSignatureS+snp.SignatureComponentSize]), vcekKey: vcek.PublicKey.(*ecdsa.PublicKey),
		vcekTBSDigest: td[:], vcekSig: vcek.Signature, askKey: ask.PublicKey.(*rsa.PublicKey),
		quoteDigest: qd[:], quoteSig: ev.Quote.Signature, akKey: ak,
	}
	if err := f.verify(); err != nil {
		b.Fatal(err)
	}
	return f
}

var errFloor = errors.New("floor: report signature does not verify")

// verify does exactly one ECDSA P-384 verification (SNP report by the VCEK),
// one RSA-4096 PSS verification (VCEK by the ASK) and one RSA-2048 PKCS#1
// v1.5 verification (quote by the AK), on precomputed digests.
func (f *floor) verify() error {
	if !ecdsa.Verify(f.vcekKey, f.reportDigest, f.reportR, f.reportS) {
		return errFloor
	}
	if err := rsa.VerifyPSS(f.askKey, crypto.SHA384, f.vcekTBSDigest, f.vcekSig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		return err
	}
	return rsa.VerifyPKCS1v15(f.akKey, crypto.SHA256, f.quoteDigest, f.quoteSig)
}

// BenchmarkFloor measures the cryptographic floor of a fresh verification:
// the three signature verifications no verifier can skip. It reports the
// ratio of a fresh verify.Evidence (no cache) to that floor as
// "fresh/floor".
func BenchmarkFloor(b *testing.B) {
	f := newFloor(b)
	for b.Loop() {
		if err := f.verify(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Calibrate the ratio outside the timed loop: interleaved batches, the
	// fastest batch of each kind (the least disturbed by other processes).
	data := testutil.ReadFile(b, testutil.SNPDir+"evidence-v1.json")
	v := newVerifier(b, verify.Config{Now: testutil.FixtureTime(), Cache: verify.CacheConfig{Disable: true}})
	const batch = 10
	minFloor, minFresh := time.Duration(1<<62), time.Duration(1<<62)
	for range 30 {
		t0 := time.Now()
		for range batch {
			_ = f.verify()
		}
		t1 := time.Now()
		for range batch {
			if _, err := v.Evidence(context.Background(), data, []byte("challenge")); err != nil {
				b.Fatal(err)
			}
		}
		minFloor = min(minFloor, t1.Sub(t0))
		minFresh = min(minFresh, time.Since(t1))
	}
	b.ReportMetric(float64(minFloor.Nanoseconds())/batch, "floor-ns")
	b.ReportMetric(float64(minFresh.Nanoseconds())/batch, "fresh-ns")
	b.ReportMetric(float64(minFresh)/float64(minFloor), "fresh/floor")
}
