// Package tdxtest is for tests only: a self-made Intel SGX-like chain
// that signs TD quotes (tdx.Quote), to reach the checks that real quotes
// cannot (a quote under another root of the same subject, a TD with DEBUG
// set).
package tdxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// FakeIntel is a self-made Intel-like chain: a root with the very subject
// of Intel's SGX Root CA but its own key, a Platform CA, a PCK with SGX
// extensions (FMSPC 00806f050000, PCESVN 11), and the quoting enclave's
// attestation key.
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

func certify(t testing.TB, tmpl, parent *x509.Certificate, pub any, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	var c *x509.Certificate
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err == nil {
		c, err = x509.ParseCertificate(der)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sgxExtension encodes the SGX extensions: TCB (components, PCESVN, CPUSVN), PCE-ID, FMSPC.
func sgxExtension(t testing.TB) pkix.Extension {
	type entry struct {
		ID    asn1.ObjectIdentifier
		Value any
	}
	base := asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	arc := func(a ...int) asn1.ObjectIdentifier { return append(append(asn1.ObjectIdentifier{}, base...), a...) }
	// Components 1..16 and CPUSVN as on the real Azure PCKs of FMSPC 00806f050000.
	cpusvn := []byte{7, 7, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	var tcb []entry
	for i, c := range cpusvn {
		tcb = append(tcb, entry{arc(2, i+1), int(c)})
	}
	tcb = append(tcb, entry{arc(2, 17), 11}, entry{arc(2, 18), cpusvn})
	v, err := asn1.Marshal([]entry{{arc(2), tcb}, {arc(3), []byte{0, 0}}, {arc(4), []byte{0, 0x80, 0x6f, 5, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: base, Value: v}
}

// New makes a FakeIntel with fresh keys, valid 2020..2040.
func New(t testing.TB) *FakeIntel {
	t.Helper()
	intel, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	rootKey, caKey := newKey(t), newKey(t)
	f := &FakeIntel{pckKey: newKey(t), attKey: newKey(t)}
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := func(serial int64, subj pkix.Name) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subj, NotBefore: nb, NotAfter: na,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rootTmpl := ca(1, intel.Subject)
	rootTmpl.RawSubject = intel.RawSubject // the very same subject bytes
	f.Root = certify(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	inter := certify(t, ca(2, pkix.Name{CommonName: tdx.PlatformCACN}), f.Root, &caKey.PublicKey, rootKey)
	f.RootKey, f.CA, f.CAKey = rootKey, inter, caKey
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: tdx.PCKCertCN},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{sgxExtension(t)}}
	leaf := certify(t, leafTmpl, inter, &f.pckKey.PublicKey, caKey)
	f.PCK = leaf
	for _, c := range []*x509.Certificate{leaf, inter, f.Root} {
		f.chainPEM = append(f.chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return f
}

func signRaw(t testing.TB, k *ecdsa.PrivateKey, msg []byte) [64]byte {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	var out [64]byte
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// Sign makes q a quote of f: its PCK chain, attestation key, QE report
// data and both signatures, over q's header and body as they are.
func (f *FakeIntel) Sign(t testing.TB, q *tdx.Quote) {
	q.PCKChain = f.chainPEM
	x, y := f.attKey.X.FillBytes(make([]byte, 32)), f.attKey.Y.FillBytes(make([]byte, 32))
	copy(q.AttestationKey[:], append(x, y...))
	rd := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
	copy(q.QEReport[320:352], rd[:])
	clear(q.QEReport[352:384])
	q.QEReportSignature = signRaw(t, f.pckKey, q.QEReport[:])
	q.Signature = signRaw(t, f.attKey, q.SignedBytes())
}
