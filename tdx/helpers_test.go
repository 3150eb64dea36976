package tdx_test

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

	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// fixtureTime is when the real quotes' chains (and Intel's collateral in
// testdata/intel-collateral) are valid.
var fixtureTime = testutil.TDXFixtureTime()

// realQuotes are the real Azure TD quotes of testdata.
var realQuotes = []struct {
	file   string
	mrtd   string
	qesvn  uint16
	length int
}{
	{"trustee-az-vtpm/az-tdx-vtpm/td-quote.bin", "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b", 5, 5006},
	{"intel-collateral/azure-tdx-quote-teekit.bin", "fe27b2aa3a05ec56864c308aff03dd13c189a6112d21e417ec1afe626a8cb9d91482d1379ec02fe6308972950a930d0a", 6, 5010},
}

func parseFile(t testing.TB, file string) (*tdx.Quote, []byte) {
	t.Helper()
	b := testutil.ReadFile(t, file)
	q, err := tdx.ParseQuote(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return q, b
}

// fakeIntel is a self-made Intel-like chain: a root with the subject of
// Intel's SGX Root CA, a Platform CA, a PCK with SGX extensions, and the
// quoting enclave's attestation key.
type fakeIntel struct {
	root     *x509.Certificate
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

// sgxExtension encodes the SGX extensions: TCB (CPUSVN, PCESVN), PCE-ID, FMSPC.
func sgxExtension(t testing.TB) pkix.Extension {
	type entry struct {
		ID    asn1.ObjectIdentifier
		Value any
	}
	base := asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	arc := func(a ...int) asn1.ObjectIdentifier { return append(append(asn1.ObjectIdentifier{}, base...), a...) }
	tcb := []entry{{arc(2, 17), 11}, {arc(2, 18), make([]byte, 16)}}
	v, err := asn1.Marshal([]entry{{arc(2), tcb}, {arc(3), []byte{0, 0}}, {arc(4), []byte{0, 0x80, 0x6f, 5, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: base, Value: v}
}

func newFakeIntel(t testing.TB) *fakeIntel {
	t.Helper()
	intel, err := tdx.IntelRoot()
	if err != nil {
		t.Fatal(err)
	}
	rootKey, caKey := newKey(t), newKey(t)
	f := &fakeIntel{pckKey: newKey(t), attKey: newKey(t)}
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := func(serial int64, subj pkix.Name) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: subj, NotBefore: nb, NotAfter: na,
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	rootTmpl := ca(1, intel.Subject)
	rootTmpl.RawSubject = intel.RawSubject // the very same subject bytes
	f.root = certify(t, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	inter := certify(t, ca(2, pkix.Name{CommonName: tdx.PlatformCACN}), f.root, &caKey.PublicKey, rootKey)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: tdx.PCKCertCN},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{sgxExtension(t)}}
	leaf := certify(t, leafTmpl, inter, &f.pckKey.PublicKey, caKey)
	for _, c := range []*x509.Certificate{leaf, inter, f.root} {
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

// sign makes q a quote of f: its chain, attestation key, QE report data
// and both signatures.
func (f *fakeIntel) sign(t testing.TB, q *tdx.Quote) {
	q.PCKChain = f.chainPEM
	x, y := f.attKey.X.FillBytes(make([]byte, 32)), f.attKey.Y.FillBytes(make([]byte, 32))
	copy(q.AttestationKey[:], append(x, y...))
	rd := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
	copy(q.QEReport[320:352], rd[:])
	clear(q.QEReport[352:384])
	q.QEReportSignature = signRaw(t, f.pckKey, q.QEReport[:])
	q.Signature = signRaw(t, f.attKey, q.SignedBytes())
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
