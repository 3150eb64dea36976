package certs

import (
	"crypto/x509"
	"encoding/asn1"
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
// "revokedCertificates" wrapping format.ErrTooLarge), then refuses what
// CheckCRLExtensions refuses. Nothing else is checked beyond the
// encoding: issuer, signature and dates are the caller's.
func ParseCRL(der []byte) (*x509.RevocationList, error) {
	if err := CheckCRLEntries(der); err != nil {
		return nil, &FormatError{Field: "revokedCertificates", Err: err}
	}
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if err := CheckCRLExtensions(l); err != nil {
		return nil, err
	}
	return l, nil
}

// The CRL extensions that narrow what a CRL covers (RFC 5280 5.2.4, 5.2.5):
// a delta CRL lists only what changed since a base CRL, an issuing
// distribution point limits the certificates or reasons it covers. Read
// as a complete CRL, either would hide what its issuer revoked.
var (
	oidDeltaCRLIndicator        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
)

// CheckCRLExtensions refuses a CRL that cannot be read as the complete
// list of what its issuer revoked: one with a delta CRL indicator or an
// issuing distribution point (critical or not), with any other critical
// extension, or with a critical entry extension (such as the
// certificateIssuer of an indirect CRL, whose entries name another
// issuer's certificates). RFC 5280 (5.2, 5.3) forbids using a CRL with a
// critical extension the reader does not process, and x509 does not
// enforce that. Real AMD and Intel CRLs carry only the non-critical
// authority key identifier and CRL number, and entry reason codes. The
// error is a *FormatError wrapping format.ErrUnexpectedField.
func CheckCRLExtensions(l *x509.RevocationList) error {
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			return &FormatError{Field: "crlExtensions", Err: fmt.Errorf("%w: a delta CRL indicator (a delta CRL is not a complete list)", format.ErrUnexpectedField)}
		case e.Id.Equal(oidIssuingDistributionPoint):
			return &FormatError{Field: "crlExtensions", Err: fmt.Errorf("%w: an issuing distribution point (a CRL of limited scope)", format.ErrUnexpectedField)}
		case e.Critical:
			return &FormatError{Field: "crlExtensions", Err: fmt.Errorf("%w: unknown critical extension %s", format.ErrUnexpectedField, format.Truncate(e.Id.String(), 64))}
		}
	}
	for i, entry := range l.RevokedCertificateEntries {
		for _, e := range entry.Extensions {
			if e.Critical {
				return &FormatError{Field: fmt.Sprintf("revokedCertificates[%d].crlEntryExtensions", i), Err: fmt.Errorf("%w: critical extension %s", format.ErrUnexpectedField, format.Truncate(e.Id.String(), 64))}
			}
		}
	}
	return nil
}
