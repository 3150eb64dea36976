package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/evidence"
	"github.com/snp-vtpm/snp-vtpm/hcl"
	"github.com/snp-vtpm/snp-vtpm/internal/fastverify"
	"github.com/snp-vtpm/snp-vtpm/internal/testev"
	"github.com/snp-vtpm/snp-vtpm/snp"
	"github.com/snp-vtpm/snp-vtpm/verify"
)

// realV1 is the real Milan v1 evidence of the fixtures (nonce "challenge"),
// realV0 the same VM's evidence in the CoCo v0 form (byte arrays as JSON
// numbers, about 4.5 times larger).
const (
	realV1 = "../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v1.json"
	realV0 = "../testdata/trustee-az-vtpm/az-snp-vtpm/evidence-v0.json"
)

// verifyConfigAt is the Config that verifies the real evidence.
func verifyConfigAt() verify.Config { return verify.Config{Now: fixtureTime} }

// fixtureTime is inside the validity of the real VCEK.
var fixtureTime = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// repeatQuotes is how many distinct quotes (nonces) the repeat benchmarks
// cycle through for one VM and one HCL report.
const repeatQuotes = 64

// sample is one evidence document and the nonce it must verify with.
type sample struct {
	data  []byte
	nonce []byte
}

// fixtures are built once per test binary: synthetic evidence costs RSA
// signatures.
type fixtures struct {
	real      sample // real v1 evidence
	realV0    sample // real v0 evidence of the same VM
	realFloor *floor // the floor of real

	synthRoots *snp.Roots
	synthFresh sample   // one synthetic v1 evidence
	synthFloor *floor   // the floor of synthFresh
	repeat     []sample // repeatQuotes synthetic v1 evidences: one VM, one HCL report, distinct quotes
	rsa2048    *rsa2048 // one RSA-2048 quote verification of repeat[0]

	refreshed      []sample // refreshedReports synthetic v2 evidences: one chip (VCEK), a new HCL report each
	refreshedFloor *floor   // the floor of refreshed[0]

	tdx      sample    // real Azure TDX v1 evidence
	tdxFloor *tdxFloor // the floor of tdx
}

// refreshedReports is how many v2 evidences (HCL report refreshed with the
// nonce) the refreshed benchmarks cycle through.
const refreshedReports = 16

var (
	fixOnce sync.Once
	fix     *fixtures
	fixErr  error
)

func getFixtures(tb testing.TB) *fixtures {
	tb.Helper()
	fixOnce.Do(func() { fix, fixErr = buildFixtures() })
	if fixErr != nil {
		tb.Fatal(fixErr)
	}
	return fix
}

func buildFixtures() (*fixtures, error) {
	f := &fixtures{}
	data, err := os.ReadFile(realV1)
	if err != nil {
		return nil, err
	}
	f.real = sample{data: data, nonce: []byte("challenge")}
	if data, err = os.ReadFile(realV0); err != nil {
		return nil, err
	}
	f.realV0 = sample{data: data, nonce: []byte("challenge")}
	if f.realFloor, err = newFloor(data, snp.DefaultRoots()); err != nil {
		return nil, fmt.Errorf("real floor: %w", err)
	}
	if f.tdx, f.tdxFloor, err = newTDX(); err != nil {
		return nil, fmt.Errorf("TDX: %w", err)
	}

	chain := testev.PrivateChain(snp.Milan)
	f.synthRoots = chain.Roots()
	vm, err := newSyntheticVM()
	if err != nil {
		return nil, err
	}
	f.synthFresh, err = vm.sample([]byte("bench fresh nonce"))
	if err != nil {
		return nil, err
	}
	if f.synthFloor, err = newFloor(f.synthFresh.data, f.synthRoots); err != nil {
		return nil, fmt.Errorf("synthetic floor: %w", err)
	}
	for i := range repeatQuotes {
		s, err := vm.sample(fmt.Appendf(nil, "bench repeat nonce %04d", i))
		if err != nil {
			return nil, err
		}
		f.repeat = append(f.repeat, s)
	}
	if f.rsa2048, err = newRSA2048(f.repeat[0].data); err != nil {
		return nil, err
	}
	vcek := vm.ev.VCEK
	for i := range refreshedReports {
		e, err := (&testev.Builder{Version: 2, Nonce: fmt.Appendf(nil, "bench refreshed nonce %04d", i), VCEKDER: vcek}).Build()
		if err != nil {
			return nil, err
		}
		f.refreshed = append(f.refreshed, sample{data: e.JSON, nonce: e.Nonce})
	}
	if f.refreshedFloor, err = newFloor(f.refreshed[0].data, f.synthRoots); err != nil {
		return nil, fmt.Errorf("refreshed floor: %w", err)
	}
	// Every sample must verify, or the benchmarks measure failures.
	for _, s := range append(append([]sample{f.synthFresh}, f.repeat...), f.refreshed...) {
		if _, err := verify.Evidence(context.Background(), s.data, s.nonce, verify.Config{Roots: f.synthRoots}); err != nil {
			return nil, fmt.Errorf("synthetic evidence does not verify: %w", err)
		}
	}
	for _, s := range []sample{f.real, f.realV0} {
		if _, err := verify.Evidence(context.Background(), s.data, s.nonce, verifyConfigAt()); err != nil {
			return nil, fmt.Errorf("real evidence does not verify: %w", err)
		}
	}
	return f, nil
}

