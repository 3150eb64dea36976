// Package fakepki holds what the fake certificate chains of the emulator
// and of tests share whatever the vendor: the PEM form of their committed
// PUBLIC TEST KEYS (written by the gen programs of emulator/fakeamd and
// emulator/fakeintel, read by their fakekeys packages), and the issuing of
// CA certificates, certificates and CRLs (internal/amdcert,
// internal/intelcert and the tests' chains).
//
// It holds no keys (callers pass them in), is cgo-free and does no I/O.
package fakepki

import (
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
	"time"
)

// ErrKey reports an embedded key file that is not the key it should be.
var ErrKey = errors.New("fakepki: unusable key file")

// KeyFile returns the committed form of a fake chain's private key: a
// banner calling it a PUBLIC TEST KEY of the emulator's fake vendor chain,
// then the PKCS #8 key in a PEM "PRIVATE KEY" block.
func KeyFile(vendor string, key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("fakepki: %s key: %w", vendor, err)
	}
	banner := "PUBLIC TEST KEY of the snp-vtpm emulator's fake " + vendor + " chain.\n" +
		"It is published on purpose, protects nothing and has nothing to do with " + vendor + ".\n"
	return append([]byte(banner), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), nil
}

// ParseKey returns the PKCS #8 key of the first PEM block of b (a KeyFile),
// which must be a "PRIVATE KEY" block; name says which key in errors.
func ParseKey(name string, b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s: no PRIVATE KEY PEM block", ErrKey, name)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKey, name, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: %T is not a signing key", ErrKey, name, k)
	}
	return s, nil
}

// ECDSAKey is ParseKey for an ECDSA key on curve.
func ECDSAKey(name string, b []byte, curve elliptic.Curve) (*ecdsa.PrivateKey, error) {
	k, err := ParseKey(name, b)
	if err != nil {
		return nil, err
	}
	e, ok := k.(*ecdsa.PrivateKey)
	if !ok || e.Curve != curve {
		return nil, fmt.Errorf("%w: %s: not an ECDSA %s key", ErrKey, name, curve.Params().Name)
	}
	return e, nil
}

// RSAKey is ParseKey for an RSA key of bits bits.
func RSAKey(name string, b []byte, bits int) (*rsa.PrivateKey, error) {
	k, err := ParseKey(name, b)
	if err != nil {
		return nil, err
	}
	r, ok := k.(*rsa.PrivateKey)
	if !ok || r.N.BitLen() != bits {
		return nil, fmt.Errorf("%w: %s: not an RSA-%d key", ErrKey, name, bits)
	}
	return r, nil
}

