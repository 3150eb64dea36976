// Package tdxtest is for tests only: a self-made Intel SGX-like chain
// that signs TD quotes (tdx.Quote), to reach the checks that real quotes
// cannot (a quote under another root of the same subject, a TD with DEBUG
// set). Its chains are issued by internal/intelcert.
package tdxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// FakeIntel is a self-made Intel-like chain: a root with the very subject
// of Intel's SGX Root CA but its own key (naming a CRL at RootCRLURL), a
// Platform CA (or Processor CA, NewWith), a PCK of Intel's certificate
// profile with SGX extensions (FMSPC 00806f050000, PCESVN 11), and the
// quoting enclave's attestation key. go-tdx-guest, told to trust Root,
// accepts its quotes (tdx's differential test).
type FakeIntel struct {
	// Root is the self-made root.
	Root *x509.Certificate
	// RootKey signs under Root (a TCB signing certificate, the root CRL).
	RootKey *ecdsa.PrivateKey
	// CA is the Platform CA and CAKey its key (it signs the PCK CRL).
	CA    *x509.Certificate
	CAKey *ecdsa.PrivateKey
	// PCK is the PCK certificate that signs the QE report.
	PCK      *x509.Certificate
	chain    *intelcert.Chain
	chainPEM []byte
	pckKey   *ecdsa.PrivateKey
	attKey   *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// AzurePCK are the SGX extensions of the real Azure PCKs of FMSPC
// 00806f050000 (components 1..16 and CPUSVN 07 07 02 02 03 01 00 03,
// PCESVN 11, PCE-ID 0000).
func AzurePCK() tdx.PCKExtensions {
	x := tdx.PCKExtensions{FMSPC: [6]byte{0, 0x80, 0x6f, 5, 0, 0}, PCESVN: 11,
		CPUSVN: [16]byte{7, 7, 2, 2, 3, 1, 0, 3}}
	x.TCBComponents = x.CPUSVN
	return x
}

// RootCRLURL is the CRL distribution point of every FakeIntel root (a
// reserved .invalid name: fetch it from a fake, never the network).
const RootCRLURL = "https://certificates.invalid/IntelSGXRootCA.der"

// Options vary the chain of NewWith.
type Options struct {
	// ProcessorCA issues the PCK from an "Intel SGX PCK Processor CA".
	ProcessorCA bool
	// BarePCK issues a PCK certificate with fewer extensions than Intel's
	// profile (see intelcert.ChainSpec.BarePCK).
	BarePCK bool
}

// New makes a FakeIntel with fresh keys, valid 2020..2040: the PCK has
// Intel's profile and is issued by a Platform CA.
func New(t testing.TB) *FakeIntel {
	t.Helper()
	return NewWith(t, Options{})
}

// NewWith is New with the chain varied by o.
func NewWith(t testing.TB, o Options) *FakeIntel {
	t.Helper()
	intel, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeIntel{RootKey: newKey(t), CAKey: newKey(t), pckKey: newKey(t), attKey: newKey(t)}
	f.chain, err = intelcert.NewChain(intelcert.ChainSpec{
		RootSubject: intel.Subject, RawRootSubject: intel.RawSubject, // the very same subject bytes
		RootKey: f.RootKey, CAKey: f.CAKey, PCKKey: f.pckKey, SGX: AzurePCK(),
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		ProcessorCA: o.ProcessorCA, BarePCK: o.BarePCK, RootCRLURL: RootCRLURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Root, f.CA, f.PCK = f.chain.Root, f.chain.CA, f.chain.PCK
	for _, c := range []*x509.Certificate{f.PCK, f.CA, f.Root} {
		f.chainPEM = append(f.chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return f
}

// Sign makes q a quote of f: its PCK chain, attestation key, QE report
// data and both signatures, over q's header and body as they are.
func (f *FakeIntel) Sign(t testing.TB, q *tdx.Quote) {
	if err := intelcert.SignQuote(q, f.chainPEM, f.pckKey, f.attKey); err != nil {
		t.Fatal(err)
	}
}

// SignQEReport has f's PCK sign q's QE report as it is (its report data
// unchanged): a quote whose QE report says what a test wants, signed.
func (f *FakeIntel) SignQEReport(t testing.TB, q *tdx.Quote) {
	sig, err := intelcert.SignRaw(f.pckKey, q.QEReport[:])
	if err != nil {
		t.Fatal(err)
	}
	q.QEReportSignature = sig
}
