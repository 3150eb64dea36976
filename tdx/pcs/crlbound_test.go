package pcs

import (
	"testing"
	"time"

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