// CATemplate returns the template of a CA certificate (certificate and CRL
// signing) with serial and subject, valid notBefore..notAfter.
func CATemplate(serial int64, subject pkix.Name, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// Issue issues tmpl for pub, signed by key as parent (tmpl itself for a
// self-signed certificate), and parses the result.
func Issue(tmpl, parent *x509.Certificate, pub any, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("fakepki: issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// CRL issues a CRL (number 1) by issuer, valid thisUpdate..nextUpdate,
// revoking serials (at thisUpdate), and returns its DER.
func CRL(issuer *x509.Certificate, key crypto.Signer, serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	return EditedCRL(issuer, key, serials, thisUpdate, nextUpdate, nil)
}

// EditedCRL is CRL with edit applied to the template before it is signed
// (nil: none), for CRLs with extensions.
func EditedCRL(issuer *x509.Certificate, key crypto.Signer, serials []*big.Int, thisUpdate, nextUpdate time.Time, edit func(*x509.RevocationList)) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("fakepki: CRL of %q: %w", issuer.Subject.CommonName, err)
	}
	return der, nil
}

// CRLEdit names an edit of a CRL template (see EditedCRL).
type CRLEdit struct {
	// Name says what the edit does.
	Name string
	// Edit changes the template; it needs at least one revoked entry
	// for the entry extensions.
	Edit func(*x509.RevocationList)
}

// The extension OIDs of RFC 5280 the edits use.
var (
	oidDeltaCRLIndicator = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIDP               = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCertIssuer        = asn1.ObjectIdentifier{2, 5, 29, 29}
	oidFreshestCRL       = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidInvalidityDate    = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidPrivate           = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

func crlExt(id asn1.ObjectIdentifier, critical bool) func(*x509.RevocationList) {
	value := []byte{0x30, 0x00} // an empty SEQUENCE
	if id.Equal(oidDeltaCRLIndicator) {
		value = []byte{0x02, 0x01, 0x01} // BaseCRLNumber 1
	}
	return func(l *x509.RevocationList) {
		l.ExtraExtensions = append(l.ExtraExtensions, pkix.Extension{Id: id, Critical: critical, Value: value})
	}
}

func entryExt(id asn1.ObjectIdentifier, critical bool) func(*x509.RevocationList) {
	return func(l *x509.RevocationList) {
		e := &l.RevokedCertificateEntries[0]
		e.ExtraExtensions = append(e.ExtraExtensions, pkix.Extension{Id: id, Critical: critical, Value: []byte{0x30, 0x00}})
	}
}

// IncompleteCRLEdits are edits after which a CRL is not a complete list of
// what its issuer revoked, or carries a critical extension a reader must
// process (RFC 5280 5.2, 5.3): a verifier must refuse such a CRL.
func IncompleteCRLEdits() []CRLEdit {
	return []CRLEdit{
		{"delta CRL indicator, critical", crlExt(oidDeltaCRLIndicator, true)},
		{"delta CRL indicator, not critical", crlExt(oidDeltaCRLIndicator, false)},
		{"issuing distribution point, critical", crlExt(oidIDP, true)},
		{"issuing distribution point, not critical", crlExt(oidIDP, false)},
		{"unknown critical CRL extension", crlExt(oidPrivate, true)},
		{"critical certificate issuer entry extension (indirect CRL)", entryExt(oidCertIssuer, true)},
		{"unknown critical entry extension", entryExt(oidPrivate, true)},
	}
}

// CompleteCRLEdits are edits that leave a complete CRL: only non-critical
// extensions a reader may ignore, and a reason code.
func CompleteCRLEdits() []CRLEdit {
	return []CRLEdit{
		{"no edit", func(*x509.RevocationList) {}},
		{"unknown non-critical CRL extension", crlExt(oidPrivate, false)},
		{"freshest CRL, not critical", crlExt(oidFreshestCRL, false)},
		{"non-critical invalidity date entry extension", entryExt(oidInvalidityDate, false)},
		{"reason code key compromise", func(l *x509.RevocationList) { l.RevokedCertificateEntries[0].ReasonCode = 1 }},
	}
}

// EditedCRLCase is a CRL made with one CRLEdit, and whether a verifier
// must refuse it.
type EditedCRLCase struct {
	// Name is the edit's.
	Name string
	// DER is the signed CRL.
	DER []byte
	// Refuse says the edit is one of IncompleteCRLEdits.
	Refuse bool
}

// EditedCRLs issues, under a fresh SelfSignedCA named issuer, one CRL per
// edit of IncompleteCRLEdits (to be refused) and of CompleteCRLEdits (to
// be accepted), each valid a month from at and revoking serial 7: the
// cases of tests that a CRL parser refuses what does not list everything
// its issuer revoked, and only that.
func EditedCRLs(issuer string, at time.Time) ([]EditedCRLCase, error) {
	ca, key, err := SelfSignedCA(issuer, at)
	if err != nil {
		return nil, err
	}
	var cases []EditedCRLCase
	for _, set := range []struct {
		edits  []CRLEdit
		refuse bool
	}{{IncompleteCRLEdits(), true}, {CompleteCRLEdits(), false}} {
		for _, e := range set.edits {
			der, err := EditedCRL(ca, key, []*big.Int{big.NewInt(7)}, at, at.AddDate(0, 1, 0), e.Edit)
			if err != nil {
				return nil, err
			}
			cases = append(cases, EditedCRLCase{e.Name, der, set.refuse})
		}
	}
	return cases, nil
}

// SelfSignedCA returns a fresh self-signed P-256 CA named cn, valid a
// year from at, and its key: the issuer of tests' CRLs.
func SelfSignedCA(cn string, at time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := CATemplate(1, pkix.Name{CommonName: cn}, at, at.AddDate(1, 0, 0))
	ca, err := Issue(tmpl, tmpl, &key.PublicKey, key)
	return ca, key, err
}

// SelfIssuedCRL issues, under a fresh SelfSignedCA named issuer, a CRL
// dated at that revokes the serials 1..n: the CRLs of tests that bound a
// CRL's entries.
func SelfIssuedCRL(issuer string, n int, at time.Time) ([]byte, error) {
	ca, key, err := SelfSignedCA(issuer, at)
	if err != nil {
		return nil, err
	}
	serials := make([]*big.Int, n)
	for i := range serials {
		serials[i] = big.NewInt(int64(i + 1))
	}
	return CRL(ca, key, serials, at, at.AddDate(0, 1, 0))
}
