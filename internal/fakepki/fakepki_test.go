package fakepki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// newKeyFile returns a fresh P-256 key and its KeyFile for vendor.
func newKeyFile(tb testing.TB, vendor string) (*ecdsa.PrivateKey, []byte) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := KeyFile(vendor, k)
	if err != nil {
		tb.Fatal(err)
	}
	return k, b
}

func TestKeyFileRoundTrip(t *testing.T) {
	k, b := newKeyFile(t, "Intel")
	if !strings.HasPrefix(string(b), "PUBLIC TEST KEY of the snp-vtpm emulator's fake Intel chain.\n") {
		t.Errorf("no banner: %q", b)
	}
	got, err := ECDSAKey("k", b, elliptic.P256())
	if err != nil || !got.Equal(k) {
		t.Fatalf("ECDSAKey: %v", err)
	}
	if _, err := ECDSAKey("k", b, elliptic.P384()); !errors.Is(err, ErrKey) {
		t.Errorf("P-256 key as P-384: %v", err)
	}
	if _, err := RSAKey("k", b, 2048); !errors.Is(err, ErrKey) {
		t.Errorf("ECDSA key as RSA: %v", err)
	}
}

func TestParseKeyErrors(t *testing.T) {
	for name, b := range map[string]string{
		"empty":      "",
		"wrong type": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad der":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParseKey(name, []byte(b)); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v, want ErrKey", name, err)
		}
	}
}

func TestIssueAndCRL(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nb, na := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := CATemplate(7, pkix.Name{CommonName: "root"}, nb, na)
	ca, err := Issue(tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA || ca.SerialNumber.Int64() != 7 || ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign || !ca.NotAfter.Equal(na) {
		t.Errorf("CA certificate: %+v", ca)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Error(err)
	}
	der, err := CRL(ca, k, []*big.Int{big.NewInt(3)}, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || crl.CheckSignatureFrom(ca) != nil {
		t.Fatalf("CRL: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 3 {
		t.Errorf("revoked: %+v", crl.RevokedCertificateEntries)
	}
}

// TestEditedCRLs: one CRL per edit, the incomplete ones marked to be
// refused, each issued by the named CA for the month from at and revoking
// serial 7.
func TestEditedCRLs(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases, err := EditedCRLs("edit CA", at)
	if err != nil {
		t.Fatal(err)
	}
	incomplete, complete := IncompleteCRLEdits(), CompleteCRLEdits()
	if len(cases) != len(incomplete)+len(complete) {
		t.Fatalf("%d cases, want %d", len(cases), len(incomplete)+len(complete))
	}
	for i, c := range cases {
		var want CRLEdit
		if i < len(incomplete) {
			want = incomplete[i]
		} else {
			want = complete[i-len(incomplete)]
		}
		l, err := x509.ParseRevocationList(c.DER)
		switch {
		case err != nil:
			t.Fatalf("%s: %v", c.Name, err)
		case c.Name != want.Name || c.Refuse != (i < len(incomplete)):
			t.Errorf("case %d is %q refuse %v, want %q refuse %v", i, c.Name, c.Refuse, want.Name, i < len(incomplete))
		case l.Issuer.CommonName != "edit CA" || !l.ThisUpdate.Equal(at) || !l.NextUpdate.Equal(at.AddDate(0, 1, 0)):
			t.Errorf("%s: issuer %q, %v..%v", c.Name, l.Issuer.CommonName, l.ThisUpdate, l.NextUpdate)
		case len(l.RevokedCertificateEntries) != 1 || l.RevokedCertificateEntries[0].SerialNumber.Int64() != 7:
			t.Errorf("%s: revoked %+v", c.Name, l.RevokedCertificateEntries)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	_, b := newKeyFile(f, "AMD")
	f.Add(b)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseKey("fuzz", b)
		if (s == nil) == (err == nil) {
			t.Fatalf("key %v with error %v", s, err)
		}
		if err != nil && !errors.Is(err, ErrKey) {
			t.Fatalf("error %v is not ErrKey", err)
		}
	})
}
