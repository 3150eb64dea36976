package certs

import (
	"crypto/x509"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/snp-vtpm/snp-vtpm/format"
)

// MaxCRLEntries bounds the revoked entries of a CRL. Real ones are short
// (Intel's PCK Platform CA CRL: 44 entries; the root CA's: none; AMD's
// product CRLs: a few), but x509.ParseRevocationList spends some 800
// bytes of memory on each entry of about 20: a 1 MiB CRL of minimal
// entries would cost some 40 MiB before its signature is checked.
const MaxCRLEntries = 10000

// CheckCRLEntries counts the revoked entries of the DER CRL der without
// allocating, and fails (wrapping format.ErrTooLarge) when there are more
// than MaxCRLEntries. A CRL whose structure it cannot follow is left to
// x509.ParseRevocationList to reject: no error here.
func CheckCRLEntries(der []byte) error { return checkCRLEntries(der, MaxCRLEntries) }

func checkCRLEntries(der []byte, limit int) error {
	in := cryptobyte.String(der)
	var list, tbs, revoked cryptobyte.String
	if !in.ReadASN1(&list, casn1.SEQUENCE) || !list.ReadASN1(&tbs, casn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(casn1.INTEGER) || // version
		!tbs.SkipASN1(casn1.SEQUENCE) || // signature algorithm
		!tbs.SkipASN1(casn1.SEQUENCE) || // issuer
		!skipTime(&tbs) { // thisUpdate
		return nil
	}
	if tbs.PeekASN1Tag(casn1.UTCTime) || tbs.PeekASN1Tag(casn1.GeneralizedTime) {
		if !skipTime(&tbs) { // nextUpdate
			return nil
		}
	}
	if !tbs.PeekASN1Tag(casn1.SEQUENCE) || !tbs.ReadASN1(&revoked, casn1.SEQUENCE) {
		return nil // no revoked entries
	}
	for n := 0; !revoked.Empty(); n++ {
		if n == limit {
			return fmt.Errorf("%w: more than %d revoked entries", format.ErrTooLarge, limit)
		}
		if !revoked.SkipASN1(casn1.SEQUENCE) {
			return nil
		}
	}
	return nil
}

func skipTime(s *cryptobyte.String) bool {
	var v cryptobyte.String
	var tag casn1.Tag
	return s.ReadAnyASN1(&v, &tag) && (tag == casn1.UTCTime || tag == casn1.GeneralizedTime)
}

// ParseCRL parses a DER CRL after CheckCRLEntries (a *FormatError of field
// "revokedCertificates" wrapping format.ErrTooLarge). Nothing is checked
// beyond the encoding: issuer, signature and dates are the caller's.
func ParseCRL(der []byte) (*x509.RevocationList, error) {
	if err := CheckCRLEntries(der); err != nil {
		return nil, &FormatError{Field: "revokedCertificates", Err: err}
	}
	return x509.ParseRevocationList(der)
}
