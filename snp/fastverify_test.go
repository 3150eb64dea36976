package snp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/internal/fastverify"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// realCerts returns every certificate of the real AMD PEM files in testdata.
func realCerts(t *testing.T) []*x509.Certificate {
	var out []*x509.Certificate
	for _, f := range testutil.AMDCertFiles() {
		out = append(out, testutil.Certificates(t, f)...)
	}
	return out
}

// TestCertSignatureMatchesX509 checks that checkCertSignature returns what
// x509's CheckSignature returns for every pair of real certificates (issuer
// and subject, or not), and for their signatures corrupted.
func TestCertSignatureMatchesX509(t *testing.T) {
	certs := realCerts(t)
	for _, p := range []Product{Milan, Genoa, Turin} {
		for _, c := range DefaultRoots().Chains(p) {
			certs = append(certs, c.ARK, c.ASK)
		}
	}
	// mutation31: an RSA issuer's PKCS #1 v1.5 signatures (no AMD
	// certificate has one) take x509's path, not the PSS fast path.
	certs = append(certs, pkcs1Certs(t)...)
	verified := 0
	for _, ica := range certs {
		for _, c := range certs {
			want := ica.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
			got := checkCertSignature(ica, c)
			if errText(got) != errText(want) {
				t.Fatalf("%q by %q: got %v, x509 %v", c.Subject.CommonName, ica.Subject.CommonName, got, want)
			}
			if want != nil {
				continue
			}
			verified++
			for _, i := range []int{0, 1, len(c.Signature) / 2, len(c.Signature) - 1} {
				bad := *c
				bad.Signature = append([]byte(nil), c.Signature...)
				bad.Signature[i] ^= 0x01
				if errText(checkCertSignature(ica, &bad)) != errText(ica.CheckSignature(bad.SignatureAlgorithm, bad.RawTBSCertificate, bad.Signature)) || checkCertSignature(ica, &bad) == nil {
					t.Fatalf("%q by %q, signature byte %d flipped: results differ or it verified", c.Subject.CommonName, ica.Subject.CommonName, i)
				}
			}
		}
	}
	if verified < 8 {
		t.Fatalf("only %d real signatures verified", verified)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestReportSignatureMatchesECDSA checks fastverify against ecdsa.Verify on
// every real report with its VCEK, and on the reports corrupted: signed
// bytes, R and S flipped, R and S swapped, S replaced by n - S (high s,
// which both accept).
func TestReportSignatureMatchesECDSA(t *testing.T) {
	n := elliptic.P384().Params().N
	for _, f := range fixtures(t) {
		v, err := ParseVCEK(f.vcekDER)
		if err != nil {
			t.Fatal(err)
		}
		r0 := leInt(f.report[OffsetSignatureR:OffsetSignatureS])
		s0 := leInt(f.report[OffsetSignatureS:signatureEnd])
		check := func(name string, raw []byte, r, s *big.Int, want bool) {
			d := sha512.Sum384(raw[:SignedSize])
			std := ecdsa.Verify(v.key, d[:], r, s)
			if got := fastverify.VerifyECDSAP384(v.key, d[:], r, s); got != std || std != want {
				t.Errorf("%s, %s: fastverify %v, ecdsa.Verify %v, want %v", f.name, name, got, std, want)
			}
		}
		check("real", f.report, r0, s0, true)
		check("high s", f.report, r0, new(big.Int).Sub(n, s0), true)
		check("r, s swapped", f.report, s0, r0, false)
		for _, i := range []int{0, 0x50, 0x1A0, SignedSize - 1} {
			bad := append([]byte(nil), f.report...)
			bad[i] ^= 1
			check("signed byte flipped", bad, r0, s0, false)
		}
		check("r + 1", f.report, new(big.Int).Add(r0, big.NewInt(1)), s0, false)
		check("s + n", f.report, r0, new(big.Int).Add(s0, n), false)
		rep, err := ParseReport(f.report)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.VerifyReportSignature(rep); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
	}
}

// pkcs1Certs returns a self-signed RSA CA (SHA-256 with RSA, PKCS #1
// v1.5) and a certificate it signs with SHA-384 with RSA.
func pkcs1Certs(t *testing.T) []*x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pkcs1 CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true,
		SignatureAlgorithm: x509.SHA256WithRSA}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pkcs1 leaf"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), SignatureAlgorithm: x509.SHA384WithRSA}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{ca, c}
}
