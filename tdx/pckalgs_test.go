package tdx_test

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/intelcert"
	"github.com/snp-vtpm/snp-vtpm/internal/tdxtest"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// hugeRSAKey is an RSA public key of bits bits (a random odd modulus: a
// forger needs no private key to make a verifier use it).
func hugeRSAKey(t *testing.T, bits int) *rsa.PublicKey {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
	return &rsa.PublicKey{N: n, E: 65537}
}

// pckChainSpec is a chain to forge under f's root: the CA's key and the
// algorithm the root signs it with, the PCK's key and the algorithm and
// key the PCK is signed with (signer nil: the CA's own ECDSA key).
type pckChainSpec struct {
	caPub, pckPub   any
	caAlg, pckAlg   x509.SignatureAlgorithm
	pckSigner       crypto.Signer
	sigSize         int // > 0: the PCK's signature replaced by as many random bytes
	wantInErr       string
	verifiesWithout bool   // an ordinary chain: must verify
	leafCN, caCN    string // "": the right names
}

func forgeChain(t *testing.T, f *tdxtest.FakeIntel, s pckChainSpec) []byte {
	t.Helper()
	nb, na := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := fakepki.CATemplate(2, pkix.Name{CommonName: cmp.Or(s.caCN, tdx.PlatformCACN)}, nb, na)
	caTmpl.SignatureAlgorithm = s.caAlg
	ca, err := fakepki.Issue(caTmpl, f.Root, s.caPub, f.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := intelcert.SGXExtension(tdxtest.AzurePCK())
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: cmp.Or(s.leafCN, tdx.PCKCertCN)}, NotBefore: nb, NotAfter: na,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{ext}, SignatureAlgorithm: s.pckAlg}
	// The issuer as the forger presents it: the CA's name, the forger's key.
	parent := &x509.Certificate{Subject: ca.Subject, RawSubject: ca.RawSubject, SubjectKeyId: ca.SubjectKeyId, PublicKey: s.pckSigner.Public()}
	der, err := x509.CreateCertificate(rand.Reader, leaf, parent, s.pckPub, s.pckSigner)
	if err != nil {
		t.Fatal(err)
	}
	if s.sigSize > 0 {
		der = withSignature(t, der, s.sigSize)
	}
	var out []byte
	for _, d := range [][]byte{der, ca.Raw} {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

// TestPCKChainAlgorithmsBeforeSignatures: a PCK chain whose certificates
// do not all have ECDSA P-256 keys and ECDSA-SHA256 signatures is refused
// (ErrPCKChain, naming the certificate) before any signature is verified.
// The forged PCKs carry an invalid signature: had x509 verified it, the
// error would be x509's, not the algorithm check's. (Measured without the
// check: 5 to 12 ms of CPU for an RSA-16384 CA, 46 ms for RSA-32768; with
// it, well under 1 ms.)
func TestPCKChainAlgorithmsBeforeSignatures(t *testing.T) {
	f := tdxtest.New(t)
	caKey, pckKey := f.CAKey, ecKey(t, elliptic.P256())
	rsaSigner, err := rsa.GenerateKey(rand.Reader, 1024) // signs the leaf "as" the RSA CA
	if err != nil {
		t.Fatal(err)
	}
	p384 := ecKey(t, elliptic.P384())
	for name, s := range map[string]pckChainSpec{
		"ordinary": {caPub: &caKey.PublicKey, pckPub: &pckKey.PublicKey, caAlg: x509.ECDSAWithSHA256, pckAlg: x509.ECDSAWithSHA256,
			pckSigner: caKey, verifiesWithout: true},
		"RSA-16384 CA": {caPub: hugeRSAKey(t, 16384), pckPub: &pckKey.PublicKey, caAlg: x509.ECDSAWithSHA256, pckAlg: x509.SHA256WithRSA,
			pckSigner: rsaSigner, sigSize: 2048, wantInErr: "intermediate CA's key is RSA-16384"},
		"RSA-8192 CA": {caPub: hugeRSAKey(t, 8192), pckPub: &pckKey.PublicKey, caAlg: x509.ECDSAWithSHA256, pckAlg: x509.SHA256WithRSA,
			pckSigner: rsaSigner, sigSize: 1024, wantInErr: "intermediate CA's key is RSA-8192"},
		"RSA PCK": {caPub: &caKey.PublicKey, pckPub: hugeRSAKey(t, 4096), caAlg: x509.ECDSAWithSHA256, pckAlg: x509.ECDSAWithSHA256,
			pckSigner: caKey, wantInErr: "PCK certificate's key is RSA-4096"},
		"P-384 PCK": {caPub: &caKey.PublicKey, pckPub: &p384.PublicKey, caAlg: x509.ECDSAWithSHA256, pckAlg: x509.ECDSAWithSHA256,
			pckSigner: caKey, wantInErr: "PCK certificate's key is ECDSA P-384"},
		"PCK signed ECDSA-SHA384": {caPub: &caKey.PublicKey, pckPub: &pckKey.PublicKey, caAlg: x509.ECDSAWithSHA256, pckAlg: x509.ECDSAWithSHA384,
			pckSigner: caKey, wantInErr: "PCK certificate is signed with ECDSA-SHA384"},
		"CA signed ECDSA-SHA512": {caPub: &caKey.PublicKey, pckPub: &pckKey.PublicKey, caAlg: x509.ECDSAWithSHA512, pckAlg: x509.ECDSAWithSHA256,
			pckSigner: caKey, wantInErr: "intermediate CA is signed with ECDSA-SHA512"},
	} {
		q := &tdx.Quote{PCKChain: forgeChain(t, f, s)}
		start := time.Now()
		v, err := q.VerifyChain(tdx.VerifyOptions{Root: f.Root, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		elapsed := time.Since(start)
		if s.verifiesWithout {
			if err != nil || v.SGX.PCESVN != 11 {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, tdx.ErrPCKChain) || !strings.Contains(err.Error(), s.wantInErr) {
			t.Errorf("%s: %v, want ErrPCKChain: %s", name, err, s.wantInErr)
		}
		if elapsed > 50*time.Millisecond {
			t.Errorf("%s: refused after %v", name, elapsed)
		}
	}
}

// TestPCKChainNamesBounded: a forged chain's certificate names reach the
// error cut short: an 8000-byte common name of control characters (32 000
// bytes once quoted) makes an error of a few hundred bytes, quoting the
// name's first tdx.MaxNameInError bytes (the bound package pcs uses too).
func TestPCKChainNamesBounded(t *testing.T) {
	f := tdxtest.New(t)
	huge := strings.Repeat("\x01", 8000)
	for name, s := range map[string]pckChainSpec{
		"leaf": {leafCN: huge, wantInErr: "leaf is"},
		"CA":   {caCN: huge, wantInErr: "intermediate is"},
	} {
		s.caPub, s.pckPub, s.caAlg, s.pckAlg, s.pckSigner = &f.CAKey.PublicKey, &ecKey(t, elliptic.P256()).PublicKey, x509.ECDSAWithSHA256, x509.ECDSAWithSHA256, f.CAKey
		q := &tdx.Quote{PCKChain: forgeChain(t, f, s)}
		_, err := q.VerifyChain(tdx.VerifyOptions{Root: f.Root, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if !errors.Is(err, tdx.ErrPCKChain) || !strings.Contains(err.Error(), s.wantInErr) {
			t.Errorf("%s: %v, want ErrPCKChain: %s", name, err, s.wantInErr)
		} else if len(err.Error()) > 512 {
			t.Errorf("%s: error of %d bytes", name, len(err.Error()))
		} else if quoted := fmt.Sprintf("%q", format.Truncate(huge, tdx.MaxNameInError)); !strings.Contains(err.Error(), quoted) {
			t.Errorf("%s: %v does not quote the name cut at tdx.MaxNameInError", name, err)
		}
	}
}

// withSignature replaces the signature of the certificate der by size
// random bytes (below any modulus of size bytes): what makes an RSA
// verifier do the whole modular exponentiation.
func withSignature(t *testing.T, der []byte, size int) []byte {
	t.Helper()
	var c struct {
		TBS, Alg asn1.RawValue
		Sig      asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &c); err != nil || len(rest) != 0 {
		t.Fatalf("certificate: %v", err)
	}
	sig := make([]byte, size)
	if _, err := rand.Read(sig[1:]); err != nil {
		t.Fatal(err)
	}
	c.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * size}
	out, err := asn1.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
