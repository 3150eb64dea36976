package pcs

import (
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/internal/fakepki"
	"github.com/snp-vtpm/snp-vtpm/internal/testutil"
)

// TestParseCRLEntriesBounded: a PCK or root CRL of more than
// certs.MaxCRLEntries entries is too large, named by its field, before
// x509 parses it.
func TestParseCRLEntriesBounded(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{certs.MaxCRLEntries, certs.MaxCRLEntries + 1} {
		der, err := fakepki.SelfIssuedCRL("Intel SGX PCK Platform CA", n, at)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseCRL(der, "pckCrl")
		switch {
		case n <= certs.MaxCRLEntries && (err != nil || len(l.RevokedCertificateEntries) != n):
			t.Errorf("%d entries: %v", n, err)
		case n > certs.MaxCRLEntries && !testutil.IsFieldError(err, "pckCrl.revokedCertificates", format.ErrTooLarge):
			t.Errorf("%d entries: %v", n, err)
		}
	}
}

// TestParseCRLIncomplete: a PCK or root CRL that is a delta CRL, has an
// issuing distribution point or a critical CRL or entry extension is
// refused (a field error wrapping format.ErrUnexpectedField): read as
// Intel's complete CRL it could hide a revoked PCK or CA. Non-critical
// extensions and reason codes, as Intel's CRLs carry, are not.
func TestParseCRLIncomplete(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases, err := fakepki.EditedCRLs("Intel SGX PCK Platform CA", at)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := ParseCRL(c.DER, "pckCrl")
		if refused := testutil.IsFieldError(err, "pckCrl", format.ErrUnexpectedField); refused != c.Refuse || (!c.Refuse && err != nil) {
			t.Errorf("%s: %v, want refused %v", c.Name, err, c.Refuse)
		}
	}
}

// TestParseCRLNoNextUpdate (mutation29b): a CRL without nextUpdate (its
// signature is not ParseCRL's to check) is a missing field: it would
// never be stale.
func TestParseCRLNoNextUpdate(t *testing.T) {
	der, err := fakepki.SelfIssuedCRL("Intel SGX PCK Platform CA", 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCRL(der, "pckCrl"); err != nil {
		t.Fatalf("with nextUpdate: %v", err)
	}
	_, err = ParseCRL(withoutNextUpdate(t, der), "pckCrl")
	if !testutil.IsFieldError(err, "pckCrl.nextUpdate", format.ErrMissingField) {
		t.Fatalf("without nextUpdate: %v", err)
	}
}

// withoutNextUpdate returns the CRL der with the nextUpdate time left out
// of its TBSCertList (the signature, no longer over these bytes, kept).
func withoutNextUpdate(t *testing.T, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var outer, tbs, rest cryptobyte.String
	var version, alg, issuer, this, next cryptobyte.String
	var thisTag, nextTag cbasn1.Tag
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&version, cbasn1.INTEGER) || !tbs.ReadASN1Element(&alg, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) || !tbs.ReadAnyASN1Element(&this, &thisTag) ||
		!tbs.ReadAnyASN1Element(&next, &nextTag) || (nextTag != cbasn1.UTCTime && nextTag != cbasn1.GeneralizedTime) {
		t.Fatal("not a v2 CRL with nextUpdate")
	}
	rest = outer
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, e := range [][]byte{version, alg, issuer, this, tbs} {
				b.AddBytes(e)
			}
		})
		b.AddBytes(rest)
	})
	return b.BytesOrPanic()
}
