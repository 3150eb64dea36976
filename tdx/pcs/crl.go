package pcs

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/snp-vtpm/snp-vtpm/collateral/certs"
	"github.com/snp-vtpm/snp-vtpm/format"
	"github.com/snp-vtpm/snp-vtpm/tdx"
)

// MaxCRLSize bounds a CRL (Intel's PCK CRLs are a few KiB).
const MaxCRLSize = 1 << 20

// ParseCRL reads a DER CRL, bounded (MaxCRLSize bytes, at most
// certs.MaxCRLEntries revoked entries, counted before parsing), with
// nothing after it, and refuses one that is not a complete CRL
// (certs.CheckCRLExtensions: a delta CRL, an issuing distribution point,
// a critical extension).
func ParseCRL(der []byte, field string) (*x509.RevocationList, error) {
	if len(der) > MaxCRLSize {
		return nil, fieldErrf(field, format.ErrTooLarge, "%d > %d bytes", len(der), MaxCRLSize)
	}
	if err := certs.CheckCRLEntries(der); err != nil {
		return nil, fieldErr(field+".revokedCertificates", err)
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fieldErr(field, fmt.Errorf("%w: %v", format.ErrBadEncoding, err))
	}
	if l.NextUpdate.IsZero() {
		return nil, fieldErrf(field+".nextUpdate", format.ErrMissingField, "a CRL without nextUpdate is never stale, so never accepted")
	}
	if err := certs.CheckCRLExtensions(l); err != nil {
		return nil, fieldErr(field, err) // a delta, scoped or indirect CRL, a critical extension
	}
	return l, nil
}

// checkCRL verifies l as issued by issuer and current at now, then fails
// with ErrRevoked if one of certs is on it.
func checkCRL(l *x509.RevocationList, issuer *x509.Certificate, now time.Time, what string, certs ...*x509.Certificate) error {
	if l == nil {
		return collErr("no %s", what)
	}
	if !bytes.Equal(l.RawIssuer, issuer.RawSubject) {
		if got, want := l.Issuer.CommonName, issuer.Subject.CommonName; got == want {
			// A look-alike (the emulated CVM's fake Intel CAs share
			// Intel's common names): name them whole.
			return collErr("%s is issued by %q, not by %q (the same common name, another issuer)", what,
				format.Truncate(format.ReadableName(l.Issuer.String()), 160), format.Truncate(format.ReadableName(issuer.Subject.String()), 160))
		}
		return collErr("%s is issued by %q, not by %q", what, format.Truncate(l.Issuer.CommonName, tdx.MaxNameInError), issuer.Subject.CommonName)
	}
	if err := l.CheckSignatureFrom(issuer); err != nil {
		return collErr("%s is not signed by %q: %v", what, issuer.Subject.CommonName, err)
	}
	if err := window(what, l.ThisUpdate, l.NextUpdate, now); err != nil {
		return err
	}
	for _, e := range l.RevokedCertificateEntries {
		for _, c := range certs {
			if serialEqual(e.SerialNumber, c.SerialNumber) {
				return fmt.Errorf("%w: %q serial %x is on the %s (revoked %s)", ErrRevoked, c.Subject.CommonName, c.SerialNumber, what, e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

func serialEqual(a, b *big.Int) bool { return a != nil && b != nil && a.Cmp(b) == 0 }