// syntheticVM is one synthetic Azure CVM (testev, Milan, private chain):
// one HCL report and VCEK, and an attestation key that signs a new quote
// for every nonce, as a real VM does when it attests again (v1 evidence:
// the HCL report is not refreshed).
type syntheticVM struct {
	ev *evidence.Evidence // template; Quote is replaced per nonce
	ak *rsa.PrivateKey
}

func newSyntheticVM() (*syntheticVM, error) {
	e, err := (&testev.Builder{Version: 1}).Build()
	if err != nil {
		return nil, err
	}
	return &syntheticVM{ev: e.Evidence, ak: testev.AKKey()}, nil
}

// sample returns the VM's evidence for nonce: the same HCL report and VCEK,
// a new TPMS_ATTEST with extraData = nonce, signed by the AK.
func (vm *syntheticVM) sample(nonce []byte) (sample, error) {
	data, err := testev.Reattest(vm.ev, vm.ak, nonce)
	if err != nil {
		return sample{}, err
	}
	return sample{data: data, nonce: nonce}, nil
}

// floor is the cryptography no verifier of fresh evidence can skip: the
// SNP report's ECDSA P-384 signature by the VCEK, the VCEK's RSA-4096 PSS
// signature by the ASK, the quote's RSA-2048 PKCS#1 v1.5 signature by the
// AK, each over the hash of the bytes actually signed (computed on every
// call). Signatures and keys are decoded beforehand.
type floor struct {
	report    []byte   // 0x2A0 signed bytes
	reportSig []byte   // ASN.1 (r, s)
	r, s      *big.Int // the same (r, s), for fastverify
	vcekKey   *ecdsa.PublicKey

	tbs     []byte // the VCEK's TBSCertificate
	vcekSig []byte
	askKey  *rsa.PublicKey

	rsa2048
}

// rsa2048 is one RSA-2048 PKCS#1 v1.5 SHA-256 verification: the quote's.
type rsa2048 struct {
	msg   []byte
	sig   []byte
	akKey *rsa.PublicKey
}

var pssOpts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

func (f *floor) verify() error {
	return f.check("floor", f.reportOK, rsa.VerifyPSS)
}

// verifyFast is the floor through internal/fastverify, as package snp
// verifies: the report's ECDSA P-384 and the VCEK's RSA-4096 PSS signatures
// in variable time; the quote's RSA-2048 signature with crypto/rsa (which
// is faster at 2048 bits than math/big's exponentiation).
func (f *floor) verifyFast() error {
	return f.check("fast floor", func() bool {
		d384 := sha512.Sum384(f.report)
		return fastverify.VerifyECDSAP384(f.vcekKey, d384[:], f.r, f.s)
	}, fastverify.VerifyPSS)
}

