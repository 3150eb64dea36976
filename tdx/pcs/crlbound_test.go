package pcs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
)

// TestParseCRLEntriesBounded: a PCK or root CRL of more than
// certs.MaxCRLEntries entries is too large, named by its field, before
// x509 parses it.
func TestParseCRLEntriesBounded(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tmpl := fakepki.CATemplate(1, pkix.Name{CommonName: "Intel SGX PCK Platform CA"}, at, at.AddDate(1, 0, 0))
	ca, err := fakepki.Issue(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{certs.MaxCRLEntries, certs.MaxCRLEntries + 1} {
		serials := make([]*big.Int, n)
		for i := range serials {
			serials[i] = big.NewInt(int64(i + 1))
		}
		der, err := fakepki.CRL(ca, key, serials, at, at.AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseCRL(der, "pckCrl")
		var fe *format.Error
		switch {
		case n <= certs.MaxCRLEntries && (err != nil || len(l.RevokedCertificateEntries) != n):
			t.Errorf("%d entries: %v", n, err)
		case n > certs.MaxCRLEntries && (!errors.Is(err, format.ErrTooLarge) || !errors.As(err, &fe) || fe.Field != "pckCrl.revokedCertificates"):
			t.Errorf("%d entries: %v", n, err)
		}
	}
}