// check verifies the report's signature with reportOK, the VCEK's with pss
// and the quote's; name starts its errors.
func (f *floor) check(name string, reportOK func() bool,
	pss func(*rsa.PublicKey, crypto.Hash, []byte, []byte, *rsa.PSSOptions) error) error {
	if !reportOK() {
		return errors.New(name + ": report signature")
	}
	t384 := sha512.Sum384(f.tbs)
	if err := pss(f.askKey, crypto.SHA384, t384[:], f.vcekSig, pssOpts); err != nil {
		return fmt.Errorf("%s: VCEK signature: %w", name, err)
	}
	return f.rsa2048.verify()
}

// reportOK is the SNP report's ECDSA P-384 verification.
func (f *floor) reportOK() bool {
	d384 := sha512.Sum384(f.report)
	return ecdsa.VerifyASN1(f.vcekKey, d384[:], f.reportSig)
}

// verifyRefreshed is the floor of evidence whose HCL report is new but
// whose VCEK was verified before: the report's and the quote's signatures.
func (f *floor) verifyRefreshed() error {
	if !f.reportOK() {
		return errors.New("floor: report signature")
	}
	return f.rsa2048.verify()
}

func (q *rsa2048) verify() error {
	d := sha256.Sum256(q.msg)
	return rsa.VerifyPKCS1v15(q.akKey, crypto.SHA256, d[:], q.sig)
}

// decodeAK decodes evidence and its HCL report and returns the AK the
// report's runtime data holds.
func decodeAK(data []byte) (*evidence.Evidence, *hcl.Report, *rsa.PublicKey, error) {
	ev, err := evidence.Decode(data)
	if err != nil {
		return nil, nil, nil, err
	}
	h, err := hcl.Parse(ev.HCLReport)
	if err != nil {
		return nil, nil, nil, err
	}
	ak, err := h.RuntimeData.AK()
	if err != nil {
		return nil, nil, nil, err
	}
	return ev, h, ak, nil
}

func newRSA2048(data []byte) (*rsa2048, error) {
	ev, _, ak, err := decodeAK(data)
	if err != nil {
		return nil, err
	}
	q := &rsa2048{msg: ev.Quote.Message, sig: ev.Quote.Signature, akKey: ak}
	return q, q.verify()
}

// leToDER encodes the little-endian integers r and s as an ASN.1 ECDSA signature.
func leToDER(rLE, sLE []byte) []byte {
	be := func(le []byte) []byte {
		b := make([]byte, len(le))
		for i, c := range le {
			b[len(le)-1-i] = c
		}
		b = bytes.TrimLeft(b, "\x00")
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	r, s := be(rLE), be(sLE)
	body := append(r, s...)
	if len(body) < 128 {
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	return append([]byte{0x30, 0x81, byte(len(body))}, body...)
}

func newFloor(data []byte, roots *snp.Roots) (*floor, error) {
	ev, h, ak, err := decodeAK(data)
	if err != nil {
		return nil, err
	}
	vcek, err := x509.ParseCertificate(ev.VCEK)
	if err != nil {
		return nil, err
	}
	v, err := snp.ParseVCEK(ev.VCEK)
	if err != nil {
		return nil, err
	}
	chains := roots.Chains(v.Product)
	if len(chains) == 0 {
		return nil, errors.New("no chain for the VCEK's product")
	}
	r := h.SNPReport
	f := &floor{
		report: r[:snp.SignedSize], reportSig: leToDER(r[0x2A0:0x2E8], r[0x2E8:0x330]), vcekKey: vcek.PublicKey.(*ecdsa.PublicKey),
		r: leInt(r[0x2A0:0x2E8]), s: leInt(r[0x2E8:0x330]),
		tbs: vcek.RawTBSCertificate, vcekSig: vcek.Signature, askKey: chains[0].ASK.PublicKey.(*rsa.PublicKey),
		rsa2048: rsa2048{msg: ev.Quote.Message, sig: ev.Quote.Signature, akKey: ak},
	}
	if err := f.verifyFast(); err != nil {
		return nil, err
	}
	return f, f.verify()
}

// leInt decodes a little-endian unsigned integer.
func leInt(le []byte) *big.Int {
	be := make([]byte, len(le))
	for i, c := range le {
		be[len(le)-1-i] = c
	}
	return new(big.Int).SetBytes(be)
}
